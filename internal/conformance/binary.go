package conformance

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// buildTimeout bounds go build of one example.
const buildTimeout = 10 * time.Minute

// Binary builds the command pkg (an import path such as
// github.com/redisession/redisession/examples/nethttp) with the go tool into the test's temporary
// directory and returns a Starter that runs it as a process: the most black-box way, exit code
// included. It skips the test when no go tool is on PATH.
func Binary(t testing.TB, pkg string) Starter {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool on PATH to build", pkg)
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	ctx, cancel := context.WithTimeout(context.Background(), buildTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, gobin, "build", "-o", bin, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return binary{path: bin}
}

type binary struct{ path string }

// command returns the app's process with only env and what a process needs to run (PATH, HOME,
// TMPDIR): nothing of the test's own environment leaks into the app's configuration.
func (b binary) command(env map[string]string, out *output) *exec.Cmd {
	cmd := exec.Command(b.path)
	for _, name := range []string{"PATH", "HOME", "TMPDIR"} {
		if v, ok := os.LookupEnv(name); ok {
			cmd.Env = append(cmd.Env, name+"="+v)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.WaitDelay = stopTimeout
	return cmd
}

func (b binary) Start(t testing.TB, env map[string]string) *Instance {
	t.Helper()
	out := newOutput()
	cmd := b.command(env, out)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", b.path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case url := <-out.url:
		t.Cleanup(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("the app exited with %v after SIGTERM; want 0\n%s", err, out)
				}
			case <-time.After(stopTimeout):
				_ = cmd.Process.Kill()
				t.Errorf("the app did not stop within %v of SIGTERM", stopTimeout)
			}
		})
		return &Instance{URL: url, Output: out.String}
	case err := <-done:
		t.Fatalf("the app exited (%v) instead of starting\n%s", err, out)
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the app printed no URL within %v\n%s", startTimeout, out)
	}
	return nil
}

func (b binary) Refuse(t testing.TB, env map[string]string) string {
	t.Helper()
	out := newOutput()
	cmd := b.command(env, out)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", b.path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() <= 0 {
			t.Fatalf("the app exited with %v; want a non-zero exit code\n%s", err, out)
		}
		return out.String()
	case url := <-out.url:
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the app started on %s; want a refusal\n%s", url, out)
	case <-time.After(startTimeout):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("the app neither started nor exited within %v\n%s", startTimeout, out)
	}
	return ""
}
