package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
)

// newTransport builds an upstream transport; roots, if not nil, verify
// https upstreams instead of the system roots.
func newTransport(l Limits, roots *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: l.UpstreamDialTimeout}
	return &http.Transport{
		TLSClientConfig:       &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12},
		Proxy:                 nil, // never route upstream traffic through $HTTP_PROXY
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   l.UpstreamTLSHandshakeTimeout,
		ResponseHeaderTimeout: l.UpstreamResponseHeaderTimeout,
		IdleConnTimeout:       l.UpstreamIdleConnTimeout,
		MaxIdleConnsPerHost:   l.UpstreamMaxIdleConnsPerHost,
		ForceAttemptHTTP2:     true,
	}
}
