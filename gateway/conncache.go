package gateway

import (
	"context"
	"net"
	"net/http"
	"sync"

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
