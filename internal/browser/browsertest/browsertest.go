// Package browsertest is what every real-browser test does first: find
// the tools, or skip, or fail, as browser.RequireEnv says.
package browsertest

import (
	"os"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
)

// Tools returns the browser tools (Chromium from browser.BrowserEnv or
// PATH, certutil, pk12util). It skips the test when they are missing or
// in -short mode, unless browser.RequireEnv is "require" (CI), which
// makes a missing tool a failure; "skip" skips the test, and any other
// value fails it, so that a typo cannot skip a required run silently.
func Tools(tb testing.TB) browser.Tools {
	tb.Helper()
	var required bool
	switch v := os.Getenv(browser.RequireEnv); v {
	case "":
	case "require":
		required = true
	case "skip":
		tb.Skipf("browser test skipped: %s=skip", browser.RequireEnv)
	default:
		tb.Fatalf("%s=%q: want \"require\", \"skip\" or nothing", browser.RequireEnv, v)
	}
	if testing.Short() && !required {
		tb.Skip("browser test skipped in -short mode")
	}
	tools, err := browser.FindTools(os.Getenv(browser.BrowserEnv))
	if err != nil {
		if required {
			tb.Fatalf("%v (%s=require)", err, browser.RequireEnv)
		}
		tb.Skipf("%v; %s", err, browser.InstallHint)
	}
	return tools
}
