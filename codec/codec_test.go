package codec_test

import (
	"fmt"
	"testing"

	"github.com/redisession/redisession/codec"
)

type cart struct {
	Items []string `json:"items" cbor:"items"`
	Total int      `json:"total" cbor:"total"`
}

func TestRoundTrip(t *testing.T) {
	for _, c := range []codec.Codec{codec.JSON{}, codec.CBOR{}} {
		t.Run(fmt.Sprintf("%T", c), func(t *testing.T) {
			in := cart{Items: []string{"a", "b"}, Total: 42}
			b, err := c.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			var out cart
			if err := c.Unmarshal(b, &out); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(in) != fmt.Sprint(out) {
				t.Errorf("round trip: %v != %v", out, in)
			}
			if err := c.Unmarshal([]byte{0xff, 0x00, '{'}, &out); err == nil {
				t.Error("garbage decoded without error")
			}
		})
	}
}

func ExampleJSON() {
	var c codec.Codec = codec.JSON{}
	b, _ := c.Marshal(map[string]int{"visits": 3})
	fmt.Println(string(b))
	// Output: {"visits":3}
}
