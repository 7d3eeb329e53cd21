package gateway

// Switches for the negative controls of the header checks (headers.go),
// per Gateway: tests of different Gateways may run in parallel.

// SetUpgradeCheck turns g's Upgrade stripping and refusal of unasked 101
// answers on or off.
func SetUpgradeCheck(g *Gateway, on bool) { g.checksOff[checkUpgrade].Store(!on) }

// SetUnderscoreCheck turns g's dropping of names with '_' on or off.
func SetUnderscoreCheck(g *Gateway, on bool) { g.checksOff[checkUnderscore].Store(!on) }

// SetIdentityLikeCheck turns g's dropping of other products' identity
// headers on or off.
func SetIdentityLikeCheck(g *Gateway, on bool) { g.checksOff[checkIdentityLike].Store(!on) }

// SetChunkedClose turns g's closing of the connection after a chunked
// HTTP/1.1 request on or off.
func SetChunkedClose(g *Gateway, on bool) { g.checksOff[checkChunkedClose].Store(!on) }

// SetFramingCheck turns g's refusal of HTTP/1.1 requests with both
// Content-Length and Transfer-Encoding (framing-ambiguous) on or off.
func SetFramingCheck(g *Gateway, on bool) { g.checksOff[checkFraming].Store(!on) }

// SetFastUpstream sends g's plain-HTTP upstream requests over the
// gateway's own HTTP/1.1 connections (on, the default) or through
// net/http's Transport (off), for the tests that compare the two.
func SetFastUpstream(g *Gateway, on bool) { g.checksOff[checkFastUpstream].Store(!on) }

// SetForwardingCheck turns g's dropping of path overrides and of
// forwarding headers from untrusted peers on or off.
func SetForwardingCheck(g *Gateway, on bool) { g.checksOff[checkForwarding].Store(!on) }

// SetBodyFraming turns g's dropping of Expect and closing of upstream
// connections after the bodies of bodyless methods on or off.
func SetBodyFraming(g *Gateway, on bool) { g.checksOff[checkBodyFraming].Store(!on) }

// SetClientWatch turns the watch for clients gone mid-request on or off.
func SetClientWatch(g *Gateway, on bool) { g.checksOff[checkClientWatch].Store(!on) }

// SetOwnServer chooses the gateway's h1Server (on) or net/http's server
// (off) for HTTP/1.x connections accepted from now on.
func SetOwnServer(g *Gateway, on bool) { g.checksOff[checkOwnServer].Store(!on) }

// SetDirectProxy sends g's requests through the direct proxy path where
// it applies (on, the default) or always through httputil.ReverseProxy
// (off), for the tests that compare the two.
func SetDirectProxy(g *Gateway, on bool) { g.checksOff[checkDirectProxy].Store(!on) }

// SetKeepHeaders turns on or off keeping the gateway's own answer header
// fields across an upstream's 1xx answer.
func SetKeepHeaders(g *Gateway, on bool) { g.checksOff[checkKeepHeaders].Store(!on) }

// SetOwnContext switches h1Server's request contexts between h1ReqCtx
// (on) and context.WithCancel (off).
func SetOwnContext(g *Gateway, on bool) { g.checksOff[checkOwnContext].Store(!on) }

// SetForwardedOriginCheck turns the reading of a trusted proxy's
// Forwarded (forwarded-invalid, forwarded-conflict, its last element
// only upstream) on or off, for negative controls.
func SetForwardedOriginCheck(g *Gateway, on bool) { g.checksOff[checkForwardedOrigin].Store(!on) }
