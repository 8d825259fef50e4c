package conformance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/redisession/redisession/internal/redistest"
)

// browserTimeout bounds each step in the browser.
const browserTimeout = 60 * time.Second

// secondDeviceAgent is the User-Agent of the device the browser test revokes.
const secondDeviceAgent = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"

// UpdateScreenshotEnv is the environment variable that, set to 1, makes Browser write its screenshot
// to BrowserOptions.Screenshot.
const UpdateScreenshotEnv = "UPDATE_SCREENSHOT"

// BrowserOptions configure Browser.
type BrowserOptions struct {
	// Screenshot is the PNG file that receives a screenshot of the page (signed in, with fields and
	// two devices) when UPDATE_SCREENSHOT=1; e.g. docs/screenshot.png. The screenshot always goes to
	// the test's artifact directory (go test -artifacts).
	Screenshot string
}

// Browser drives the HTML page in headless Chromium against the app st starts: it signs in, sets a
// field, adds to a counter, sees two devices in the list (a second cookie jar signed in first),
// revokes the other one and logs out, checking the server side of each step. Script errors and
// Content-Security-Policy violations on the page fail the test. Without Chromium the test is skipped,
// unless redistest.Required (CI), where it fails.
func Browser(t *testing.T, st Starter, opts BrowserOptions) {
	exe := findChromium()
	if exe == "" {
		if redistest.Required() {
			t.Fatal("chromium not found on PATH; CI requires it (apt-get install -y chromium)")
		}
		t.Skip("chromium not found on PATH (apt-get install -y chromium)")
	}
	h := startOn(t, st, single.start(t, redistest.Options{}), nil)
	other := h.client(secondDeviceAgent)
	other.login("alice")

	ctx, problems := newBrowser(t, exe)
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, browserTimeout)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	css := func(sel string) chromedp.CSS { return chromedp.CSS(sel) }

	do("open the page", chromedp.Navigate(h.app.URL+"/"), chromedp.WaitVisible(css("#login-form")))
	do("sign in",
		chromedp.SendKeys(css("#login-user"), "alice"),
		chromedp.Click(css("#login-submit")),
		chromedp.WaitVisible(css("#account")))
	do("set a field",
		chromedp.SendKeys(css("#set-key"), "theme"),
		chromedp.SendKeys(css("#set-value"), "dark"),
		chromedp.Click(css("#set-submit")),
		chromedp.WaitVisible(css(`tr[data-field="theme"]`)))
	do("add to a counter", chromedp.Click(css("#incr-submit")), chromedp.WaitVisible(css(`tr[data-field="visits"]`)))

	devices := run(t, ctx, "count the devices", chromedp.Evaluate[int](`document.querySelectorAll("tr.device").length`))
	list := run(t, ctx, "read the device list", chromedp.Text(css("#devices")))
	if devices != 2 || !strings.Contains(list, "iPhone") || !strings.Contains(list, "this device") {
		t.Fatalf("the device list shows %d devices:\n%s\nwant this browser and the iPhone", devices, list)
	}
	do("size the page", chromedp.EmulateViewport(1100, 820))
	saveScreenshot(t, run(t, ctx, "take a screenshot", chromedp.FullScreenshot(100)), opts.Screenshot)

	do("revoke the other device",
		chromedp.Click(css(`tr.device:not(.current) button.revoke`)),
		chromedp.WaitNotPresent(css(`tr.device:not(.current)`)),
		chromedp.WaitVisible(css("#devices")))
	if other.session().Authenticated {
		t.Error("the revoked device is still signed in")
	}

	do("log out", chromedp.Click(css("#logout")), chromedp.WaitVisible(css("#login-form")))
	cookies := run(t, ctx, "read the cookies", func(ctx context.Context, tg *chromedp.Target) ([]*network.Cookie, error) {
		res, err := cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{h.app.URL + "/"}})
		if err != nil {
			return nil, err
		}
		return res.Cookies, nil
	})
	for _, c := range cookies {
		if isSessionCookie(c.Name) {
			t.Errorf("the browser still holds a session cookie after logout")
		}
	}
	if keys := h.keys("session:*"); len(keys) != 0 {
		t.Errorf("sessions left in Redis after revoke and logout: %v", keys)
	}
	for _, p := range problems() {
		t.Errorf("the page reported: %s", p)
	}
}

// run runs one browser action that returns a value, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, browserTimeout)
	defer cancel()
	v, err := chromedp.Run(sctx, a)
	if err != nil {
		t.Fatalf("%s: %v", step, err)
	}
	return v
}

// findChromium returns the path of a Chromium or Chrome executable, or "".
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// newBrowser launches a headless Chromium with a fresh profile that reaches nothing but the app, and
// returns its context and a function listing the script errors and error log entries the page
// produced. The browser is closed when the test ends.
func newBrowser(t *testing.T, exe string) (context.Context, func() []string) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1100, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	// Start the browser and open the tab now, without a deadline (one would end the browser), so
	// that a launch failure is reported as such and the listener misses no event.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("launching %s: %v", exe, err)
	}
	var mu sync.Mutex
	var problems []string
	err := chromedp.Listen(ctx, func(ev any) {
		var p string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			p = "exception: " + ev.ExceptionDetails.Text
			if ev.ExceptionDetails.Exception != nil {
				p += " " + ev.ExceptionDetails.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError && !strings.HasSuffix(ev.Entry.URL, "/favicon.ico") {
				p = fmt.Sprintf("%s %s: %s", ev.Entry.Source, ev.Entry.URL, ev.Entry.Text)
			}
		}
		if p != "" {
			mu.Lock()
			problems = append(problems, p)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatalf("listening to the page: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), problems...)
	}
}

// saveScreenshot keeps png in the test's artifact directory and, with UPDATE_SCREENSHOT=1, in path.
func saveScreenshot(t *testing.T, png []byte, path string) {
	if err := os.WriteFile(filepath.Join(t.ArtifactDir(), "page.png"), png, 0o644); err != nil {
		t.Errorf("saving the screenshot: %v", err)
	}
	if path == "" || os.Getenv(UpdateScreenshotEnv) != "1" {
		return
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}
