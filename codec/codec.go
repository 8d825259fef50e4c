package codec

import (
	"encoding/json"

	"github.com/fxamacker/cbor/v2"
)

// Codec turns one field's value into the bytes stored in its hash field, and back. Each field is
// encoded on its own, which is what lets a commit write only the fields that changed.
type Codec interface {
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value dst points to.
	Unmarshal(data []byte, dst any) error
}

// JSON is the default codec: encoding/json, readable in redis-cli, and what every language can
// decode.
type JSON struct{}

// Marshal encodes v as JSON.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into dst.
func (JSON) Unmarshal(data []byte, dst any) error { return json.Unmarshal(data, dst) }

// CBOR is a compact binary codec (RFC 8949) built on github.com/fxamacker/cbor/v2, which bounds
// nesting depth and container sizes when decoding, so a corrupt value cannot exhaust memory.
type CBOR struct{}

// Marshal encodes v as CBOR.
func (CBOR) Marshal(v any) ([]byte, error) { return cbor.Marshal(v) }

// Unmarshal decodes CBOR data into dst.
func (CBOR) Unmarshal(data []byte, dst any) error { return cbor.Unmarshal(data, dst) }
