package conformance

import (
	"testing"
	"time"
)

// testDefaultTimeouts: with no timeout variables, a session lives 30 minutes idle.
func (s *suite) testDefaultTimeouts(t *testing.T) {
	h := s.start(t, nil)
	c := h.client("conformance defaults")
	id := c.login("alice")
	if d := h.pttl(h.sessionKey(id)); d <= 29*time.Minute || d > 30*time.Minute {
		t.Errorf("PTTL %v; want the default idle timeout, 30m", d)
	}
}

// testIdleTimeout: use slides the idle timeout; a session left alone longer than it is gone.
func (s *suite) testIdleTimeout(t *testing.T) {
	// 4s of idle time against reads every second: 3s of slack for a loaded machine.
	h := s.start(t, map[string]string{"SESSION_IDLE_TIMEOUT": "4s", "SESSION_ABSOLUTE_TIMEOUT": "1h"})
	c := h.client("conformance idle")
	id := c.login("alice")
	if d := h.pttl(h.sessionKey(id)); d <= 0 || d > 4*time.Second {
		t.Errorf("PTTL %v; want at most the 4s idle timeout", d)
	}
	// Reads every second for longer than the idle timeout keep the session alive.
	for range 5 {
		time.Sleep(time.Second)
		if !c.session().Authenticated {
			t.Fatal("a session in use expired within its idle timeout")
		}
	}
	time.Sleep(6 * time.Second)
	if c.session().Authenticated {
		t.Error("a session idle for longer than its idle timeout is still alive")
	}
	if h.exists(h.sessionKey(id)) {
		t.Error("the idle session's key still exists")
	}
}

// testAbsoluteTimeout: however much it is used, a session ends at its absolute deadline.
func (s *suite) testAbsoluteTimeout(t *testing.T) {
	h := s.start(t, map[string]string{"SESSION_IDLE_TIMEOUT": "1h", "SESSION_ABSOLUTE_TIMEOUT": "4s"})
	c := h.client("conformance absolute")
	id := c.login("alice")
	if d := h.pttl(h.sessionKey(id)); d <= 0 || d > 4*time.Second {
		t.Errorf("PTTL %v; want at most the 4s absolute timeout", d)
	}
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline.Add(1500 * time.Millisecond)) {
		alive := c.session().Authenticated
		if !alive && time.Now().Before(deadline.Add(-2*time.Second)) {
			t.Fatal("the session ended well before its absolute deadline")
		}
		time.Sleep(500 * time.Millisecond)
	}
	if c.session().Authenticated {
		t.Error("a session in constant use outlived its absolute timeout")
	}
}
