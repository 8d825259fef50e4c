package main

import (
	"testing"

	"github.com/redisession/redisession/internal/conformance"
)

// TestBrowser drives the page in headless Chromium: sign in, set a field, revoke a device, log out.
func TestBrowser(t *testing.T) {
	conformance.Browser(t, conformance.InProcess(run), conformance.BrowserOptions{})
}
