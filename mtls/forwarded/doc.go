// Package forwarded carries a verified client identity across a proxy:
// a gateway that terminated mutual TLS forwards the client certificate in
// request headers (RFC 9440 Client-Cert and Client-Cert-Chain, or Envoy's
// x-forwarded-client-cert), and the service behind it accepts them only
// from a forwarder it trusts.
//
// On the gateway side, StripHeaders deletes every client-sent copy of the
// identity headers under every spelling (HeaderNames), and SetHeaders adds
// the gateway's own. On the service side, Trust is middleware that puts
// the forwarded identity in the request context (mtls.IdentityFromContext)
// when the request comes from a trusted forwarder, and strips the headers
// otherwise:
//
//	fwd := &forwarded.Trust{TrustForwarder: gatewayOnly}
//	handler := srv.Handler(fwd.Handler(app)) // srv is an *mtls.Server
//
// The codecs (ParseClientCert, FormatClientCert, ParseXFCC, FormatXFCC and
// friends) are strict: every malformed header is an *Error that names the
// header, the element and the key, with the stable reason
// forwarded-identity-invalid (ReasonInvalid).
//
// The zero Format is Both, for reading and for writing.
package forwarded
