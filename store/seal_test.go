package store_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/redisession/redisession/encrypt"
	"github.com/redisession/redisession/internal/redistest"
	"github.com/redisession/redisession/store"
)

func encryptedEnv(t *testing.T) *env {
	t.Helper()
	aead, err := encrypt.New(bytes.Repeat([]byte{9}, encrypt.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return newEnv(t, store.Options{SkipChecks: true, Sealer: aead, Encrypted: []string{"card", "ssn"}}, redistest.Options{AllowFake: true})
}

func TestEncryptedFieldsHoldNoPlaintextInRedis(t *testing.T) {
	e := encryptedEnv(t)
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Meta: store.Meta{UserID: "ivy"}, Fields: map[string]string{"card": `"4111-CARD"`, "theme": `"dark"`}})
	if _, err := e.store.Commit(ctx, id, store.Changes{Set: map[string]string{"ssn": `"078-05-SSN"`}}); err != nil {
		t.Fatal(err)
	}
	raw := e.rdb.HGetAll(ctx, "session:"+store.Handle(id)).Val()
	for k, v := range raw {
		if strings.Contains(v, "CARD") || strings.Contains(v, "SSN") {
			t.Errorf("field %s holds plaintext %q", k, v)
		}
	}
	if raw["theme"] != `"dark"` {
		t.Errorf("an unencrypted field was changed: %q", raw["theme"])
	}
	r := e.load(t, id)
	if r.Fields["card"] != `"4111-CARD"` || r.Fields["ssn"] != `"078-05-SSN"` {
		t.Errorf("decrypted fields = %v", r.Fields)
	}
	// The rotated session's values are resealed for its new handle.
	newID, _, err := e.store.Rotate(ctx, id, store.NewSession{Meta: store.Meta{UserID: "ivy"}}, store.Changes{})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.load(t, newID).Fields["card"]; got != `"4111-CARD"` {
		t.Errorf("card after rotation = %q", got)
	}
}

func TestEncryptedValueCopiedElsewhereDoesNotDecrypt(t *testing.T) {
	e := encryptedEnv(t)
	ctx := ctxT(t)
	a := e.create(t, store.NewSession{Fields: map[string]string{"card": `"A"`}})
	b := e.create(t, store.NewSession{Fields: map[string]string{"card": `"B"`}})
	stolen := e.rdb.HGet(ctx, "session:"+store.Handle(a), "card").Val()
	e.rdb.HSet(ctx, "session:"+store.Handle(b), "card", stolen)
	if _, err := e.store.Load(ctx, b); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("a value copied to another session: Load = %v, want ErrCorrupt", err)
	}
	e.rdb.HSet(ctx, "session:"+store.Handle(a), "ssn", stolen)
	if _, err := e.store.Load(ctx, a); !errors.Is(err, store.ErrCorrupt) {
		t.Errorf("a value copied to another field: Load = %v, want ErrCorrupt", err)
	}
}

func TestEncryptedFieldCompareAndSetAndIncrement(t *testing.T) {
	e := encryptedEnv(t)
	ctx := ctxT(t)
	id := e.create(t, store.NewSession{Fields: map[string]string{"card": `"1"`}})
	r := e.load(t, id)
	old, _ := r.Raw("card")
	now, err := e.store.CompareAndSet(ctx, id, "card", &old, ptr(`"2"`))
	if err != nil {
		t.Fatal(err)
	}
	if *now == `"2"` {
		t.Error("CompareAndSet returned the plaintext, not the stored ciphertext")
	}
	if _, err := e.store.CompareAndSet(ctx, id, "card", &old, ptr(`"3"`)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("CAS with a stale ciphertext = %v", err)
	}
	if v, err := e.store.Open(r.Handle, "card", *now); err != nil || v != `"2"` {
		t.Errorf("Open = %q, %v", v, err)
	}
	if _, err := e.store.Commit(ctx, id, store.Changes{Incr: map[string]int64{"card": 1}}); !errors.Is(err, store.ErrInvalidChanges) {
		t.Errorf("increment of an encrypted field = %v", err)
	}
}
