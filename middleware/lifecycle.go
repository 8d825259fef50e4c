package middleware

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// logKeyBytes is the size of the random log key a Manager makes when Options.LogKey is empty.
const logKeyBytes = 32

// Lifecycle events, as logged and passed to the hooks.
const (
	eventCreated   = "created"
	eventRotated   = "rotated"
	eventDestroyed = "destroyed"
)

// newLogKey returns Options.LogKey, or a random key for this Manager.
func newLogKey(k []byte) ([]byte, error) {
	if len(k) > 0 {
		return append([]byte(nil), k...), nil
	}
	k = make([]byte, logKeyBytes)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("redisession: reading random bytes: %w", err)
	}
	return k, nil
}

// logName names a session in logs: an HMAC of its handle, itself the SHA-256 of the ID. Log lines
// about one session correlate, but neither the ID nor the Redis key can be read from them.
func (m *Manager) logName(handle string) string {
	if handle == "" {
		return ""
	}
	mac := hmac.New(sha256.New, m.logKey)
	mac.Write([]byte(handle))
	return hex.EncodeToString(mac.Sum(nil)[:12])
}

// emit logs a lifecycle event, counts it and calls its hook.
func (m *Manager) emit(ctx context.Context, kind string, e Event) {
	m.tel.lifecycle(ctx, kind)
	attrs := []slog.Attr{slog.String("session", m.logName(e.Handle))}
	if e.OldHandle != "" {
		attrs = append(attrs, slog.String("previous", m.logName(e.OldHandle)))
	}
	if e.UserID != "" {
		attrs = append(attrs, slog.String("user", e.UserID))
	}
	m.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "redisession: session "+kind, attrs...)
	var hook func(context.Context, Event)
	switch kind {
	case eventCreated:
		hook = m.opts.OnCreate
	case eventRotated:
		hook = m.opts.OnRotate
	case eventDestroyed:
		hook = m.opts.OnDestroy
	}
	if hook != nil {
		hook(ctx, e)
	}
}

// EndUserSessions destroys every session of uid from outside any request: an account disabled,
// deleted or locked out (ASVS 5.0 V7.4.2), or an administrator ending a user's sessions. Each one is
// reported to OnDestroy. It returns how many it destroyed.
func (m *Manager) EndUserSessions(ctx context.Context, uid string) (int, error) {
	handles, err := m.store.DestroyUserHandles(ctx, uid, "")
	for _, h := range handles {
		m.emit(ctx, eventDestroyed, Event{UserID: uid, Handle: h})
	}
	if err != nil {
		m.tel.record(ctx, opDestroy, err)
		return len(handles), fmt.Errorf("%w: %w", ErrCommit, err)
	}
	return len(handles), nil
}
