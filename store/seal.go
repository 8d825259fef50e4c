package store

import (
	"fmt"
	"slices"
)

// Sealer encrypts and decrypts the values of the fields named in Options.Encrypted; encrypt.AEAD is
// one. The handle and field name must be bound into the ciphertext (associated data) so that a value
// copied to another session or field fails to open.
type Sealer interface {
	// Seal encrypts plaintext for field of the session with the given handle.
	Seal(handle, field string, plaintext []byte) ([]byte, error)
	// Open decrypts what Seal produced for the same handle and field, and fails on anything else.
	Open(handle, field string, sealed []byte) ([]byte, error)
}

func (s *Store) encrypted(field string) bool {
	return s.opts.Sealer != nil && slices.Contains(s.opts.Encrypted, field)
}

// seal returns the stored representation of v for field of the session handle.
func (s *Store) seal(handle, field, v string) (string, error) {
	if !s.encrypted(field) {
		return v, nil
	}
	b, err := s.opts.Sealer.Seal(handle, field, []byte(v))
	if err != nil {
		return "", fmt.Errorf("redisession/store: sealing %q: %w", truncate(field), err)
	}
	return string(b), nil
}

// Open returns the value behind the stored representation raw of field in the session handle: raw
// itself unless the field is encrypted. CompareAndSet deals in stored representations; Open turns
// the current one it returns into the value.
func (s *Store) Open(handle, field, raw string) (string, error) {
	if !s.encrypted(field) {
		return raw, nil
	}
	b, err := s.opts.Sealer.Open(handle, field, []byte(raw))
	if err != nil {
		return "", fmt.Errorf("%w: field %q does not decrypt: %w", ErrCorrupt, truncate(field), err)
	}
	return string(b), nil
}

// openRecord replaces the encrypted fields of r by their values, keeping what Redis holds for
// compare-and-set.
func (s *Store) openRecord(r *Record) error {
	if s.opts.Sealer == nil {
		return nil
	}
	for _, f := range s.opts.Encrypted {
		raw, ok := r.Fields[f]
		if !ok {
			continue
		}
		v, err := s.Open(r.Handle, f, raw)
		if err != nil {
			return err
		}
		if r.raw == nil {
			r.raw = map[string]string{}
		}
		r.raw[f], r.Fields[f] = raw, v
	}
	return nil
}

// Raw returns what Redis holds for field: the value itself, or its ciphertext for an encrypted field.
// CompareAndSet compares against it.
func (r *Record) Raw(field string) (string, bool) {
	if v, ok := r.raw[field]; ok {
		return v, true
	}
	v, ok := r.Fields[field]
	return v, ok
}

// SetRaw records that field now holds value, stored as raw (what CompareAndSet returned).
func (r *Record) SetRaw(field, value, raw string) {
	r.Fields[field] = value
	if raw != value {
		if r.raw == nil {
			r.raw = map[string]string{}
		}
		r.raw[field] = raw
	} else {
		delete(r.raw, field)
	}
}
