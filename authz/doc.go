// Package authz is "forgeproof authz": the decision service that a proxy
// which terminates TLS itself asks about every request (nginx
// auth_request, Caddy forward_auth, Traefik ForwardAuth; Envoy ext_authz
// over gRPC). The proxy keeps the data path; forgeproof decides, with the
// gateway's own decision core (gateway.Gateway.Decide), so that "serve"
// and "authz" refuse and allow the same requests for the same reasons.
//
// # API
//
// A Server answers for a Gateway built from a config with an authz
// section (gateway.Config.Authz):
//
//	g, err := gateway.NewFromFile("authz.yaml", gateway.Options{LogTo: os.Stderr})
//	s := authz.NewServer(g)
//	if err := s.Listen(); err != nil { … } // authz.address
//	err = s.Serve(ctx)                    // until ctx ends, then drains
//
// Handler is the HTTP endpoint alone. Every transport does the same three
// things: refuse a caller that is not a trusted proxy with the
// gateway.Decision of gateway.Gateway.CallerAllowed, describe the
// original request as gateway.Attributes, and turn the gateway.Decision
// into the proxy's answer: allowed with d.Set as headers to copy
// upstream (and d.Remove to delete), or refused with d.WriteProblem's
// status and problem document.
//
// # What the HTTP proxies send
//
// The proxy sends its question as a request whose headers are the
// client's, plus (set by the proxy, replacing any client copy; the docs'
// configurations in docs/integrations/ do so):
//
//   - X-Forwarded-Method, X-Forwarded-Uri (the request target as sent,
//     with the query), X-Forwarded-Host (the Host as sent, with the port)
//     and X-Forwarded-Proto: the original request (Traefik's "wss" and
//     "ws", sent for a WebSocket handshake, are read as "https" and
//     "http" and make the request a handshake: Traefik's question has
//     no Upgrade);
//   - X-Forwarded-For: the client's address (its last value is used);
//   - X-Forwarded-Tls-Client-Cert: the client certificate, when there is
//     one, as nginx's $ssl_client_escaped_cert (URL-escaped PEM), Caddy's
//     {http.request.tls.client.certificate_der_base64} (base64 DER) or
//     Traefik's passTLSClientCert (URL-escaped base64 DER, a chain
//     separated by commas). ParseCertificates reads all three.
//
// nginx also sets Upgrade from the client's ($http_upgrade), which it
// would not pass on by itself, so that a WebSocket handshake is checked
// as serve checks it. The headers of the list above, the hop-by-hop
// headers other than Upgrade and the question's own Host are not the
// client's: they never reach the decision as client headers. The
// answer is 200 with the identity headers to set upstream (Client-Cert,
// Client-Cert-Chain and/or X-Forwarded-Client-Cert,
// Forgeproof-Client-Identity, Forgeproof-Csrf-Token), or the refusal with
// the same problem document and reason code as "forgeproof serve", and a
// Forgeproof-Reason header for proxies that cannot relay a body (nginx
// relays it through error_page; see docs/integrations/nginx.md).
//
// These proxies copy the answer's headers upstream but cannot delete the
// client's other headers per request, so a request carrying one that
// serve would not forward (names with '_', other products' identity
// headers, path overrides such as X-Original-URL, untrusted forwarding
// headers) or an Upgrade other than a WebSocket handshake on GET is
// refused, 400 header-unremovable (gateway.ReasonHeaderUnremovable),
// instead of reaching the upstream as sent.
package authz
