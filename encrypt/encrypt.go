package encrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the length of an AES-256 key.
const KeySize = 32

const (
	version   = 1
	keyIDSize = 4
	nonceSize = 12
	header    = 1 + keyIDSize + nonceSize
)

// Errors Open returns; neither says which part of a value was wrong.
var (
	// ErrInvalidKey means a key is not 32 bytes or the list is empty.
	ErrInvalidKey = errors.New("redisession/encrypt: keys must be 32 bytes, at least one")
	// ErrDecrypt means a value was tampered with, sealed for another session or field, or sealed
	// with a key that is not in the list.
	ErrDecrypt = errors.New("redisession/encrypt: value does not decrypt")
)

// AEAD seals field values with AES-256-GCM. The associated data binds each ciphertext to its
// session's handle and its field name, so a value copied to another session or field does not
// decrypt. The first key seals; all keys open, so keys rotate by putting the new key first and
// dropping the old one once every session sealed with it has expired.
type AEAD struct {
	keys []sealer
}

type sealer struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// New returns an AEAD for keys, each 32 random bytes, newest first.
func New(keys ...[]byte) (*AEAD, error) {
	if len(keys) == 0 {
		return nil, ErrInvalidKey
	}
	a := &AEAD{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("%w: key %d has %d bytes", ErrInvalidKey, i, len(k))
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
		}
		g, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidKey, err)
		}
		// A key id lets Open pick the key at once; it is a hash, so it reveals nothing of the key.
		sum := sha256.Sum256(append([]byte("redisession key id\x00"), k...))
		var s sealer
		copy(s.id[:], sum[:keyIDSize])
		s.aead = g
		a.keys = append(a.keys, s)
	}
	return a, nil
}

func associated(handle, field string) []byte {
	ad := make([]byte, 0, len(handle)+1+len(field))
	ad = append(ad, handle...)
	ad = append(ad, 0)
	return append(ad, field...)
}

// Seal encrypts plaintext for one field of one session: version, key id, random nonce, ciphertext.
func (a *AEAD) Seal(handle, field string, plaintext []byte) ([]byte, error) {
	k := a.keys[0]
	out := make([]byte, header, header+len(plaintext)+k.aead.Overhead())
	out[0] = version
	copy(out[1:], k.id[:])
	if _, err := rand.Read(out[1+keyIDSize : header]); err != nil {
		return nil, fmt.Errorf("redisession/encrypt: nonce: %w", err)
	}
	return k.aead.Seal(out, out[1+keyIDSize:header], plaintext, associated(handle, field)), nil
}

// Open decrypts a value Seal produced for the same handle and field. Anything else is ErrDecrypt,
// never a panic.
func (a *AEAD) Open(handle, field string, sealed []byte) ([]byte, error) {
	if len(sealed) < header || sealed[0] != version {
		return nil, ErrDecrypt
	}
	for _, k := range a.keys {
		if [keyIDSize]byte(sealed[1:1+keyIDSize]) != k.id {
			continue
		}
		p, err := k.aead.Open(nil, sealed[1+keyIDSize:header], sealed[header:], associated(handle, field))
		if err != nil {
			return nil, ErrDecrypt
		}
		return p, nil
	}
	return nil, ErrDecrypt
}
