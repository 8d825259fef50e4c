package conformance

import (
	"context"
	"io"
	"testing"
	"time"
)

// Generous bounds: the suite runs on small, busy machines.
const (
	startTimeout = 60 * time.Second
	stopTimeout  = 30 * time.Second
)

// RunFunc is an example's entry point: it serves until ctx ends, reading its configuration through
// getenv and printing a line with its http:// URL on stdout once it listens, and returns nil after a
// clean shutdown or the reason it could not start.
type RunFunc func(ctx context.Context, getenv func(string) string, stdout, stderr io.Writer) error

// Starter starts an example app with a given environment; variables not in env are unset.
type Starter interface {
	// Start starts the app and returns once it listens. The app stops when the test ends.
	Start(t testing.TB, env map[string]string) *Instance
	// Refuse starts the app expecting it to refuse to start, fails the test if it listens or exits
	// cleanly, and returns everything it said (the error and its output).
	Refuse(t testing.TB, env map[string]string) string
}

// Instance is one running app.
type Instance struct {
	// URL is the app's base URL, without a trailing slash.
	URL string
	// Output returns what the app printed so far, stdout and stderr interleaved.
	Output func() string
}

// InProcess returns a Starter that runs run in a goroutine of the test binary.
func InProcess(run RunFunc) Starter { return inProcess{run: run} }

type inProcess struct{ run RunFunc }

func (p inProcess) Start(t testing.TB, env map[string]string) *Instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := newOutput()
	done := make(chan error, 1)
	go func() { done <- p.run(ctx, lookup(env), out, out) }()
	select {
	case url := <-out.url:
		t.Cleanup(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("the app stopped with an error: %v\n%s", err, out)
				}
			case <-time.After(stopTimeout):
				t.Errorf("the app did not stop within %v", stopTimeout)
			}
		})
		return &Instance{URL: url, Output: out.String}
	case err := <-done:
		cancel()
		t.Fatalf("the app did not start: %v\n%s", err, out)
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("the app printed no URL within %v\n%s", startTimeout, out)
	}
	return nil
}

func (p inProcess) Refuse(t testing.TB, env map[string]string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := newOutput()
	done := make(chan error, 1)
	go func() { done <- p.run(ctx, lookup(env), out, out) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("the app returned without an error; want a refusal\n%s", out)
		}
		return err.Error() + "\n" + out.String()
	case url := <-out.url:
		cancel()
		<-done
		t.Fatalf("the app started on %s; want a refusal\n%s", url, out)
	case <-time.After(startTimeout):
		cancel()
		t.Fatalf("the app neither started nor refused within %v\n%s", startTimeout, out)
	}
	return ""
}

// lookup is getenv over env alone.
func lookup(env map[string]string) func(string) string {
	return func(name string) string { return env[name] }
}
