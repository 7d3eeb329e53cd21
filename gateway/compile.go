package gateway

import (
	"cmp"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/internal/boundedmap"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// hooks connect a configuration to the Gateway that runs it; the zero
// value (for Validate) discards everything.
type hooks struct {
	log *slog.Logger
	// onHandshakeFailure is told about every refused handshake.
	onHandshakeFailure func(listener string, f mtls.HandshakeFailure)
	// forwarded is the Gateway's cache of identity headers, kept across
	// reloads; nil gets a fresh one.
	forwarded *forwardedCache
	// now is the clock of the listeners' mtls.Servers (nil: time.Now).
	now func() time.Time
	// checksOff is the Gateway's negative-control switches (nil: every
	// check on).
	checksOff *checksOff
}

func (h hooks) logger() *slog.Logger {
	if h.log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.log
}

func (h hooks) handshakeFailure(listener string) func(mtls.HandshakeFailure) {
	if h.onHandshakeFailure == nil {
		return nil
	}
	return func(f mtls.HandshakeFailure) { h.onHandshakeFailure(listener, f) }
}

// compiled is a validated configuration turned into what the request path
// needs. A Gateway swaps it atomically on reload; it is never modified
// after compile returns.
type compiled struct {
	cfg    *Config
	limits Limits
	log    *slog.Logger // the Gateway's (hooks)
	routes []*route     // most specific first
	// foldPrefixes: a route's prefix has upper case or non-ASCII
	// ("/Admin"), which a lower-case path folds to on a case-insensitive
	// router (pathAmbiguous).
	foldPrefixes bool
	listeners    []*listenerTLS
	proxy        []*proxyState // by listener; nil: no PROXY protocol
	proxies      []netip.Prefix
	forwarders   []*trustedForwarder
	// verifiedForwards: forwarded chains verified (verifyForwarded).
	verifiedForwards *boundedmap.Map[[32]byte, verifiedForward]
	forwardFormat    forwarded.Format
	// forwarded shares identity headers between connections (hooks).
	forwarded *forwardedCache
	// headers: what client headers are not forwarded (headers.go).
	headers headerPolicy
	// authz is the decision service's state, nil for "forgeproof serve".
	authz *authzState
	// checksOff is the Gateway's negative-control switches (hooks).
	checksOff *checksOff
	// transports has one transport per distinct upstream TLS setting
	// (upstreamTLSKey), shared by the routes that use it; a reload closes
	// their idle connections.
	transports []*upstreamTransport
	// keyRing is the token key ring, nil when tokens.key-file is not set
	// (it is loaded, and checked, even when no route uses tokens).
	keyRing *csrf.KeyRing
}

// sortErrors puts errs in file order; problems without a line (missing
// keys of a config built in Go) keep their order at the end.
func sortErrors(errs ConfigErrors) {
	order := func(e *ConfigError) int {
		if e.Line == 0 {
			return math.MaxInt
		}
		return e.Line
	}
	slices.SortStableFunc(errs, func(a, b *ConfigError) int { return cmp.Compare(order(a), order(b)) })
}

// compile validates cfg and builds its runtime state, reading every file
// it names. All problems are returned together as ConfigErrors. prev, if
// not nil, is the configuration in use (a reload): a CRL older than the
// one its listener uses is refused (rollback).
func compile(cfg *Config, h hooks, prev *compiled) (*compiled, error) {
	log := h.logger()
	p := &compiler{cfg: cfg}
	c := &compiled{cfg: cfg, limits: cfg.Limits.withDefaults(), log: log, forwarded: h.forwarded}
	if c.forwarded == nil {
		c.forwarded = newForwardedCache(maxSharedForwarded)
	}
	p.limits(cfg.Limits)
	p.workers(cfg)

	if cfg.Authz != nil {
		var prevAuthz *authzState
		if prev != nil {
			prevAuthz = prev.authz
		}
		c.authz = p.authz(cfg, prevAuthz, h.now)
	} else if len(cfg.Listeners) == 0 {
		p.add("listeners", "at least one listener is required")
	}
	for i, l := range cfg.Listeners {
		key := fmt.Sprintf("listeners[%d]", i)
		p.hostPort(key+".address", l.Address)
		var replaces *mtls.Server
		if prev != nil && i < len(prev.listeners) {
			replaces = prev.listeners[i].server // same address: Reload checked
		}
		offerHTTP2, checkHTTP2 := p.http2Mode(key+".http2", l.HTTP2)
		lt := p.listenerTLS(key+".tls", l.TLS, offerHTTP2, h.handshakeFailure(l.Address), replaces, h.now)
		lt.checkHTTP2 = checkHTTP2
		c.listeners = append(c.listeners, lt)
		c.proxy = append(c.proxy, p.proxyProtocol(key+".proxy-protocol", l.ProxyProtocol))
	}

	c.proxies = p.prefixes("trusted-proxies", cfg.TrustedProxies)
	for i, f := range cfg.TrustedForwarders {
		c.forwarders = append(c.forwarders, p.forwarder(fmt.Sprintf("trusted-forwarders[%d]", i), f))
	}
	c.verifiedForwards = newVerifiedForwards()

	c.headers = p.parseStripHeaders("strip-request-headers", cfg.StripRequestHeaders)
	c.checksOff = h.checksOff
	c.forwardFormat = forwarded.RFC9440
	if f := cfg.IdentityForwarding; f != nil {
		if _, err := f.MarshalText(); err != nil {
			p.add("identity-forwarding", "%s", withoutPackage(err))
		}
		c.forwardFormat = *f
	}

	if a := cfg.Admin.Address; a != "" && a != "off" {
		p.hostPort("admin.address", a)
		if !isLoopback(a) && !cfg.Admin.InsecureAllowNonLoopback {
			p.add("admin.address", "%q is not a loopback address: metrics would be public; use 127.0.0.1 or set insecure-allow-non-loopback", a)
		}
	}
	p.sockets(cfg)
	// Files are checked as they are decoded; these catch the values
	// of a Config built in Go that are none of the constants.
	if _, err := cfg.Log.Format.MarshalText(); err != nil {
		p.add("log.format", "%v", err)
	}
	if _, err := cfg.Log.Level.MarshalText(); err != nil {
		p.add("log.level", "%v", err)
	}

	if len(cfg.Routes) == 0 {
		p.add("routes", "at least one route is required")
	}
	names := map[string]string{}
	needTokens := false
	for i, r := range cfg.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		rt := p.route(key, i, r, c)
		if prev, ok := names[rt.name]; ok {
			p.add(key+".name", "route name %q is also used by %s", rt.name, prev)
		}
		names[rt.name] = key
		needTokens = needTokens || rt.usesTokens()
		c.routes = append(c.routes, rt)
	}
	// Both checks below look routes up by a key, not route against
	// route: a config of tens of thousands of routes (the file may be 4
	// MiB) must not take minutes, or gigabytes of errors, to refuse.
	type hostPrefix struct{ host, prefix string }
	first := map[hostPrefix]*route{}
	for _, a := range c.routes {
		k := hostPrefix{a.host, a.prefix}
		if b, ok := first[k]; ok {
			p.add(fmt.Sprintf("routes[%d]", a.index), "same host %q and path prefix %q as route %q: it would never match", a.host, a.prefix, b.name)
			continue
		}
		first[k] = a
	}
	// Routes of a policy share a key (policyKey); within one, DeepEqual
	// decides.
	policies := map[string][]int{}
	for i, rt := range c.routes {
		rt.policy = i
		k := policyKey(cfg.Routes[i])
		for _, j := range policies[k] {
			if reflect.DeepEqual(policyOf(cfg.Routes[i]), policyOf(cfg.Routes[j])) {
				rt.policy = c.routes[j].policy
				break
			}
		}
		if rt.policy == i {
			policies[k] = append(policies[k], i)
		}
	}
	c.keyRing = p.tokens(cfg.Tokens, needTokens, c.routes)
	p.checkNames(cfg, c.listeners)
	if len(p.errs) > 0 {
		sortErrors(p.errs)
		return nil, p.errs
	}

	// Most specific first: a route with a host, then longer prefixes, then
	// file order.
	slices.SortStableFunc(c.routes, func(a, b *route) int {
		if (a.host != "") != (b.host != "") {
			if a.host != "" {
				return -1
			}
			return 1
		}
		return cmp.Compare(len(b.prefix), len(a.prefix))
	})
	c.foldPrefixes = slices.ContainsFunc(c.routes, func(r *route) bool { return needsFold(r.prefix) })
	byTLS := map[upstreamTLSKey]*upstreamTransport{}
	for _, rt := range c.routes {
		if rt.upstream == nil {
			continue // forgeproof authz: the proxy forwards
		}
		tr, ok := byTLS[rt.upstreamTLS.key]
		if !ok {
			tr = newUpstreamTransport(c.limits, newTransport(c.limits, rt.upstreamTLS), c.checksOff)
			byTLS[rt.upstreamTLS.key] = tr
			c.transports = append(c.transports, tr)
		}
		rt.proxy = newProxy(rt, tr, c, log)
		rt.handler = rt.proxy
		if rt.guard != nil {
			rt.handler = rt.guard.handler(rt.proxy, rt.usesTokens())
		}
	}
	return c, nil
}
