package gateway

import (
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/internal/logtext"
	"github.com/forgeproof/forgeproof/mtls"
)

// A WebSocket that the upstream accepted is a tunnel: the gateway relays
// its bytes and reads none of them, so no later request on the
// connection meets the per-request re-check of its client certificate
// (handler.go, mtls.Server.CheckConn). Left alone, a WebSocket opened
// before a reload that revoked its certificate, removed its CA or
// withdrew its route's authorization, or before its certificate expired,
// would carry messages with that identity for as long as both ends keep
// it open. So the gateway keeps the tunnels of its listeners, checks
// each again after every reload and every tunnelRecheckEvery, as the
// next request on the connection would be checked (certificate, then
// route, identity and origin under the configuration in force), and
// closes the ones refused, both ends.

// tunnelRecheckEvery is how often open tunnels are checked again for a
// certificate that expired or a CRL that went stale, which no reload
// announces. When nothing changed a check costs two atomic loads per
// tunnel.
const tunnelRecheckEvery = time.Second

// tunnelOrigin is what a WebSocket handshake's tunnel is checked
// against: the handshake request r, which arrived on listener's
// connection cf. Requests to the embedded handler, whose connections are
// an embedder's, have none.
type tunnelOrigin struct {
	g        *Gateway
	c        *compiled // the configuration that checked the handshake
	r        *http.Request
	listener int
	cf       *connState
	// upstreamCerts is the chain an https upstream presented on the
	// tunnel's upstream connection, and upstreamHost the host it was
	// dialed at: after a reload the chain is verified again with the
	// route's upstream CA and server name then (upstreamStillTrusted).
	upstreamCerts []*x509.Certificate
	upstreamHost  string
}

// tunnel is a hijacked client connection that carries a WebSocket.
type tunnel struct {
	net.Conn
	origin tunnelOrigin
	// checked is the configuration under which the handshake's route,
	// identity and origin were last found good.
	checked atomic.Pointer[compiled]
	// refused is the reason a re-check closed the tunnel, for its
	// access-log line; nil while it is open or ended otherwise.
	refused atomic.Pointer[Reason]
	once    sync.Once
}

// Close closes the client's connection (ReverseProxy then closes the
// upstream's) and forgets the tunnel.
func (t *tunnel) Close() error {
	t.once.Do(func() { t.origin.g.tunnels.remove(t) })
	return t.Conn.Close()
}

// CloseWrite passes a half-close through.
func (t *tunnel) CloseWrite() error { return closeWrite(t.Conn) }

// tunnelSet is a Gateway's open tunnels.
type tunnelSet struct {
	mu      sync.Mutex
	m       map[*tunnel]struct{}
	ticking bool       // a goroutine runs recheckTunnels every tunnelRecheckEvery
	checkMu sync.Mutex // one recheckTunnels at a time
}

// keep starts keeping c, which the WebSocket handshake o hijacked, and
// returns the connection to relay on.
func (o tunnelOrigin) keep(c net.Conn) *tunnel {
	g := o.g
	t := &tunnel{Conn: c, origin: o}
	t.checked.Store(o.c)
	s := &g.tunnels
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = make(map[*tunnel]struct{})
	}
	s.m[t] = struct{}{}
	if !s.ticking {
		s.ticking = true
		go g.tickTunnels()
	}
	return t
}

func (s *tunnelSet) remove(t *tunnel) {
	s.mu.Lock()
	delete(s.m, t)
	s.mu.Unlock()
}

// list is a snapshot of the open tunnels; with stopIfNone, an empty
// set also ends the ticking.
func (s *tunnelSet) list(stopIfNone bool) []*tunnel {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) == 0 && stopIfNone {
		s.ticking = false
		return nil
	}
	ts := make([]*tunnel, 0, len(s.m))
	for t := range s.m {
		ts = append(ts, t)
	}
	return ts
}

// tickTunnels checks the open tunnels every tunnelRecheckEvery until
// none is left.
func (g *Gateway) tickTunnels() {
	for {
		time.Sleep(tunnelRecheckEvery)
		ts := g.tunnels.list(true)
		if ts == nil {
			return
		}
		g.recheckTunnels(ts)
	}
}

// recheckTunnels checks each of ts (nil: every open tunnel) again and
// closes those refused.
func (g *Gateway) recheckTunnels(ts []*tunnel) {
	if ts == nil {
		ts = g.tunnels.list(false)
	}
	g.tunnels.checkMu.Lock()
	defer g.tunnels.checkMu.Unlock()
	for _, t := range ts {
		if reason, why := g.recheckTunnel(t); reason != "" {
			o := t.origin
			attrs := []any{"reason", reason, "peer", o.r.RemoteAddr, "host", logtext.Clean(o.r.Host, logtext.MaxName), "path", logtext.Clean(o.r.URL.Path, logtext.MaxPath), "detail", why}
			if o.r.TLS != nil && len(o.r.TLS.PeerCertificates) > 0 {
				leaf := o.r.TLS.PeerCertificates[0]
				attrs = append(attrs, "subject", logtext.Clean(leaf.Subject.String(), logtext.MaxIdentity), "serial", serialHex(leaf.SerialNumber))
			}
			g.log.Warn("WebSocket closed: refused when checked again", attrs...)
			t.refused.Store(&reason)
			t.Close()
		}
	}
}

// recheckTunnel is the check the next request on t's connection would
// get: its certificate (a refusal is counted as a handshake failure, as
// for an open keep-alive connection), then, when the configuration
// changed since the last check, the handshake's route, identity and
// origin. It returns the reason t is refused, "" when it is not.
func (g *Gateway) recheckTunnel(t *tunnel) (Reason, string) {
	o := t.origin
	c := g.state.Load()
	s := c.listenerServer(o.listener)
	if s == nil {
		return "", ""
	}
	id, err := s.CheckConn(o.r, o.cf.mtlsCache())
	if err != nil && !g.checksOff.off(checkRecheck) {
		reason := mtls.ReasonOf(err)
		g.metrics.handshakeFailures.WithLabelValues(c.cfg.Listeners[o.listener].Address, string(reason)).Inc()
		return Reason(reason), "client certificate refused on an open connection"
	}
	if t.checked.Load() == c || g.checksOff.off(checkRecheck) {
		return "", ""
	}
	v := c.decide(o.r, o.listener, id, o.cf, g.checksOff.off(checkRequests))
	switch {
	case v.reason != "":
		return v.reason, v.title
	case v.route.guard != nil && !v.route.guard.reportOnly:
		if e := v.route.guard.check(o.r); e != nil {
			return Reason(e.Reason), "origin refused"
		}
	}
	if err := o.upstreamStillTrusted(v.route); err != nil {
		return ReasonUpstreamUnavailable, "upstream certificate refused when checked again: " + err.Error()
	}
	t.checked.Store(c)
	return "", ""
}

// upstreamStillTrusted verifies the certificate chain the tunnel's https
// upstream presented with rt's upstream TLS settings, as a new
// connection would be: a reload that replaced the upstream CA (or the
// server name) must not leave open a WebSocket to an upstream the new
// configuration refuses.
func (o tunnelOrigin) upstreamStillTrusted(rt *route) error {
	if len(o.upstreamCerts) == 0 || rt == nil || rt.upstream == nil {
		return nil
	}
	if rt.upstream.Scheme != "https" {
		return errors.New("the route's upstream is no longer https")
	}
	name := rt.upstreamTLS.serverName
	if name == "" {
		name = o.upstreamHost
	}
	inter := x509.NewCertPool()
	for _, c := range o.upstreamCerts[1:] {
		inter.AddCert(c)
	}
	_, err := o.upstreamCerts[0].Verify(x509.VerifyOptions{
		Roots: rt.upstreamTLS.roots, Intermediates: inter, DNSName: name,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	return err
}
