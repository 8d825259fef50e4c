package encrypt_test

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/redisession/redisession/encrypt"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, encrypt.KeySize) }

func TestSealOpen(t *testing.T) {
	a, err := encrypt.New(key(1))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := a.Seal("h1", "card", []byte("4111 1111"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("4111")) {
		t.Fatal("plaintext visible in the sealed value")
	}
	got, err := a.Open("h1", "card", sealed)
	if err != nil || string(got) != "4111 1111" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	again, _ := a.Seal("h1", "card", []byte("4111 1111"))
	if bytes.Equal(again, sealed) {
		t.Error("two seals of one value are equal: nonces repeat")
	}
}

func TestOpenRefuses(t *testing.T) {
	a, _ := encrypt.New(key(1))
	other, _ := encrypt.New(key(2))
	sealed, _ := a.Seal("h1", "card", []byte("secret"))
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	for _, tc := range []struct {
		name          string
		a             *encrypt.AEAD
		handle, field string
		value         []byte
	}{
		{"another session", a, "h2", "card", sealed},
		{"another field", a, "h1", "pin", sealed},
		{"wrong key", other, "h1", "card", sealed},
		{"tampered", a, "h1", "card", tampered},
		{"truncated", a, "h1", "card", sealed[:10]},
		{"empty", a, "h1", "card", nil},
		{"plaintext", a, "h1", "card", []byte(`"secret"`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.a.Open(tc.handle, tc.field, tc.value); !errors.Is(err, encrypt.ErrDecrypt) {
				t.Fatalf("Open = %v, want ErrDecrypt", err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	old, _ := encrypt.New(key(1))
	sealedOld, _ := old.Seal("h", "f", []byte("v"))
	rotated, err := encrypt.New(key(2), key(1))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := rotated.Open("h", "f", sealedOld); err != nil || string(got) != "v" {
		t.Fatalf("new list opening an old value: %q, %v", got, err)
	}
	sealedNew, _ := rotated.Seal("h", "f", []byte("v"))
	if _, err := old.Open("h", "f", sealedNew); !errors.Is(err, encrypt.ErrDecrypt) {
		t.Fatal("the first key of the new list did not seal")
	}
}

func TestNewRefusesBadKeys(t *testing.T) {
	for _, keys := range [][][]byte{nil, {key(1)[:16]}, {key(1), make([]byte, 33)}} {
		if _, err := encrypt.New(keys...); !errors.Is(err, encrypt.ErrInvalidKey) {
			t.Errorf("New(%d keys) = %v", len(keys), err)
		}
	}
}

func FuzzOpen(f *testing.F) {
	a, _ := encrypt.New(key(1))
	s, _ := a.Seal("h", "f", []byte("v"))
	f.Add(s)
	f.Add([]byte{1, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = a.Open("h", "f", data)
	})
}

func ExampleAEAD() {
	a, _ := encrypt.New(bytes.Repeat([]byte{7}, 32)) // use 32 random bytes from a secret store
	sealed, _ := a.Seal("session-handle", "card", []byte("4111 1111 1111 1111"))
	plain, _ := a.Open("session-handle", "card", sealed)
	_, err := a.Open("another-session", "card", sealed)
	fmt.Println(string(plain), errors.Is(err, encrypt.ErrDecrypt))
	// Output: 4111 1111 1111 1111 true
}
