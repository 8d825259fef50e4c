package main

import (
	"fmt"
	"io"
	"os"
	"time"
)

// progressEvery is the least time between two progress updates.
const progressEvery = 100 * time.Millisecond

// progress shows a running count on a terminal while a scan walks the keyspace. On anything else
// (a pipe, a file, a test's buffer) it prints nothing, so logs and JSON consumers never see it.
type progress struct {
	w     io.Writer // nil when w is not a terminal
	what  string
	last  time.Time
	shown bool
}

// newProgress returns a progress indicator writing to w when w is a terminal.
func newProgress(w io.Writer, what string) *progress {
	if !isTerminal(w) {
		w = nil
	}
	return &progress{w: w, what: what}
}

// update shows that n items were scanned, at most every progressEvery.
func (p *progress) update(n int) {
	if p.w == nil || time.Since(p.last) < progressEvery {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\r%s: %d scanned…", p.what, n)
}

// done erases the indicator line.
func (p *progress) done() {
	if p.shown {
		fmt.Fprint(p.w, "\r\033[K")
	}
}

// isTerminal reports whether w is a character device, such as a terminal, rather than a file or pipe.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
