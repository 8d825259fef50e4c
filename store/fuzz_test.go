package store

import (
	"encoding/binary"
	"strings"
	"testing"
)

// replyFromBytes builds a script reply shaped value from fuzz input: a list of int64, string and nil
// elements, possibly nested once, as go-redis hands them over.
func replyFromBytes(data []byte) any {
	if len(data) == 0 {
		return nil
	}
	if data[0]%7 == 0 {
		return string(data[1:]) // not an array at all
	}
	var out []any
	for len(data) > 0 {
		tag := data[0]
		data = data[1:]
		switch tag % 4 {
		case 0:
			var b [8]byte
			n := copy(b[:], data)
			data = data[n:]
			out = append(out, int64(binary.LittleEndian.Uint64(b[:])))
		case 1:
			n := min(int(tag>>2), len(data))
			out = append(out, string(data[:n]))
			data = data[n:]
		case 2:
			out = append(out, nil)
		case 3:
			out = append(out, []any{int64(tag)})
		}
	}
	return out
}

func FuzzParseReply(f *testing.F) {
	for _, seed := range [][]byte{{}, {0, 1, 0, 0, 0, 0, 0, 0, 0}, {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, {1}, {2, 2}, {3}, {7, 'x'}, {0, 2, 0, 0, 0, 0, 0, 0, 0, 0x11, 'a', 'b', 'c', 'd'}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v := replyFromBytes(data)
		rep, err := parseReply(v)
		if err != nil {
			return
		}
		_ = rep.statusErr()
		for i := range len(rep) + 1 {
			_, _ = rep.int(i)
			_, _ = rep.str(i)
		}
	})
}

func FuzzParseRecord(f *testing.F) {
	f.Add("_created=1\n_abs=2\n_idle=3\n_exp=4\n_seen=5\n_uid=u\nname=\"v\"")
	f.Add("_abs=x")
	f.Add("")
	f.Add("=\n=\n_n=-1")
	f.Fuzz(func(t *testing.T, s string) {
		h := map[string]string{}
		for _, line := range strings.Split(s, "\n") {
			k, v, _ := strings.Cut(line, "=")
			h[k] = v
		}
		r, err := parseRecord("h", h)
		if err != nil {
			return
		}
		for k := range r.Fields {
			if strings.HasPrefix(k, ReservedPrefix) {
				t.Fatalf("reserved field %q leaked into application fields", k)
			}
		}
	})
}
