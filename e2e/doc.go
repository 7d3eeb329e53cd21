// Package e2e holds forgeproof's real-browser tests: a real Chromium that
// holds a TLS client certificate attacks the demo (internal/demo) with
// every forgery a page can make a browser send, from another site and from
// the same site, with CSRF protection on and, as the negative control, off;
// the bank's balances are the oracle. The harness that drives the browser
// is internal/browser. The package has no API: only tests.
//
// # Running the tests
//
// The tests need chromium (not chromium-headless-shell, which never sends a
// client certificate), certutil and pk12util; on Debian:
//
//	apt-get install -y chromium libnss3-tools
//	FORGEPROOF_E2E=require go test ./e2e/
//
// Without the tools the tests skip with a message, unless the environment
// variable FORGEPROOF_E2E is "require": then a missing tool fails them
// ("skip" skips them even where the tools are installed).
// FORGEPROOF_E2E_BROWSER names the Chromium binary to use.
//
// # Screenshots
//
// TestDemoScreenshots writes the demo's screenshots in docs/images (shown
// in docs/demo.md), checking what each page says first. It runs only
// with FORGEPROOF_SCREENSHOTS=1, never in CI:
//
//	FORGEPROOF_SCREENSHOTS=1 go test -run TestDemoScreenshots ./e2e/
package e2e
