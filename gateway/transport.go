package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
)

// upstreamTLS is how a route talks TLS to an https upstream, beyond the
// defaults: the CAs that verify it, the client certificate presented to
// it and the name verified on its certificate. The zero value means the
// system roots, no client certificate and the URL's host.
type upstreamTLS struct {
	roots      *x509.CertPool   // nil: the system roots
	cert       *tls.Certificate // nil: no client certificate
	serverName string           // "": the host in the upstream URL
	// key names the settings, so that routes that agree share one
	// transport and its pooled connections.
	key upstreamTLSKey
}

// upstreamTLSKey is a route's upstream TLS settings as configured. Within
// one compiled configuration a file name stands for its contents: a
// reload builds new transports and reads every file again.
type upstreamTLSKey struct {
	caFile, certFile, keyFile, serverName string
}

// newTransport builds an upstream transport with the TLS settings u.
func newTransport(l Limits, u upstreamTLS) *http.Transport {
	d := &net.Dialer{Timeout: l.UpstreamDialTimeout}
	tc := &tls.Config{RootCAs: u.roots, ServerName: u.serverName, MinVersion: tls.VersionTLS12}
	if cert := u.cert; cert != nil {
		// Always present it when asked, as nginx and Envoy do, even if
		// the upstream's list of acceptable CAs does not name its issuer
		// (crypto/tls would then send none): the upstream decides, and
		// its refusal is clearer than an anonymous connection.
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	return &http.Transport{
		TLSClientConfig:       tc,
		Proxy:                 nil,                             // never route upstream traffic through $HTTP_PROXY
		DialContext:           watchedDial(d.DialContext, nil), // transport_reuse.go; newUpstreamTransport adds the slots
		TLSHandshakeTimeout:   l.UpstreamTLSHandshakeTimeout,
		ResponseHeaderTimeout: l.UpstreamResponseHeaderTimeout,
		IdleConnTimeout:       l.UpstreamIdleConnTimeout,
		MaxIdleConnsPerHost:   l.UpstreamMaxIdleConnsPerHost,
		ForceAttemptHTTP2:     true,
		// Pass the client's Accept-Encoding through as sent; never add gzip
		// and decompress the answer on the client's behalf.
		DisableCompression: true,
	}
}
