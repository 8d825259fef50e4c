package main

import (
	"testing"

	"github.com/redisession/redisession/internal/conformance"
)

// TestBrowser drives the page in headless Chromium; UPDATE_SCREENSHOT=1 rewrites docs/screenshot.png.
func TestBrowser(t *testing.T) {
	conformance.Browser(t, conformance.InProcess(run), conformance.BrowserOptions{Screenshot: "../../docs/screenshot.png"})
}
