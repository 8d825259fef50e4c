package conformance

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
)

// urlPattern finds the URL an app prints once it listens.
var urlPattern = regexp.MustCompile(`http://[^\s/]+`)

// output collects an app's stdout and stderr and announces the first http:// URL once, on url.
type output struct {
	mu   sync.Mutex
	buf  bytes.Buffer
	seen bool
	url  chan string
}

func newOutput() *output { return &output{url: make(chan string, 1)} }

// Write records p and looks for the URL in the complete lines so far.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	if !o.seen {
		text := o.buf.String()
		if i := strings.LastIndexByte(text, '\n'); i >= 0 {
			for line := range strings.Lines(text[:i+1]) {
				if u := urlPattern.FindString(line); u != "" {
					o.seen = true
					o.url <- u
					break
				}
			}
		}
	}
	return len(p), nil
}

// String returns everything written so far.
func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}
