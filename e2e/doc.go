// Package e2e drives a real Chromium that holds a TLS client certificate, so
// that tests can show what the browser actually sends when a page forges a
// request, instead of trusting hand-written headers.
//
// A [Browser] runs headless Chromium with a throwaway HOME and profile: an
// NSS database that trusts a test CA and holds a client certificate
// (imported from PKCS#12 with certutil and pk12util), and a Preferences
// file that selects that certificate automatically for chosen origins and
// allows third-party cookies (the worst case for a defender). Every browser
// action runs under a deadline, so a certificate picker that would wait for
// a click fails the test within seconds instead of hanging it.
//
// Three records tell a test what happened, each one it can wait on:
//
//   - the browser's own: [Browser.WaitSent] returns a [Sent], the request
//     as Chromium's network stack put it on the wire (Origin, Sec-Fetch-*,
//     cookies), from the DevTools protocol;
//   - a Go server's: [Recorder] is net/http middleware that records what
//     arrived (Origin, Sec-Fetch-*, cookie names, the client certificate's
//     common name) and the status answered;
//   - the forgeproof gateway's: [AccessLog] is a slog.Handler that keeps
//     the gateway's access log (decision, reason code, identity).
//
// The tests of this package attack the demo (package demo) with every
// forgery a page can make a browser send, from another site and from the
// same site, with CSRF protection on and, as the negative control, off;
// the bank's balances are the oracle.
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
// variable FORGEPROOF_E2E is "require": then a missing tool fails them.
package e2e
