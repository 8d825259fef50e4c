package store_test

import (
	"encoding/base64"
	"testing"

	"github.com/redisession/redisession/store"
)

func TestIDsAre256RandomBitsAndUnique(t *testing.T) {
	const n = 20000
	seen := make(map[string]bool, n)
	var ones, bits int
	for range n {
		id, err := store.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if !store.ValidID(id) || seen[id] {
			t.Fatalf("id %q invalid or repeated", id)
		}
		seen[id] = true
		b, err := base64.RawURLEncoding.DecodeString(id)
		if err != nil || len(b) != store.IDBytes {
			t.Fatalf("id decodes to %d bytes (%v)", len(b), err)
		}
		for _, c := range b {
			for i := range 8 {
				ones += int(c>>i) & 1
			}
		}
		bits += 8 * len(b)
	}
	// A fair source gives half ones; 5.12M bits put 0.5 ± 0.002 far beyond 5 standard deviations.
	if r := float64(ones) / float64(bits); r < 0.498 || r > 0.502 {
		t.Errorf("share of one bits = %.4f, want about 0.5", r)
	}
}

func TestHandleIsNotShapedLikeAnID(t *testing.T) {
	id, _ := store.NewID()
	h := store.Handle(id)
	if store.ValidID(h) || len(h) != 64 {
		t.Errorf("handle %q: len %d, ValidID %v", h, len(h), store.ValidID(h))
	}
}
