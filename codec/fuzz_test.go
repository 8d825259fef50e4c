package codec_test

import (
	"testing"

	"github.com/redisession/redisession/codec"
)

// FuzzDecode feeds arbitrary stored bytes to both codecs: a corrupt or hostile field value must be an
// error, never a panic or a runaway allocation.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{`"x"`, `{"items":["a"],"total":1}`, `[1,2,3]`, "\xa2\x65items\x81\x61a\x65total\x01", "\x9f\x9f\x9f", "\xbf\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []codec.Codec{codec.JSON{}, codec.CBOR{}} {
			var anyV any
			_ = c.Unmarshal(data, &anyV)
			var typed cart
			_ = c.Unmarshal(data, &typed)
			var m map[string][]int
			_ = c.Unmarshal(data, &m)
		}
	})
}
