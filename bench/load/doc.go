// Package load is the load generator of forgeproof's comparative
// benchmarks: it drives an HTTPS server that requires a client certificate
// and measures what an operator compares gateways by.
//
//   - [KeepAlive]: requests per second over long-lived connections, closed
//     loop, at saturation.
//   - [Handshakes]: TLS handshakes per second, one new connection per
//     request, either full (no resumption) or resumed (TLS 1.3 session
//     tickets).
//   - [Latency]: latency percentiles at a fixed request rate, open loop and
//     corrected for coordinated omission: each request is timed from the
//     moment the schedule says it should have been sent, so a stalled
//     server cannot hide its stall by slowing the client down.
//
// It speaks HTTP/1.1 directly over crypto/tls (no net/http client) so that
// the generator costs as little CPU as possible: on a small machine it
// shares the cores with the server under test.
package load
