// Package mtls serves mutual TLS correctly: it verifies client
// certificates against your CAs, refuses revoked ones, authorizes the
// identity they carry, on resumed sessions too, reloads certificates, CAs
// and CRLs without a restart, and puts the verified identity in the
// request context for per-route authorization.
//
// # Serving
//
//	s, err := mtls.NewServer(mtls.ServerConfig{
//		Certificates: []mtls.KeyPair{{CertFile: "server.pem", KeyFile: "server-key.pem"}},
//		ClientCAs:    []mtls.Source{{File: "ca.pem"}},
//		CRLs:         []mtls.Source{{File: "crl.pem"}},
//		ClientAuth:   mtls.VerifyClientCertIfGiven, // browsers too
//		OnHandshakeFailure: func(f mtls.HandshakeFailure) {
//			logger.Warn("tls handshake refused", "reason", f.Reason, "peer", f.RemoteAddr, "err", f.Err)
//		},
//	})
//	go s.Watch(ctx) // reload when a file's contents change
//
//	admin := &mtls.Guard{Authorizer: mustAuth(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/admin"))}
//	mux.Handle("/admin/", admin.Handler(adminHandler))
//	srv := &http.Server{Handler: s.Handler(mux), ConnContext: s.ConnContext, TLSConfig: s.TLSConfig()}
//	srv.ServeTLS(ln, "", "")
//
// Server.TLSConfig returns a tls.Config whose GetConfigForClient hands
// each handshake the current state (certificates, CAs, CRLs). Several
// server certificates can share a listener (ServerConfig.Certificates):
// the client's SNI picks the one whose DNS name matches, exact before
// wildcard; no SNI or an unknown name gets the default (the first). The client
// certificate is verified in VerifyConnection, which crypto/tls calls on
// full and resumed handshakes alike (VerifyPeerCertificate is skipped on
// resumption): chain to a current client CA, validity, clientAuth
// extended key usage, digitalSignature in the key usage (when the
// certificate has one), the checks OpenSSL (nginx) makes and
// crypto/x509 does not (a key usage extension with no bit set, or an
// extended key usage of anyExtendedKeyUsage without clientAuth, on the
// leaf or an intermediate: wrong-key-usage; an RSA key under 2048 bits
// anywhere in the chain (a client CA with one is refused at load), a
// subject common name or emailAddress that the chain's name constraints
// exclude, a URI SAN whose host a URI constraint without a leading '.'
// does not name exactly, name constraints of a form x509 does not check
// (directoryName and others, critical or not), a DNS SAN on the leaf that is no host name, or
// certificates of more than 60,000 bytes together (5 more
// each for framing), which a session ticket cannot carry:
// bad-certificate), revocation, then ServerConfig.Authorizer. (A resumed
// session whose certificates were verified against the same state does not have
// their signatures checked again; everything else is.) A refusal sends the
// peer a bad_certificate alert and nothing else; the reason goes to
// OnHandshakeFailure with the peer address. The library never logs.
//
// # Certificate material
//
// Each server certificate is a KeyPair, each client CA bundle and CRL a
// Source: a file, which Reload reads again, or a value, which stays fixed.
// NewServer and Reload read every source and report every problem at
// once, one line each, starting with its field ("mtls: ClientCAs[1]:
// cannot read ..."). Each is an *Error whose Field names the field, so
// that a program with its own configuration file can point at its keys
// (the gateway does) without reading the files itself.
//
// Reload and Watch swap the whole state atomically: a reload that fails
// (a key that does not match, a CRL not signed by a client CA or older
// than the one in use, a stale or not yet valid CRL, an unreadable file)
// keeps the old state and returns why. New and resumed handshakes are
// checked against the new state. Watch starts from the contents the last
// load read, so a file changed between NewServer and Watch is reloaded at
// once.
//
// # Open connections
//
// Server.Handler, with Server.ConnContext on the http.Server, puts the
// connection's identity in the request context and verifies an open
// connection's certificate again, against the state loaded now, at its
// first request after a reload or after a certificate of its chain or a
// CRL expired: a reload that revokes a certificate, removes its CA or
// makes the Authorizer refuse it ends the requests of keep-alive
// connections opened before (403 with the handshake's reason,
// Connection: close, OnHandshakeFailure with OpenConnection). When
// nothing changed this costs two atomic loads. Server.Check is the same
// decision for callers that answer themselves, and Server.CheckConn is
// Check for a server that keeps its own state per connection (a
// ConnCache there instead of ConnContext's); the forgeproof gateway uses
// CheckConn. A connection a handler hijacks (a WebSocket) has no next
// request: a handler that keeps one open should call Check again on its
// handshake request after reloads and from time to time, and close the
// connection when it fails, as the gateway does for the WebSockets it
// relays.
//
// # Identity and authorization
//
// Identity is what a verified certificate says: SPIFFE ID,
// SANs, subject, issuer, serial, validity, SPKI and certificate SHA-256.
// Server.Handler stores the connection's identity in the request context;
// IdentityFromContext reads it; forwarded.Trust (package mtls/forwarded)
// may replace it with a client identity forwarded by a trusted proxy
// (RFC 9440 or Envoy's x-forwarded-client-cert). Without a Server,
// IdentityFromTLS gives the identity of a certificate crypto/tls verified.
// A SPIFFE ID is read only from an X509-SVID leaf, as the X509-SVID
// specification asks of a validator: exactly one URI SAN, an ID with a
// path, and not a CA (no cA flag, keyCertSign or cRLSign), so that an
// intermediate presented as a client certificate is never a workload;
// the URI SAN must spell the ID as it reads, but for the scheme's case
// (x509's URL drops an empty fragment: spiffe://td/x# is no ID). Every
// client CA may issue every SPIFFE ID, unless its source binds it to a
// trust domain (Source.TrustDomain: it then issues only that trust
// domain's SVIDs, identified by their SPIFFE ID alone, and only such CAs
// issue them) or a URI name constraint limits it (ServerConfig.ClientCAs).
//
// An Authorizer is a func(Identity) error. The constructors match SPIFFE
// IDs (exact or with "*" path segments), trust domains, DNS SANs (exact or
// "*." plus one label), common names, OUs and SPKI pins, and combine with
// AuthorizeAnyOf. Everything denies by default: a nil Authorizer (in a
// Guard), an empty any-of, a zero Guard. Identity.Forwarded tells a
// forwarded identity from the connection's own.
//
// Guard authorizes per route and answers 403 with an RFC 9457 problem
// body carrying only the reason code; with CheckHost it answers 421 to a
// request whose Host is not the TLS server name of a connection that
// presented a certificate (browsers reuse HTTP/2 connections across names
// that share a server certificate).
//
// # Reasons
//
// Every refusal is an *Error with a typed Reason (ReasonOf), whose text is
// stable: logs, metrics and problem bodies carry it.
// Handshake (HandshakeFailure.Reason): no-certificate, unknown-authority,
// expired, not-yet-valid, wrong-key-usage, bad-certificate, revoked,
// crl-stale, crl-missing, and the authorizer's code.
//
// Protocol (HandshakeReason, for handshakes crypto/tls ends itself, which
// OnHandshakeFailure never sees): tls-version, no-shared-cipher,
// no-shared-alpn, not-tls, handshake-timeout, client-closed,
// server-certificate-refused, tls-protocol-error; and bad-certificate for
// a certificate crypto/tls refuses (it does not parse, its key is not one
// crypto/tls takes, or its key did not sign the handshake).
//
// Authorization (Authorizer, Guard; 403 bodies): identity-missing,
// identity-denied, spiffe-id-denied, trust-domain-denied, dns-name-denied,
// common-name-denied, organizational-unit-denied, spki-denied; 421 bodies:
// misdirected-request.
//
// Configuration (NewServer, Reload; Error.Field names the field):
// invalid-config.
//
// # Caveats
//
//   - Whether a certificate is requested is decided per listener: TLS has
//     no per-path renegotiation in Go. CORS preflights never carry a
//     certificate, so a host that serves browsers should use
//     VerifyClientCertIfGiven and a Guard on each route.
//   - Revocation comes from CRLs only (ServerConfig.CRLs; no OCSP). With
//     any CRL configured, a chain with a certificate whose issuer has no
//     CRL is refused (an intermediate's issuer too), and a CRL past
//     NextUpdate (plus CRLGracePeriod) refuses everything it covers,
//     until a fresh one is loaded. Without CRLs, nothing is checked. Only
//     complete CRLs are accepted: a delta CRL, a CRL with an issuing
//     distribution point or one with an unknown critical extension is
//     refused at load (RFC 5280 §5.2), since it lists only part of the
//     revocations, and so is one signed by a client CA whose key usage
//     lacks cRLSign (the error says so). Serials are compared with their
//     sign. A CRL covers what its signing key issued: a re-keyed
//     CA (same name, new key) needs one CRL per key. A certificate is
//     accepted when one of its chains passes: revoking a cross-certificate
//     does not refuse what its CA issued while the CA is trusted through
//     another certificate.
//   - OnHandshakeFailure sees the refusals of this package (everything
//     about the client certificate). Failures crypto/tls finds itself
//     before that (no common protocol version or cipher suite, a bad
//     handshake signature) only reach http.Server.ErrorLog, as text; a
//     program that runs the handshake itself (tls.Conn.Handshake before
//     handing the connection on, as the forgeproof gateway does) gets
//     their reason from HandshakeReason. Several of crypto/tls's errors
//     carry no type or alert, only their text, which HandshakeReason
//     reads: a Go release that rewords one makes it tls-protocol-error
//     (this package's tests fail on such a release).
//   - Revoking a certificate does not close connections already open with
//     it: served without Handler (or Check), their requests still carry
//     its identity until they close (see Open connections). An Authorizer
//     that changes its answer by itself is asked again at the next reload
//     or expiry, not at every request.
//   - A client certificate proves who the client is, not that the user
//     meant the request: a browser presents it on cross-site requests.
//     Pair this package with the csrf package.
package mtls
