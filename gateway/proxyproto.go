package gateway

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/forgeproof/forgeproof/internal/logtext"
	"github.com/pires/go-proxyproto"
)

// DefaultProxyHeaderTimeout is how long a trusted balancer has to send the
// PROXY protocol header of a new connection (ProxyProtocol.HeaderTimeout).
const DefaultProxyHeaderTimeout = 5 * time.Second

// Reason codes of connections a PROXY protocol listener refuses. They are
// closed before the TLS handshake, so no client sees them: they label
// forgeproof_gateway_proxy_protocol_refusals_total and the log line.
const (
	// ReasonProxyUntrustedPeer: the TCP peer is not one of
	// ProxyProtocol.Trusted. Only a balancer may open connections on a
	// PROXY protocol listener, header or not: anyone else could claim
	// any client address.
	ReasonProxyUntrustedPeer Reason = "proxy-untrusted-peer"
	// ReasonProxyHeaderMissing: a trusted balancer's connection did not
	// start with a PROXY header within ProxyProtocol.HeaderTimeout (and
	// ProxyProtocol.Optional is false).
	ReasonProxyHeaderMissing Reason = "proxy-header-missing"
	// ReasonProxyHeaderInvalid: the header is malformed, or carries an
	// address that is not TCP over IPv4 or IPv6.
	ReasonProxyHeaderInvalid Reason = "proxy-header-invalid"
)

// proxyState is a listener's compiled ProxyProtocol; nil when the
// listener does not speak it.
type proxyState struct {
	trusted  []netip.Prefix
	optional bool
	timeout  time.Duration
}

// proxyProtocol checks listener key's proxy-protocol section.
func (p *compiler) proxyProtocol(key string, pp *ProxyProtocol) *proxyState {
	if pp == nil {
		return nil
	}
	st := &proxyState{
		trusted:  p.prefixes(key+".trusted", pp.Trusted),
		optional: pp.Optional,
		timeout:  pp.HeaderTimeout,
	}
	if len(pp.Trusted) == 0 {
		p.add(key+".trusted", "is required: the addresses (CIDR prefixes or IPs) of the balancers that send PROXY headers; from any other peer a header would be a forged client address")
	}
	if st.timeout < 0 {
		p.add(key+".header-timeout", "must not be negative")
	}
	if st.timeout == 0 {
		st.timeout = DefaultProxyHeaderTimeout
	}
	return st
}

// proxyListener accepts connections on a PROXY protocol listener: it
// refuses peers that are not trusted balancers, reads each header in a
// goroutine of its own (a slow balancer delays nobody else) and hands
// Accept only connections whose header was read, whose RemoteAddr is then
// the client's. From there on, trusted-proxy decisions, the access log,
// handshake-failure logs and X-Forwarded-For all see the client address.
type proxyListener struct {
	handoffListener
	g     *Gateway
	index int
	name  string // the listener's configured address, for logs and metrics
}

func newProxyListener(ln net.Listener, g *Gateway, index int, name string) *proxyListener {
	pl := &proxyListener{g: g, index: index, name: name}
	pl.start(ln, pl.handshake)
	return pl
}

// handshake reads raw's PROXY header and queues the connection for
// Accept, or refuses it.
func (pl *proxyListener) handshake(raw net.Conn) {
	st := pl.g.state.Load().proxy[pl.index]
	peer := netAddrIP(raw.RemoteAddr())
	if !inPrefixes(peer, st.trusted) {
		pl.refuse(raw, ReasonProxyUntrustedPeer, errors.New("not a trusted balancer (listeners[].proxy-protocol.trusted)"))
		return
	}
	pc := proxyproto.NewConn(raw,
		proxyproto.SetReadHeaderTimeout(st.timeout),
		proxyproto.ValidateHeader(func(h *proxyproto.Header) error { return validateProxyHeader(h, st.optional) }))
	pc.ProxyHeaderPolicy = proxyproto.REQUIRE
	if st.optional {
		// Fails open on purpose, by configuration: a balancer that
		// sends no header is served under its own address.
		pc.ProxyHeaderPolicy = proxyproto.USE
	}
	// A zero-length Read reads and checks the header (once) and nothing
	// more: the TLS bytes after it stay buffered for the handshake.
	if _, err := pc.Read(nil); err != nil {
		reason := ReasonProxyHeaderInvalid
		switch {
		case errors.Is(err, errNoClient):
			reason = ReasonProxyHeaderMissing
		case errors.Is(err, proxyproto.ErrNoProxyProtocol) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			reason = ReasonProxyHeaderMissing
			err = fmt.Errorf("the connection did not start with a PROXY header within %v", st.timeout)
		}
		pl.refuse(raw, reason, err)
		return
	}
	pl.handOver(pc)
}

// refuse counts and logs, then closes raw (so a peer that sees the close
// finds the refusal recorded).
func (pl *proxyListener) refuse(raw net.Conn, reason Reason, err error) {
	defer raw.Close()
	pl.g.metrics.proxyRefusals.WithLabelValues(pl.name, string(reason)).Inc()
	const msg = "connection refused: PROXY protocol"
	if pl.g.logs(slog.LevelWarn, pl.name, string(reason), msg) {
		pl.g.log.Warn(msg, "listener", pl.name, "reason", reason, "peer", addrString(raw.RemoteAddr()), "error", logtext.Error(err))
	}
}

// errNoClient: a LOCAL (v2) or UNKNOWN (v1) header, which names no
// client.
var errNoClient = errors.New("the PROXY header names no client (LOCAL or UNKNOWN): point the balancer's health checks at the admin listener's /readyz")

// validateProxyHeader accepts PROXY headers for TCP over IPv4 or IPv6.
// A header that names no client (v2 LOCAL, v1 UNKNOWN: the balancer's
// own connections, such as health checks) is refused like a missing one,
// or, when optional, leaves the balancer's own address.
func validateProxyHeader(h *proxyproto.Header, optional bool) error {
	if h.Command.IsLocal() || h.TransportProtocol == proxyproto.UNSPEC {
		if optional {
			return nil
		}
		return errNoClient
	}
	if h.TransportProtocol != proxyproto.TCPv4 && h.TransportProtocol != proxyproto.TCPv6 {
		return fmt.Errorf("transport %#x is not TCP over IPv4 or IPv6", byte(h.TransportProtocol))
	}
	src, ok := h.SourceAddr.(*net.TCPAddr)
	if !ok || src.IP == nil {
		return errors.New("no TCP source address")
	}
	return nil
}

// netAddrIP is a TCP address's IP, unmapped; the zero Addr otherwise.
func netAddrIP(a net.Addr) netip.Addr {
	if t, ok := a.(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(t.IP)
		return ip.Unmap()
	}
	return netip.Addr{}
}
