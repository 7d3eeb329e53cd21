// Package gatewaybench measures, in one process, what forgeproof's gateway
// adds to a request on top of the bare net/http/httputil.ReverseProxy that
// any Go gateway is built on: routing, authorization of the client
// certificate, CSRF checks and identity forwarding. Both proxies forward to
// the same loopback upstream; only the handlers differ, so the ratio is the
// gateway's own cost, with no TLS, no load generator and far less noise
// than the end-to-end comparison of bench/cmd/benchrun.
//
// It has no API: everything is in its tests.
package gatewaybench
