// Package codec holds the encodings a session field's value can be stored in: JSON (the default) and
// CBOR. Each field is encoded on its own, so a request that changes one field writes one field.
package codec
