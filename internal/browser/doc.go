// Package browser drives a real Chromium that holds a TLS client
// certificate, so that tests can show what the browser actually sends when
// a page forges a request, instead of trusting hand-written headers. It is
// the harness of the real-browser tests in ./e2e; it is internal so that
// a library user's module never needs chromedp.
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
// See ./e2e for how to run the browser tests ([RequireEnv], [BrowserEnv]).
package browser
