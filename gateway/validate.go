package gateway

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/listenaddr"
	"github.com/forgeproof/forgeproof/internal/netprefix"
	"github.com/forgeproof/forgeproof/internal/openfolder"
)

// Defaults of the optional settings.
const (
	DefaultAdminAddress                  = "127.0.0.1:9090"
	DefaultReadHeaderTimeout             = 10 * time.Second
	DefaultIdleTimeout                   = 120 * time.Second
	DefaultStallTimeout                  = 60 * time.Second
	DefaultMaxHeaderBytes                = 64 << 10
	DefaultUpstreamDialTimeout           = 5 * time.Second
	DefaultUpstreamTLSHandshakeTimeout   = 5 * time.Second
	DefaultUpstreamResponseHeaderTimeout = 30 * time.Second
	DefaultUpstreamIdleConnTimeout       = 90 * time.Second
	DefaultUpstreamMaxIdleConnsPerHost   = 64
	DefaultUpstreamMaxConnsPerHost       = 4096
	DefaultShutdownGrace                 = 30 * time.Second
	DefaultHTTP2MaxConcurrentStreams     = 100
	DefaultHTTP2ReadIdleTimeout          = 30 * time.Second
	DefaultHTTP2PingTimeout              = 15 * time.Second
)

// Validate checks the whole configuration, including that the files it
// names can be read and parsed, and returns every problem as ConfigErrors,
// or nil. It does not modify c.
func (c *Config) Validate() error {
	if c == nil {
		return errNilConfig()
	}
	_, err := compile(c, hooks{}, nil)
	return err
}

// compiler turns a Config into the runtime state a Gateway serves
// (compile), collecting every problem on the way as ConfigErrors placed
// in the file. Its methods check one part of the config each and build
// what the request path needs from it.
type compiler struct {
	cfg  *Config
	errs ConfigErrors
}

func (p *compiler) add(key, format string, a ...any) {
	e := &ConfigError{File: p.cfg.file, Key: key, Msg: fmt.Sprintf(format, a...)}
	// The line of the key, else of the nearest enclosing key that has one
	// (a required key that is missing is reported at its parent).
	for k := key; k != ""; k = parentKey(k) {
		if line, ok := p.cfg.lines[k]; ok {
			e.Line = line
			break
		}
	}
	p.errs = append(p.errs, e)
}

// closedFolder reports whether no one but its owners may replace file
// (openfolder.Find), and adds the problem at key when others may: with
// a key, a CA bundle that then trusts their own CA or a CRL that
// un-revokes, they could log in as anyone or forge every token. An empty
// file passes (a missing key is reported on its own).
func (p *compiler) closedFolder(key, file string) bool {
	if err := openfolder.Check(file); err != nil {
		p.add(key, "%v", err)
		return false
	}
	return true
}

func parentKey(k string) string {
	i := strings.LastIndexAny(k, ".[")
	if i < 0 {
		return ""
	}
	return k[:i]
}

func (p *compiler) err() error {
	if len(p.errs) == 0 {
		return nil
	}
	return p.errs
}

// withDefaults returns a copy of the limits with zero fields defaulted.
func (l Limits) withDefaults() Limits {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&l.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	set(&l.IdleTimeout, DefaultIdleTimeout)
	set(&l.StallTimeout, DefaultStallTimeout)
	set(&l.UpstreamDialTimeout, DefaultUpstreamDialTimeout)
	set(&l.UpstreamTLSHandshakeTimeout, DefaultUpstreamTLSHandshakeTimeout)
	set(&l.UpstreamResponseHeaderTimeout, DefaultUpstreamResponseHeaderTimeout)
	set(&l.UpstreamIdleConnTimeout, DefaultUpstreamIdleConnTimeout)
	set(&l.ShutdownGrace, DefaultShutdownGrace)
	set(&l.HTTP2ReadIdleTimeout, DefaultHTTP2ReadIdleTimeout)
	set(&l.HTTP2PingTimeout, DefaultHTTP2PingTimeout)
	if l.HTTP2MaxConcurrentStreams == 0 {
		l.HTTP2MaxConcurrentStreams = DefaultHTTP2MaxConcurrentStreams
	}
	if l.MaxHeaderBytes == 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.UpstreamMaxIdleConnsPerHost == 0 {
		l.UpstreamMaxIdleConnsPerHost = DefaultUpstreamMaxIdleConnsPerHost
	}
	if l.UpstreamMaxConnsPerHost == 0 {
		l.UpstreamMaxConnsPerHost = DefaultUpstreamMaxConnsPerHost
	}
	return l
}

func (p *compiler) limits(l Limits) {
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"limits.read-header-timeout", l.ReadHeaderTimeout},
		{"limits.read-timeout", l.ReadTimeout},
		{"limits.write-timeout", l.WriteTimeout},
		{"limits.idle-timeout", l.IdleTimeout},
		{"limits.stall-timeout", l.StallTimeout},
		{"limits.upstream-dial-timeout", l.UpstreamDialTimeout},
		{"limits.upstream-tls-handshake-timeout", l.UpstreamTLSHandshakeTimeout},
		{"limits.upstream-response-header-timeout", l.UpstreamResponseHeaderTimeout},
		{"limits.upstream-idle-conn-timeout", l.UpstreamIdleConnTimeout},
		{"limits.shutdown-grace", l.ShutdownGrace},
		{"limits.shutdown-delay", l.ShutdownDelay},
		{"limits.http2-read-idle-timeout", l.HTTP2ReadIdleTimeout},
		{"limits.http2-ping-timeout", l.HTTP2PingTimeout},
	} {
		if d.v < 0 {
			p.add(d.key, "must not be negative")
		}
	}
	if l.MaxHeaderBytes < 0 {
		p.add("limits.max-header-bytes", "must not be negative")
	}
	if l.MaxHeaderBytes > 0 && l.MaxHeaderBytes < 4096 {
		p.add("limits.max-header-bytes", "%d is too small: browsers send more; use at least 4096", l.MaxHeaderBytes)
	}
	if l.MaxBodyBytes < 0 {
		p.add("limits.max-body-bytes", "must not be negative")
	}
	if l.UpstreamMaxIdleConnsPerHost < 0 {
		p.add("limits.upstream-max-idle-conns-per-host", "must not be negative")
	}
	if l.UpstreamMaxConnsPerHost < 0 {
		p.add("limits.upstream-max-conns-per-host", "must not be negative (0 means the default, %d)", DefaultUpstreamMaxConnsPerHost)
	}
	switch n := l.HTTP2MaxConcurrentStreams; {
	case n < 0:
		p.add("limits.http2-max-concurrent-streams", "must not be negative (0 means the default, %d)", DefaultHTTP2MaxConcurrentStreams)
	case n > maxHTTP2Streams:
		p.add("limits.http2-max-concurrent-streams", "%d is more than %d: every stream can hold a request to the upstream, so one connection could hold that many", n, maxHTTP2Streams)
	}
	if d := l.StallTimeout; d > 0 && d < time.Second {
		p.add("limits.stall-timeout", "%v is too short: a client on a slow network would be cut off; use at least 1s", d)
	}
	if d := l.HTTP2PingTimeout; d > 0 && d < time.Second {
		p.add("limits.http2-ping-timeout", "%v is too short: a client on a slow network would be cut off; use at least 1s", d)
	}
	if d := l.HTTP2ReadIdleTimeout; d > 0 && d < time.Second {
		p.add("limits.http2-read-idle-timeout", "%v is too short: every connection would be pinged all the time; use at least 1s", d)
	}
}

// maxHTTP2Streams bounds limits.http2-max-concurrent-streams.
const maxHTTP2Streams = 1000

// hostPort checks a listen address.
func (p *compiler) hostPort(key, addr string) {
	if addr == "" {
		p.add(key, "is required (host:port, for example \":8443\")")
		return
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		p.add(key, "invalid address %q: want host:port", addr)
		return
	}
	if _, err := net.LookupPort("tcp", port); err != nil || port == "" {
		p.add(key, "invalid port in %q", addr)
	}
	_ = host
}

// sockets refuses two addresses of cfg (listeners, admin, authz) that
// would bind the same socket, however they are spelled: serve would
// fail at start with "address already in use", which check-config must
// say first.
func (p *compiler) sockets(cfg *Config) {
	type bound struct{ key, addr string }
	var all []bound
	// The admin listener first: when it is the default, not in the
	// file, the error goes to the listener that clashes with it.
	switch a := cfg.Admin.Address; a {
	case "off":
	case "":
		all = append(all, bound{"the default admin.address", DefaultAdminAddress})
	default:
		all = append(all, bound{"admin.address", a})
	}
	for i, l := range cfg.Listeners {
		all = append(all, bound{fmt.Sprintf("listeners[%d].address", i), l.Address})
	}
	if cfg.Authz != nil {
		all = append(all, bound{"authz.address", cfg.Authz.Address})
	}
	for i, b := range all {
		for _, prev := range all[:i] {
			if !listenaddr.Same(b.addr, prev.addr) {
				continue
			}
			if b.addr == prev.addr {
				p.add(b.key, "%q is also the address of %s", b.addr, prev.key)
			} else {
				p.add(b.key, "%q is the same address as %s (%q): both cannot listen on it", b.addr, prev.key, prev.addr)
			}
			break
		}
	}
}

// isLoopback reports whether a listen address only accepts local
// connections. "localhost" counts; an empty host (all interfaces) does not.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// prefixes parses a list of trusted peers: IP addresses or CIDR prefixes.
func (p *compiler) prefixes(key string, list []string) []netip.Prefix {
	var out []netip.Prefix
	for i, s := range list {
		pfx, err := netprefix.Parse(s)
		if err != nil {
			p.add(fmt.Sprintf("%s[%d]", key, i), "invalid IP address or CIDR prefix %q: %v", s, err)
			continue
		}
		out = append(out, pfx)
	}
	return out
}

// upstreamURL checks a route's upstream; optional says it may be absent
// (forgeproof authz, where the proxy forwards).
func (p *compiler) upstreamURL(key, s string, optional bool) *url.URL {
	if s == "" && optional {
		return nil
	}
	if s == "" {
		p.add(key, "is required (for example \"http://127.0.0.1:8080\")")
		return nil
	}
	// The messages go to the log, /healthz and check-config's output:
	// a password in the URL is not repeated there.
	shown := redactUserinfo(s)
	u, err := url.Parse(s)
	switch {
	case !strings.Contains(s, "://"):
		// "127.0.0.1:8080" does not parse; "localhost:8080" parses with
		// the scheme "localhost": both lack the scheme, so say so.
		p.add(key, "invalid upstream %q: no scheme: want a URL such as \"http://%s\"", shown, shown)
		return nil
	case err != nil:
		p.add(key, "invalid URL %q", shown)
		return nil
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		p.add(key, "invalid upstream %q: scheme must be http or https", shown)
	case u.Host == "":
		p.add(key, "invalid upstream %q: host is required", shown)
	case u.User != nil:
		p.add(key, "invalid upstream %q: credentials in the URL are not supported", shown)
	case u.RawQuery != "" || u.Fragment != "":
		p.add(key, "invalid upstream %q: a query or fragment is not supported", shown)
	default:
		return u
	}
	return nil
}

// redactUserinfo is the URL s with the password of its userinfo, if any,
// replaced by "xxxxx" (as url.URL.Redacted), also when s does not parse:
// the text between "//" and the last '@' before the path.
func redactUserinfo(s string) string {
	_, rest, ok := strings.Cut(s, "//")
	if !ok {
		return s
	}
	start := len(s) - len(rest)
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	at := strings.LastIndexByte(authority, '@')
	if at < 0 {
		return s
	}
	user, _, hasPassword := strings.Cut(authority[:at], ":")
	if !hasPassword {
		return s
	}
	return s[:start] + user + ":xxxxx" + s[start+at:]
}

// pathPrefix checks and normalises a route's path prefix: it must be a
// clean absolute path; a trailing slash is dropped (matching is by
// segments).
func (p *compiler) pathPrefix(key, s string) string {
	if s == "" {
		return "/"
	}
	if !strings.HasPrefix(s, "/") {
		p.add(key, "invalid path prefix %q: must start with \"/\"", s)
		return s
	}
	if clean := path.Clean(s); clean != strings.TrimSuffix(s, "/") && s != "/" {
		p.add(key, "invalid path prefix %q: must be a clean path (did you mean %q?)", s, clean)
		return s
	}
	if strings.ContainsAny(s, "?#%*") {
		p.add(key, "invalid path prefix %q: must not contain ?, #, %% or *", s)
		return s
	}
	if s != "/" {
		s = strings.TrimSuffix(s, "/")
	}
	return s
}

// routeHost checks and normalises a route's host: a DNS name or IP
// literal without a port, lower case.
func (p *compiler) routeHost(key, s string) string {
	if s == "" {
		return ""
	}
	h, why := hostName(s)
	if why != "" {
		p.add(key, "invalid host %q%s", s, why)
		return h
	}
	// The form requests are routed by (parseHost): an IP address in
	// canonical form, and no name that requests are refused for.
	if a, err := netip.ParseAddr(h); err == nil {
		return a.String()
	}
	if _, why := parseHost(h); why != "" {
		p.add(key, "invalid host %q: it would match no request, whose Host is refused (host-invalid) when it has %s", s, why)
	}
	return h
}

// upstreamServerName checks and normalises a route's upstream server
// name, with the rules of a route's host.
func (p *compiler) upstreamServerName(key, s string) string {
	h, why := hostName(s)
	if why != "" {
		p.add(key, "invalid server name %q%s", s, why)
	}
	return h
}

// hostName normalises a DNS name or IP literal without a port to lower
// case. why is empty when s is one, else the end of a message saying why
// not (": leave the port out").
func hostName(s string) (h, why string) {
	h = strings.ToLower(s)
	if strings.Contains(h, "://") || strings.ContainsAny(h, "/?#@ ") {
		return h, ": want a host name such as \"api.example.com\", not a URL"
	}
	if _, _, err := net.SplitHostPort(h); err == nil {
		return h, ": leave the port out"
	}
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if ip, err := netip.ParseAddr(h); err == nil && ip.Zone() == "" {
		return h, ""
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || strings.Trim(label, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			return h, ": want a DNS name or an IP address"
		}
	}
	return strings.TrimSuffix(h, "."), ""
}
