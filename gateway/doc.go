// Package gateway is the reverse proxy behind "forgeproof serve": it
// terminates mutual TLS, authorizes the client certificate's identity per
// route, refuses forged browser requests, and forwards the verified
// identity to an upstream written in any language.
//
// # Running it from Go
//
// The same gateway the binary runs can run inside a program (the demo and
// the tests do):
//
//	cfg, err := gateway.LoadConfig("forgeproof.yaml") // or build a gateway.Config
//	if err != nil {
//		return err // a ConfigErrors: every problem with file:line: key
//	}
//	g, err := gateway.New(cfg, gateway.Options{Logger: logger})
//	if err != nil {
//		return err
//	}
//	if err := g.Listen(); err != nil { // binds; ":0" picks a free port
//		return err
//	}
//	fmt.Println("serving on", g.Addrs()[0], "admin on", g.AdminAddr())
//	return g.Serve(ctx) // until ctx ends, then a graceful drain
//
// Gateway.Reload swaps in a new configuration (certificates, CAs, CRLs and
// the token key ring are read again); a configuration with any problem is
// refused and the old one keeps serving, and so is a CRL with a lower CRL
// number than the one in use (a rollback). Gateway.WatchFile reloads by
// itself when the config file or any file it names changes (file events,
// plus a poll that compares contents), as "forgeproof serve" does unless
// told --watch=false; NewFromFile reads the config file and builds the
// gateway in one step (Listen and Serve still start it). Gateway.Shutdown
// drains.
//
// # Decisions for a proxy that serves the request itself
//
// "forgeproof authz" (package authz) answers nginx auth_request, Caddy
// forward_auth, Traefik ForwardAuth and Envoy ext_authz with the decision
// this gateway would make, from the same code. Its config is a gateway
// config with an authz section (Config.Authz: no listeners, routes
// without upstreams); a Gateway built from it answers Decide:
//
//	g, err := gateway.NewFromFile("authz.yaml", gateway.Options{Logger: logger})
//	d := g.Decide(&gateway.Attributes{
//		Method: "POST", URI: "/pay?x=1", Host: "bank.example", Scheme: "https",
//		Header:     clientHeaders, // Origin, Referer, Sec-Fetch-*, Cookie, X-CSRF-Token, Accept
//		RemoteAddr: clientAddr,
//		Chain:      clientChain, // leaf first; verified here unless the proxy did
//	})
//	if d.Allowed {
//		// set d.Set on the upstream request, delete d.Remove
//	} else {
//		d.WriteProblem(w, r) // d.Status, the problem document and d.Reason, as serve's
//	}
//
// Decide runs steps 2 to 5 below on the described request (decide.go
// holds steps 2 to 4 for both); Gateway.CallerAllowed says whether the
// peer asking is a trusted proxy, and refuses it with a Decision of its
// own otherwise. Reload and WatchFile work as for serve.
//
// # Configuration keys
//
// Config is both the Go API and the YAML file: each field that is a key
// carries a `key:"kebab-name"` struct tag, and those tags are the one
// table of keys: the decoder reads them, "unknown key" errors suggest
// from them, and a test checks the key paths they make against the
// "Config keys" table of docs/gateway.md and the key paths the compiler's
// messages name. Values with a name, not a number, use the libraries'
// own types (csrf.Mode, mtls.ClientAuthMode, forwarded.Format) and this
// package's (TLSVersion, HTTP2Mode, SameSite, LogFormat, LogLevel,
// Proxy), decoded by their UnmarshalText; a bad value is reported as
// file:line: key: message, together with every other problem.
//
// To add a key: add the field with its tag and a doc comment (a new type
// implements encoding.TextUnmarshaler, and MarshalText that refuses
// values out of range for configs built in Go; a table of names can use
// enumText and enumIndex); check it in the compiler
// (validate.go and the file of its feature: the compiler turns a Config
// into the runtime state, reporting each problem under its key path); add
// its row to docs/gateway.md. TestConfigKeysDocumented and
// TestErrorKeysAreConfigKeys fail until all three agree.
//
// # Behind a load balancer
//
// A listener with Listener.ProxyProtocol reads the PROXY protocol header
// (v1 or v2) that an L4 balancer sends before TLS, from the balancers it
// trusts only; every other peer is refused before the handshake. The
// client address in the header is then the connection's peer for
// everything below: trusted proxies, trusted forwarders, the access log,
// handshake-failure logs and X-Forwarded-For. On SIGTERM (the end of
// Serve's context) /readyz turns 503 first and the listeners keep serving
// for limits.shutdown-delay, so balancers stop sending before the drain.
// Replicas share nothing but files; docs/scale-out.md has the model.
//
// # What happens to a request
//
//  1. The TLS handshake serves the listener's certificate for the
//     client's SNI (ListenerTLS.Certificates) and verifies the client
//     certificate, if one is sent, against the listener's CAs and CRLs. On a keep-alive connection the
//     certificate is verified again after a reload or once a certificate
//     of its chain expires (mtls.Server.Check); a refusal is 403 with
//     the mtls reason code and closes the connection. A WebSocket the
//     upstream accepted has no next request: its certificate is checked
//     again after every reload and every second, and its route, identity
//     and origin after every reload; one refused is closed at both ends
//     and logged with the reason code (tunnel.go). An HTTP/1.1
//     request with both Content-Length and Transfer-Encoding (request
//     smuggling) is refused with 400 (framing-ambiguous) and the
//     connection closed; the gateway's listeners read the framing from
//     the connection, since net/http hides it from handlers. HTTP/1.x
//     connections are served by the gateway's own connection loop over
//     net/http's request parser (h1server.go: net/http's behaviour, byte
//     for byte, without its per-request background read), HTTP/2 ones by
//     net/http's server, over a connection that batches its writes
//     (h2writes.go: an answer's HEADERS and DATA in one syscall); a head
//     with no Host field, two, or a malformed one is refused with 400 as
//     net/http refuses it.
//  2. The route is chosen by host and path prefix. First an HTTP/2
//     :method that is not a token (method-invalid) or :path with a space
//     in its query (path-invalid) is refused with 400 (why: CONNECT in
//     docs/security-model.md). Then a Host that is
//     not one host[:port] is refused with 400 (host-invalid: two ports,
//     "admin.example..", 127.1; one trailing dot is removed for routing),
//     then a request target that is no path ("a:admin", "*" on a GET) or
//     a path with "." or ".." segments (path-invalid), and an HTTP/2
//     request whose Host header is not its :authority
//     (authority-mismatch). On an HTTP/2 connection with a client
//     certificate (Listener.HTTP2), and on every connection of a listener
//     with ListenerTLS.CheckHost, a request whose Host is not the
//     connection's SNI gets 421 (misdirected-request). Unknown paths get 404 (no-route). A path
//     that a common upstream could read as a route of other settings
//     (";params" removed, case folded, decoded again, '\' as '/',
//     trailing dots, spaces or NUL trimmed, slashes not merged, and
//     combinations) is refused with 400 (path-ambiguous); the readings
//     are listed in docs/security-model.md.
//  3. The identity comes from the connection's certificate, or from a
//     trusted forwarder's header (Config.TrustedForwarders). It must be on
//     the route's allow list, else 403 with the mtls reason code
//     (identity-missing, spiffe-id-denied, …). On a route with
//     Allow.CORSPreflights, a CORS preflight (which never carries a
//     certificate) goes to the upstream without any identity, Cookie or
//     Authorization, and only the CORS headers of the answer come back;
//     an OPTIONS whose method override names an unsafe method is no
//     preflight.
//  4. A route that does not serve browsers refuses requests carrying
//     Fetch Metadata headers (browser-not-allowed).
//  5. A request from a trusted proxy (Config.TrustedProxies), whatever
//     its method, has its Forwarded, X-Forwarded-Proto and
//     X-Forwarded-Host read as the CSRF guard reads them: a malformed one
//     is refused with 400 (forwarded-invalid), a Forwarded naming another
//     origin than X-Forwarded-* (a client's the proxy passed on) with
//     400 (forwarded-conflict), in report-only mode too.
//     The route's CSRF guard (package csrf) checks unsafe requests:
//     Sec-Fetch-Site, Origin, Referer and, in token modes, a token. A
//     safe method that a method override (_method, X-HTTP-Method-Override)
//     turns into an unsafe one is checked as unsafe.
//     WebSocket handshakes, GETs that a browser sends cross-site with the
//     client certificate, get the origin checks too. Refusals are 403 with
//     the csrf reason code (cross-site,
//     origin-mismatch, token-missing, …), or only counted and logged in
//     report-only mode.
//  6. The request goes to the upstream through httputil.ReverseProxy
//     (Rewrite, never Director), or for a plain request to an http://
//     upstream through a direct path that does what ReverseProxy does
//     (direct.go). Every client-sent identity header is
//     deleted under every spelling (forwarded.StripHeaders) along
//     with every Forgeproof-* header, other products' identity headers
//     (SSL_CLIENT_CERT, X-SSL-Client-*, X-Amzn-Mtls-Clientcert, …, and
//     Config.StripRequestHeaders), names with '_' unless
//     Route.AllowUnderscoreHeaders (never twins of the gateway's own
//     headers), path overrides (X-Original-URL, X-Rewrite-URL, …),
//     forwarding headers (X-Real-IP, X-Forwarded-Port, …) unless the peer
//     is a trusted proxy, Expect, and every Upgrade but a GET's WebSocket
//     handshake, with HTTP2-Settings; a request with a body goes with
//     Connection: close (an upstream that skips the body would read it as
//     a request), unless Route.UpstreamReuseAfterBody keeps the
//     connection after other methods (POST, PUT, …); an unasked 101 from the
//     upstream is refused (502
//     upstream-upgrade-refused), and the connection is closed after a
//     chunked request (docs/security-model.md, "What the gateway
//     forwards"; with Handler mounted on a server of one's own, this
//     close is the only defence against Content-Length with
//     Transfer-Encoding). Then the gateway sets the verified
//     identity (RFC 9440 Client-Cert and Client-Cert-Chain, and/or Envoy
//     X-Forwarded-Client-Cert, per Config.IdentityForwarding),
//     Forgeproof-Client-Identity, and X-Forwarded-For/-Proto/-Host
//     (believed from the client only when it is a trusted proxy, whose
//     Forwarded goes on with its last element only, and -Proto and
//     -Host with the origin read in step 5). The
//     upstream sees the client's Host header. An https upstream's
//     certificate is always verified (Route.UpstreamCAFile, else the
//     system roots; Route.UpstreamServerName when its name is not the
//     URL's host), and the gateway presents Route.UpstreamCertFile when
//     the upstream asks for a client certificate, so that a service can
//     trust the forwarded identity headers by the gateway's certificate
//     (forwarded.Trust) rather than by network address.
//  7. Upstream failures become 502 (upstream-unavailable) or 504
//     (upstream-timeout) problem responses without internal details.
//
// Every refusal is an RFC 9457 problem document when the client accepts
// JSON, plain text otherwise, and always carries its reason code.
//
// # Tokens for upstreams
//
// On routes whose CSRF mode uses tokens, the gateway sends the upstream a
// fresh masked token for this request in the Forgeproof-Csrf-Token header;
// the upstream embeds it in its forms as the csrf_token field (or hands it
// to scripts for the X-CSRF-Token header). Tokens are bound to the
// application's session cookie (Tokens.SessionCookie) and the client
// certificate's public key together when the request carries both, else to
// whichever it carries, else to a pre-session cookie the csrf package sets.
//
// # Observability
//
// The admin listener (loopback by default) serves /healthz (200 while the
// process runs; after a refused reload its body says what was refused,
// until a reload succeeds), /readyz (503
// while draining) and Prometheus /metrics from a private registry:
// requests by route and status, CSRF refusals by reason, authorization
// denials by reason, TLS handshake failures by reason, certificate expiry,
// reloads by outcome and whether the last one succeeded. Options.Logger
// receives one access-log line per request with the identity and the
// decision, and the refused handshakes, upstream errors and reload
// outcomes; the package logs nowhere else.
package gateway
