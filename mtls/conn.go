package mtls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/internal/problem"
)

var errNoCertificate = errors.New("the client sent no certificate")

var errNoDigitalSignature = errors.New("x509: the certificate's key usage does not allow digitalSignature, which a TLS client needs to sign the handshake")

var errEmptyKeyUsage = errors.New("x509: the certificate has a key usage extension with no bit set, which RFC 5280 §4.2.1.3 forbids")

type connKey struct{}

// A ConnCache is what a Server keeps per connection: the identity of
// its client certificate, computed once (a certificate cannot change on
// a connection: Go servers never renegotiate), and the last check of
// that certificate against a Server's state. ConnContext puts one in a
// connection's context for Check; a server that keeps per-connection
// state of its own can hold one there and pass it to CheckConn instead.
// The zero value is a new connection's. A ConnCache must not be copied
// after first use, nor used for more than one connection (one that is
// handed a request whose certificate is not the one it was filled for is
// ignored: that request is verified on its own). It is not
// tied to one Server: a Server that replaces another
// (ServerConfig.Replaces) may check the same connections.
type ConnCache struct {
	// What every request reads (CheckConn) first, in one cache line: a
	// keep-alive connection's cache is cold by its next request, and
	// the identity between them would put them in two.
	once sync.Once
	leaf *x509.Certificate // what once filled the cache for (nil: none)
	ok   bool
	// checked is the last verification (nil: none yet); mu serialises
	// verifications, so that the requests of a connection that arrive
	// together after a reload verify it once.
	checked atomic.Pointer[checked]
	id      Identity
	mu      sync.Mutex
}

// checked says under which state a connection's certificate was
// verified, and until when that answer holds without a reload.
type checked struct {
	// gen is the state's generation (never 0).
	gen uint64
	// until is the earliest NotAfter in the verified chain or, unless
	// stale CRLs are allowed, the time a CRL it was checked against goes
	// stale. Zero when the connection has no certificate.
	until time.Time
	// err is why the certificate was refused; a refused connection stays
	// refused (it is closed after the refusal anyway).
	err *Error
	// spiffeOnly, when the chain passes through a CA bound to a trust
	// domain, is the connection's identity without the names such a CA
	// does not vouch for (Identity.SPIFFEOnly); nil otherwise.
	spiffeOnly *Identity
}

// current reports whether c still holds under s's state at now: same
// generation, not past until. Two atomic loads and two comparisons.
func (c *checked) current(s *Server, now time.Time) bool {
	return c != nil && (c.err != nil || (c.gen == s.state.Load().gen && (c.until.IsZero() || !now.After(c.until))))
}

// ConnContext is for http.Server.ConnContext: it gives each connection
// the state Check and Handler keep for it (its identity, computed once,
// and its last verification). The state is not tied to s: a Server that
// replaces s (ServerConfig.Replaces) may serve the same connections.
func (s *Server) ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, new(ConnCache))
}

// Check returns the identity of the verified client certificate on r's
// connection, or nil when it presented none (which VerifyClientCertIfGiven
// allows) or r did not come over TLS. The Identity is shared by the
// requests of the connection: do not modify it.
//
// Check verifies the certificate again, against the state loaded now,
// exactly as a handshake does (chain to a current client CA, validity,
// key usage, revocation, Authorizer), on a connection's first request and
// whenever a reload changed the state or a certificate of the chain or a
// CRL has expired since the last check: a keep-alive connection opened
// before a reload that revoked its certificate, removed its CA or
// withdrew its authorization is refused at its next request. The error is
// then the *Error (with its Reason) a new handshake would get, and the
// returned identity is the refused one, for logs: do not serve the
// request, and close the connection. When nothing changed, Check costs
// two atomic loads; a verification after a change takes the chain from
// the Server's cache and runs once per connection.
//
// Without ConnContext on the http.Server, every request is verified.
// A request that did not come over TLS (a plain-HTTP listener, h2c, a proxy
// that terminates TLS) has no identity and no error, whatever ClientAuth
// says: Handler passes it on without one, so authorize with Guard (which
// refuses it, identity-missing) rather than by being behind Handler.
func (s *Server) Check(r *http.Request) (*Identity, error) {
	c, _ := r.Context().Value(connKey{}).(*ConnCache)
	return s.CheckConn(r, c)
}

// CheckConn is Check with the connection's cache c given rather than
// looked up in r's context: for a server that keeps its own state per
// connection (one context lookup fewer per request). c must be the
// cache of r's connection and no other; with a nil c, every request is
// verified.
func (s *Server) CheckConn(r *http.Request, c *ConnCache) (*Identity, error) {
	if r.TLS == nil {
		return nil, nil
	}
	var leaf *x509.Certificate
	if len(r.TLS.PeerCertificates) > 0 {
		leaf = r.TLS.PeerCertificates[0]
	} else if s.cfg.ClientAuth != VerifyClientCertIfGiven {
		return nil, &Error{Reason: ReasonNoCertificate, Err: errNoCertificate}
	}
	if c == nil || !c.fill(s, leaf) {
		// No cache, or another connection's: its identity and its last
		// verification are not this request's.
		c = new(ConnCache)
		c.fill(s, leaf)
	}
	var err error
	var v *checked
	if leaf != nil {
		if v = s.recheck(c, r.TLS); v != nil && v.err != nil {
			err = v.err
		}
	}
	if !c.ok {
		return nil, err
	}
	if v != nil && v.spiffeOnly != nil {
		return v.spiffeOnly, err
	}
	return &c.id, err
}

// fill computes the identity of leaf (nil: no certificate) on c's first
// use, and reports whether c holds leaf's: a connection's certificate is
// the same *x509.Certificate on each of its requests, so another pointer
// means another connection.
func (c *ConnCache) fill(s *Server, leaf *x509.Certificate) bool {
	c.once.Do(func() {
		c.leaf = leaf
		if leaf != nil {
			c.id, c.ok = s.names.identity(leaf), true
		}
	})
	return c.leaf == leaf
}

// recheck verifies the certificate of c again when its last check no
// longer holds under s's state, and returns the check that holds (nil
// only with noRecheck).
func (s *Server) recheck(c *ConnCache, cs *tls.ConnectionState) *checked {
	now := s.now()
	if v := c.checked.Load(); v.current(s, now) {
		return v
	}
	if s.noRecheck {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v := c.checked.Load(); v.current(s, now) {
		return v // another request of the connection just checked
	}
	st := s.state.Load()
	v := &checked{gen: st.gen}
	chain, err := s.verify(st, cs, true)
	if err != nil {
		v.err = err
	} else {
		v.until = st.until(chain)
		if st.trustDomains.bound(chain) && c.ok {
			id := spiffeOnly(c.id)
			v.spiffeOnly = &id
		}
	}
	c.checked.Store(v)
	return v
}

// Handler returns middleware that calls Check on every request: it stores
// the connection's identity in the request context (IdentityFromContext)
// and calls next, or, when the certificate is refused, answers 403 with a
// problem body carrying the reason and Connection: close, and reports it
// to OnHandshakeFailure (with OpenConnection set). Serve with
//
//	srv := &http.Server{Handler: s.Handler(mux), ConnContext: s.ConnContext, TLSConfig: s.TLSConfig()}
func (s *Server) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := s.Check(r)
		if err != nil {
			e := asError(err)
			if f := s.cfg.OnHandshakeFailure; f != nil {
				var leaf *x509.Certificate
				if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
					leaf = r.TLS.PeerCertificates[0]
				}
				f(HandshakeFailure{Reason: e.Reason, Err: e, RemoteAddr: remoteAddr(r.RemoteAddr), ServerName: r.TLS.ServerName, Certificate: leaf, OpenConnection: true})
			}
			w.Header().Set("Connection", "close")
			problem.Write(w, r, problem.Details{
				Status: http.StatusForbidden,
				Reason: string(e.Reason),
				Title:  "client certificate refused",
				Detail: "the connection's client certificate is no longer accepted; open a new connection",
			})
			return
		}
		if id != nil {
			r = r.WithContext(ContextWithIdentity(r.Context(), *id))
		}
		next.ServeHTTP(w, r)
	})
}

// remoteAddr turns http.Request.RemoteAddr back into a net.Addr (nil
// when it is not an IP address and port).
func remoteAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return nil
}

// until is checked.until for a chain verified against st.
func (st *state) until(chain []*x509.Certificate) time.Time {
	var t time.Time
	earlier := func(u time.Time) {
		if t.IsZero() || u.Before(t) {
			t = u
		}
	}
	for _, c := range chain {
		earlier(c.NotAfter)
	}
	if st.allowStale || len(chain) == 0 {
		return t
	}
	// The CRLs checkRevocation consults for this chain.
	for i := 0; i+1 < len(chain); i++ {
		if c := st.crls[crlKey(chain[i+1])]; c != nil {
			earlier(c.list.NextUpdate.Add(st.crlGrace))
		}
	}
	for _, c := range st.anchorCRLs[string(chain[len(chain)-1].Raw)] {
		if c != nil {
			earlier(c.list.NextUpdate.Add(st.crlGrace))
		}
	}
	return t
}
