package gateway

import (
	"sync"
	"sync/atomic"

	"github.com/forgeproof/forgeproof/mtls"
)

// authzKeys numbers the compiled routes (route.authzKey); no two routes
// of a process, in any configuration, get the same key.
var authzKeys atomic.Uint64

// authzMemo is a connection's last authorization: the answer of a
// route's allow list (key, route.authzKey) to the connection's own
// identity (id). Running the allow list was about 0.9 µs of every
// keep-alive request, for an answer that cannot change while the route
// and the identity are the same: an allow list is a function of the
// identity alone, a connection's identity is verified once
// (mtls.Server.Check returns the same *Identity for every request of the
// connection, after re-verifying its certificate when a reload, a CRL or
// an expiry may have changed the verdict, which is why serveHTTP calls it
// first), and a reload compiles new routes, with new keys. One entry: a
// connection that alternates between routes runs the allow list each
// time, as without the memo.
type authzMemo struct {
	mu     sync.Mutex
	key    uint64
	id     *mtls.Identity
	reason Reason
}

// authorizeConn is rt.authorizeRequest(id), remembered on the connection
// cf (nil: none) when id is the connection's own identity connID. A
// forwarded identity (a trusted forwarder's header) is new for every
// request and always checked.
func (rt *route) authorizeConn(id, connID *mtls.Identity, cf *connState) Reason {
	if cf == nil || id == nil || id != connID || rt.allowUnauthenticated {
		return rt.authorizeRequest(id)
	}
	m := &cf.authz
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.id == id && m.key == rt.authzKey {
		return m.reason
	}
	reason := rt.authorizeRequest(id)
	m.key, m.id, m.reason = rt.authzKey, id, reason
	return reason
}
