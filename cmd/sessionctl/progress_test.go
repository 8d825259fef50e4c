package main

import (
	"bytes"
	"os"
	"testing"
)

func TestProgressOnlyOnATerminal(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, "scan")
	p.update(1000)
	p.done()
	if buf.Len() != 0 {
		t.Errorf("progress written to a buffer: %q", buf.String())
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe taken for a terminal")
	}
	// A terminal gets a running count on one line, erased at the end.
	p = &progress{w: &buf, what: "scan"}
	p.update(1000)
	p.done()
	if got := buf.String(); got != "\rscan: 1000 scanned…\r\033[K" {
		t.Errorf("terminal progress = %q", got)
	}
}
