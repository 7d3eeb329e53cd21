// Package csrfbench compares forgeproof's csrf middleware with the
// libraries a Go developer would pick instead, on the same requests in one
// `go test -bench` run. It has no API: everything is in its tests.
//
// Two groups, because the libraries do two different jobs:
//
//   - Origin (no tokens): forgeproof's csrf.Protection in its default
//     origin-only mode, net/http's CrossOriginProtection and
//     filippo.io/csrf. Cases: a same-origin POST from a modern browser
//     (Sec-Fetch-Site and Origin), a POST from a browser that sends only
//     Origin, and a cross-site POST, refused.
//   - Token (signed or double-submit tokens in a cookie):
//     forgeproof with a key ring in ModeOriginAndToken, gorilla/csrf
//     v1.7.3 and justinas/nosurf v1.2.0. Cases: minting a token on a GET
//     (a page with a form), verifying it on a same-origin POST, and a
//     cross-site POST that carries the cookie but no token, refused.
//
// Each library is set up as its documentation recommends for an HTTPS
// service, and the tests check that every benchmarked request gets the
// answer it should (and, as a negative control, that the same requests
// reach the handler when no middleware is in front of it), so a faster
// number can never come from a request that was handled differently.
//
// Run it with bench/run.sh, which also writes the benchstat tables and
// the ratios to forgeproof in BENCHMARKS.md.
//
// On a busy machine, where separate benchmark runs swing by more than the
// gap between forgeproof and net/http on the Origin group's accepted
// requests, TestPairedOrigin times the two in alternating blocks in one
// process and logs the median of the per-pair ratios (from bench/):
//
//	CSRFBENCH_PAIRED=2000 go test -run TestPairedOrigin -v ./csrfbench
package csrfbench
