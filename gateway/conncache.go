package gateway

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"sync/atomic"

	"github.com/forgeproof/forgeproof/internal/boundedmap"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

type connKey struct{}

// connState is the gateway's per-connection state, one context value
// per connection (connKey). Among it: the identity headers last computed
// for the connection's own certificate (fwd; a base64 encoding of the
// certificate per request was 3% of the gateway's allocated bytes), and
// the listener's mtls.Server's cache of the connection's identity and
// its re-check after a reload or an expiry (mtls, CheckConn).
type connState struct {
	fwd atomic.Pointer[forwardedHeaders]
	// counted is set by the connection's first request, which counts
	// the connection in the connections metric (countConnection).
	counted atomic.Bool
	// framing is the connection when the gateway's own listener
	// accepted it as HTTP/1.x (tlsListener); nil for HTTP/2.
	framing *framingConn
	// authz is the connection's last authorization (authzmemo.go).
	authz authzMemo
	// xf is the X-Forwarded-* values of the connection's last request
	// (setXForwardedConn).
	xf atomic.Pointer[xForwarded]
	// mtls is the listener's mtls.Server's cache of the connection
	// (mtls.Server.CheckConn): the connection's identity and its last
	// verification.
	mtls mtls.ConnCache
}

// mtlsCache is cf's mtls.ConnCache, nil when cf is nil (every request
// is then verified).
func (cf *connState) mtlsCache() *mtls.ConnCache {
	if cf == nil {
		return nil
	}
	return &cf.mtls
}

// connStateOf is the connState of the connection a request
// with context ctx came on, nil when it has none (the embedded
// handler): on the gateway's own HTTP/1.x server without a context
// lookup (h1Conn resolves it once per connection).
func connStateOf(ctx context.Context) *connState {
	if rc, ok := ctx.(*h1ReqCtx); ok && rc.cf != nil {
		return rc.cf
	}
	cf, _ := ctx.Value(connKey{}).(*connState)
	return cf
}

// forwardedHeaders are the headers that forward a connection's identity
// in one format: names[i] has the one value values[i].
type forwardedHeaders struct {
	format forwarded.Format
	names  []string
	values []string
	err    error
}

// setForwardedHeaders is forwarded.SetHeaders(h, id, opts) plus the
// Forgeproof-Client-Identity header, with the values computed once per
// connection and format (and shared between connections that present the
// same certificate alone, see forwardedCache). The cache is used only for
// the identity of the connection's own certificate (Source connection,
// whose Certificate is the connection's leaf, not one a forwarder sent),
// whose headers depend on nothing else but the format and the
// connection's chain, which cannot change either; anything else
// (including options with By, which the gateway does not set) is
// computed afresh.
//
// h must hold no identity header already: rewrite strips them all
// (withoutIdentityHeaders) before it calls this.
func (c *compiled) setForwardedHeaders(cf *connState, r *http.Request, h http.Header, id *mtls.Identity, opts forwarded.Options) error {
	if !connHeaders(cf, r, id, opts) {
		return setForwardedHeadersUncached(h, *id, opts)
	}
	f := c.connForwardedHeaders(cf, id, opts)
	if f.err != nil {
		return f.err
	}
	// No allocation: each header gets a slice of the cached values of its
	// own (capacity 1), so that adding to one later copies instead of
	// writing into the next header's value, or into the cache. Nothing
	// assigns to the elements of an upstream request's header values (see
	// outHeader).
	for i, name := range f.names {
		if v, ok := h[name]; ok {
			h[name] = append(v, f.values[i]) // a second value of the same header
			continue
		}
		h[name] = f.values[i : i+1 : i+1]
	}
	return nil
}

// connHeaders reports whether the identity headers of id are the
// connection's, cached in cf (see setForwardedHeaders).
func connHeaders(cf *connState, r *http.Request, id *mtls.Identity, opts forwarded.Options) bool {
	return cf != nil && !id.Forwarded && id.Certificate != nil && len(opts.By) == 0 &&
		r.TLS != nil && len(r.TLS.PeerCertificates) > 0 && r.TLS.PeerCertificates[0] == id.Certificate
}

// connForwardedHeaders returns the connection's identity headers in
// opts.Format, computing them on first use.
func (c *compiled) connForwardedHeaders(cf *connState, id *mtls.Identity, opts forwarded.Options) *forwardedHeaders {
	f := cf.fwd.Load()
	if f == nil || f.format != opts.Format {
		f = c.forwarded.get(*id, opts)
		cf.fwd.Store(f)
	}
	return f
}

// forwardOptions are the options rewrite forwards id with: the
// configured format, and the intermediates of the connection's own
// certificate.
func (c *compiled) forwardOptions(r *http.Request, id *mtls.Identity) forwarded.Options {
	opts := forwarded.Options{Format: c.forwardFormat}
	if r.TLS != nil && !id.Forwarded && len(r.TLS.PeerCertificates) > 1 {
		opts.Chain = r.TLS.PeerCertificates[1:]
	}
	return opts
}

// unforwardable is why id cannot be forwarded to the upstream in
// identity-forwarding's format, nil when it can: the request is then
// refused (ReasonIdentityUnforwardable) rather than forwarded as an
// anonymous one's. For the connection's own certificate this is the
// cached headers' error (rewrite finds them computed); other identities
// (a trusted forwarder's) are written once here and again by rewrite.
func (c *compiled) unforwardable(cf *connState, r *http.Request, id *mtls.Identity) error {
	opts := c.forwardOptions(r, id)
	if connHeaders(cf, r, id, opts) {
		return c.connForwardedHeaders(cf, id, opts).err
	}
	return setForwardedHeadersUncached(http.Header{}, *id, opts)
}

// newForwardedHeaders computes the headers that setForwardedHeaders
// caches.
func newForwardedHeaders(id mtls.Identity, opts forwarded.Options) *forwardedHeaders {
	f := &forwardedHeaders{format: opts.Format}
	h := http.Header{}
	if f.err = setForwardedHeadersUncached(h, id, opts); f.err != nil {
		return f
	}
	for _, name := range slices.Sorted(maps.Keys(h)) {
		for _, value := range h[name] {
			f.names = append(f.names, name)
			f.values = append(f.values, value)
		}
	}
	return f
}

func setForwardedHeadersUncached(h http.Header, id mtls.Identity, opts forwarded.Options) error {
	if err := forwarded.SetHeaders(h, id, opts); err != nil {
		return err
	}
	h.Set(HeaderClientIdentity, printable(id.String()))
	return nil
}

// Bounds of forwardedCache: at most maxSharedForwarded certificates, each
// with header values of at most maxSharedForwardedBytes together.
const (
	maxSharedForwarded      = 1024
	maxSharedForwardedBytes = 8 << 10
)

// forwardedCache shares forwardedHeaders between the connections of a
// client that reconnects: encoding its certificate again for every new
// connection was a tenth of what the gateway adds to a full handshake.
// The headers are a function of the certificate's bytes, the format and
// whether its CA is bound to a trust domain when the client sent no
// intermediates, so they are kept only then, keyed by the three; the
// connection's identity was verified before it gets here, and
// the cache decides nothing.
type forwardedCache struct {
	m *boundedmap.Map[forwardedKey, *forwardedHeaders]
}

type forwardedKey struct {
	cert   [32]byte
	format forwarded.Format
	// spiffeOnly: the same certificate's identity without its other
	// names (mtls.Identity.SPIFFEOnly, on a listener that binds its CA)
	// forwards no DNS names.
	spiffeOnly bool
}

func newForwardedCache(limit int) *forwardedCache {
	return &forwardedCache{m: boundedmap.New[forwardedKey, *forwardedHeaders](limit)}
}

// get returns the headers of id in opts' format, from the cache when it
// can be used, else newly computed (and kept when it can be).
func (fc *forwardedCache) get(id mtls.Identity, opts forwarded.Options) *forwardedHeaders {
	if len(opts.Chain) > 0 || len(opts.By) > 0 || id.CertSHA256 == ([32]byte{}) {
		return newForwardedHeaders(id, opts)
	}
	k := forwardedKey{id.CertSHA256, opts.Format, id.SPIFFEOnly}
	f, ok := fc.m.Get(k)
	if ok {
		return f
	}
	f = newForwardedHeaders(id, opts)
	if f.size() > maxSharedForwardedBytes {
		return f
	}
	fc.m.Put(k, f)
	return f
}

func (fc *forwardedCache) len() int { return fc.m.Len() }

// size is the length of the header values.
func (f *forwardedHeaders) size() int {
	n := 0
	for _, v := range f.values {
		n += len(v)
	}
	return n
}
