package gateway

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/forgeproof/forgeproof/mtls"
)

type connKey struct{}

// connIdentity caches the identity of a connection's client certificate
// for the requests of a keep-alive connection. The certificate cannot
// change on a connection (Go servers never renegotiate), and extracting
// the identity (two SHA-256 sums, the subject and issuer strings) costs
// more than the rest of the gateway's checks together.
type connIdentity struct {
	once sync.Once
	id   mtls.Identity
	ok   bool
	// fwd holds the identity headers last computed for this connection
	// (a base64 encoding of the certificate per request was 3% of the
	// gateway's allocated bytes).
	fwd atomic.Pointer[forwardedHeaders]
}

// forwardedHeaders are the headers that forward a connection's identity
// in one format.
type forwardedHeaders struct {
	format mtls.ForwardedFormat
	h      http.Header
	err    error
}

// withConnCache is the listeners' http.Server.ConnContext.
func withConnCache(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, &connIdentity{})
}

// connectionIdentity is mtls.IdentityFromTLS(r.TLS), computed once per
// connection when the request came through one of the gateway's
// listeners.
func connectionIdentity(r *http.Request) (mtls.Identity, bool) {
	if r.TLS == nil {
		return mtls.Identity{}, false
	}
	c, _ := r.Context().Value(connKey{}).(*connIdentity)
	if c == nil {
		return mtls.IdentityFromTLS(r.TLS) // Gateway.Handler behind a listener of one's own
	}
	c.once.Do(func() { c.id, c.ok = mtls.IdentityFromTLS(r.TLS) })
	return c.id, c.ok
}

// setForwardedHeaders is mtls.SetForwardedHeaders(h, id, opts) plus the
// Forgeproof-Client-Identity header, with the values computed once per
// connection and format. The cache is used only for the identity of the
// connection's own certificate (the same *x509.Certificate that
// connectionIdentity returned, not one a forwarder sent), whose headers
// depend on nothing else but the format and the connection's chain, which
// cannot change either; anything else (including options with By, which
// the gateway does not set) is computed afresh.
func setForwardedHeaders(r *http.Request, h http.Header, id mtls.Identity, opts mtls.ForwardOptions) error {
	c, _ := r.Context().Value(connKey{}).(*connIdentity)
	if c == nil || id.Source != mtls.SourceConnection || id.Certificate == nil || len(opts.By) > 0 {
		return setForwardedHeadersUncached(h, id, opts)
	}
	cid, ok := connectionIdentity(r)
	if !ok || cid.Certificate != id.Certificate {
		return setForwardedHeadersUncached(h, id, opts)
	}
	f := c.fwd.Load()
	if f == nil || f.format != opts.Format {
		f = &forwardedHeaders{format: opts.Format, h: http.Header{}}
		f.err = setForwardedHeadersUncached(f.h, id, opts)
		c.fwd.Store(f)
	}
	mtls.StripForwardedHeaders(h)
	if f.err != nil {
		return f.err
	}
	for name, v := range f.h {
		h[name] = append([]string(nil), v...) // its own slice: the request may be changed later
	}
	return nil
}

func setForwardedHeadersUncached(h http.Header, id mtls.Identity, opts mtls.ForwardOptions) error {
	if err := mtls.SetForwardedHeaders(h, id, opts); err != nil {
		return err
	}
	h.Set(HeaderClientIdentity, printable(id.String()))
	return nil
}
