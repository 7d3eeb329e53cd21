package csrf

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/http"
	"net/netip"
	"path"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/forgeproof/forgeproof/internal/netprefix"
)

// Protection guards a handler against cross-site request forgery. The zero
// value is ready to use: origin verification only, no trusted origins, no
// bypass patterns, no tokens.
//
// Every Set and Add method can be called concurrently with other methods and
// with request handling, and applies to requests that start after it
// returns. Each request sees one consistent configuration (bypass patterns
// excepted: a new one may already apply to requests in flight).
type Protection struct {
	mu  sync.Mutex // serializes writers; readers only load cfg
	cfg atomic.Pointer[config]
}

// New returns a Protection with the defaults of the zero value.
func New() *Protection { return &Protection{} }

// DenyHandler writes the response to a refused request. err says why.
type DenyHandler func(w http.ResponseWriter, r *http.Request, err *Error)

// Observer is told about every refusal, enforced or not (in report-only mode
// enforced is false and the request goes on). It runs on the request's
// goroutine before the response is written: keep it fast, and do not write
// to the response or read the body.
type Observer func(r *http.Request, err *Error, enforced bool)

// Mode says when a token is required on top of the origin checks.
type Mode int

const (
	// ModeOriginOnly (the default) checks origins only; requests without
	// Sec-Fetch-Site, Origin and Referer are treated as non-browser clients
	// and pass.
	ModeOriginOnly Mode = iota
	// ModeOriginAndToken requires, on top of the origin checks, a valid token
	// on every request with an unsafe method, browser or not.
	ModeOriginAndToken
	// ModeTokenIfNoBrowserHeaders requires a valid token only on requests
	// with neither Sec-Fetch-Site nor Origin: browsers too old to send them,
	// and non-browser clients.
	ModeTokenIfNoBrowserHeaders
)

// String returns the name of m: "origin-only", "origin-and-token" or
// "token-if-no-browser-headers", as configuration files spell it.
func (m Mode) String() string {
	switch m {
	case ModeOriginOnly:
		return "origin-only"
	case ModeOriginAndToken:
		return "origin-and-token"
	case ModeTokenIfNoBrowserHeaders:
		return "token-if-no-browser-headers"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// MarshalText returns the name of m, as String does; it fails for a Mode
// that is not one of the constants.
func (m Mode) MarshalText() ([]byte, error) {
	switch m {
	case ModeOriginOnly, ModeOriginAndToken, ModeTokenIfNoBrowserHeaders:
		return []byte(m.String()), nil
	}
	return nil, fmt.Errorf("csrf: invalid mode %d", int(m))
}

// UnmarshalText sets m to the Mode named text, as String prints it:
// "origin-only", "origin-and-token" or "token-if-no-browser-headers".
// Configuration files use these names.
func (m *Mode) UnmarshalText(text []byte) error {
	for _, v := range []Mode{ModeOriginOnly, ModeOriginAndToken, ModeTokenIfNoBrowserHeaders} {
		if string(text) == v.String() {
			*m = v
			return nil
		}
	}
	return fmt.Errorf("csrf: unknown mode %q: want origin-only, origin-and-token or token-if-no-browser-headers", text)
}

// config is one immutable snapshot of the settings. Writers copy it, change
// the copy and publish it; the bypass ServeMux is shared because it is safe
// for concurrent use on its own.
type config struct {
	exact     map[string]bool // normalized exact trusted origins
	wildcards []originPattern
	canonical []originPattern
	proxies   []netip.Prefix
	bypass    *http.ServeMux

	deny          DenyHandler
	observer      Observer
	reportOnly    bool
	allowSameSite bool
	mode          Mode

	keys                  *KeyRing
	binding               func(*http.Request) ([]byte, error)
	spa                   bool
	insecureLocalhostHTTP bool
	maxFormBytes          int64
}

// DefaultMaxFormBytes is how much of a form body is read, at most, to look
// for the csrf_token field (see [Protection.SetMaxFormBytes]).
const DefaultMaxFormBytes = 10 << 20

var zeroConfig = &config{maxFormBytes: DefaultMaxFormBytes}

func (p *Protection) load() *config {
	if c := p.cfg.Load(); c != nil {
		return c
	}
	return zeroConfig
}

// update applies change to a copy of the configuration and publishes it, or
// publishes nothing when change fails.
func (p *Protection) update(change func(c *config) error) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := *p.load()
	if err := change(&c); err != nil {
		return err
	}
	p.cfg.Store(&c)
	return nil
}

// AddTrustedOrigin allows requests from another origin. The pattern is an
// origin, "scheme://host[:port]" (the scheme is required: trusting a bare
// host would trust its plain-HTTP twin, gorilla/csrf's CVE-2025-47909), or a
// wildcard standing for exactly one DNS label, "https://*.example.com",
// which matches https://a.example.com but neither https://example.com nor
// https://a.b.example.com. A trusted origin passes the origin checks whatever
// Sec-Fetch-Site says; it does not waive a required token.
func (p *Protection) AddTrustedOrigin(pattern string) error {
	o, err := parseOriginPattern(pattern, true)
	if err != nil {
		return fmt.Errorf("csrf: trusted origin: %w", err)
	}
	return p.update(func(c *config) error {
		if o.wildcard {
			c.wildcards = append(slices.Clip(c.wildcards), o)
			return nil
		}
		c.exact = maps.Clone(c.exact)
		if c.exact == nil {
			c.exact = make(map[string]bool)
		}
		c.exact[o.String()] = true
		return nil
	})
}

// AddCanonicalOrigin declares a public origin of this service, such as
// "https://bank.example.com", so that the request's own origin no longer
// comes from the connection and the Host header. With one canonical origin,
// it is every request's own origin; with several, a request's own origin is
// the one whose host[:port] equals its Host, and a request whose Host
// matches none has no own origin (only trusted origins pass). Use it behind
// proxies that rewrite Host or terminate TLS.
func (p *Protection) AddCanonicalOrigin(origin string) error {
	o, err := parseOriginPattern(origin, false)
	if err != nil {
		return fmt.Errorf("csrf: canonical origin: %w", err)
	}
	return p.update(func(c *config) error {
		c.canonical = append(slices.Clip(c.canonical), o)
		return nil
	})
}

// AddTrustedProxy trusts the peer addresses in cidr ("10.0.0.0/8") or the
// single address ("127.0.0.1") to report the client-facing scheme and host
// in Forwarded (RFC 7239), X-Forwarded-Proto and X-Forwarded-Host. From
// any other peer those headers are ignored. Only the last element of
// Forwarded and the last value of the others are used: they are the ones
// the trusted proxy added, so it must add them rather than pass the
// client's on. Forwarded is parsed whole, quoted-strings included, and a
// syntax error anywhere in it (an unterminated quote, a control
// character, an empty element, a parameter twice in one element), a
// parameter whose name ends in for, by, host or proto but is none of
// them (Spring reads "xhost=" as host=), or a quoted value holding
// ',', ';', '=' or '\' (which naive parsers upstream read as separators)
// refuses the request with [ReasonForwardedInvalid], as does an unknown
// proto or an invalid host in either header ("wss" and "ws", which
// Traefik sends for a WebSocket handshake, are "https" and "http"). When Forwarded and
// X-Forwarded-* are both sent they must name the same origin (what one
// leaves out coming from the connection and Host), else the request is
// refused with [ReasonForwardedConflict]: an application may read either.
// Canonical origins, when set, take precedence over forwarded headers. It
// refuses, and changes nothing, a prefix with host bits set
// ("10.0.0.1/8"), a /0 prefix, and zones.
func (p *Protection) AddTrustedProxy(cidr string) error {
	pfx, err := netprefix.Parse(cidr)
	if err != nil {
		return fmt.Errorf("csrf: invalid trusted proxy %q: %w", cidr, err)
	}
	return p.update(func(c *config) error {
		c.proxies = append(slices.Clip(c.proxies), pfx)
		return nil
	})
}

// AddInsecureBypassPattern exempts requests that match pattern from every
// check, tokens included. The syntax and precedence are those of
// [http.ServeMux]; a request is exempt only when its path matches the
// pattern directly, not when ServeMux would redirect it there (after
// cleaning "/a/../b", or adding a trailing slash), nor when its path is
// not clean once percent-decoded ("/hooks/..%2Fb"), nor when it matches
// only with an encoded slash read as part of a segment ("/hooks/x%2Fdelete"
// matches "/hooks/{id}" in ServeMux, but a router that matches the decoded
// path serves /hooks/x/delete), nor when it matches only once a
// percent-encoded segment is decoded ("/%68ooks/x": chi, echo and
// gorilla/mux with UseEncodedPath match "%68ooks" as written), nor when
// a segment is one other servers read as a dot segment, though Go does not
// ("/hooks/..;/admin" is /admin to Tomcat, Jetty and Spring,
// "/hooks/..\admin" to IIS, as is "/hooks/.../admin" once Windows trims
// trailing dots and spaces).
//
// A pattern that names a method ("POST /hooks/") does not exempt a request
// carrying a method override that may change its method, as
// method-override middleware behind Handler would serve it as another:
// X-HTTP-Method-Override, X-HTTP-Method or X-Method-Override, a _method
// query parameter, or, on a POST, a _method field in its body. The body
// is read, as for a token, when it is urlencoded, multipart, or has no
// Content-Type at all (Rack reads that as a form), whatever the
// Content-Type's parameters; a body over the limit of
// [Protection.SetMaxFormBytes], a malformed multipart body, a Content-Type
// that readers may read differently (a second or ambiguous boundary, a
// charset other than UTF-8, ASCII or Latin-1, two Content-Type lines, a
// "/json" or "+json" anywhere in it, for which Laravel reads the body as
// JSON) is not exempt either. An override changes nothing only when it is empty,
// exactly the request's own method ("POST"), or GET, HEAD or OPTIONS in
// ASCII letters of any case and nothing else (echo serves " GET" and
// "post" as methods of their own). A pattern without a method exempts the
// path whatever the override, and reads no body. It returns an error, and
// changes nothing, when the pattern is invalid or conflicts with one
// already added.
//
// It also refuses patterns that ServeMux accepts but that would exempt
// nothing: a method not in upper case ("post /hooks/": methods are
// case-sensitive), a path that is not clean ("/hooks//x", "/a/../b":
// such requests are never exempt, see above), a URL
// ("https://a.example/hooks/", host "https:" to ServeMux), a path
// without its leading slash ("hooks/", host "hooks": a host must have a
// dot, be an IPv6 address or "localhost"; a path pattern such as
// "/hooks/" serves for a single-label host), and a host with a port
// ("a.example:8443/hooks/": ServeMux matches the request's Host without
// its port). A host is otherwise matched as ServeMux does.
func (p *Protection) AddInsecureBypassPattern(pattern string) error {
	if err := checkBypassPattern(pattern); err != nil {
		return fmt.Errorf("csrf: invalid bypass pattern %q: %w", pattern, err)
	}
	return p.update(func(c *config) (err error) {
		if c.bypass == nil {
			c.bypass = http.NewServeMux()
		}
		defer func() {
			// ServeMux reports bad patterns by panicking, before it
			// changes anything.
			if v := recover(); v != nil {
				err = fmt.Errorf("csrf: invalid bypass pattern %q: %v", pattern, v)
			}
		}()
		c.bypass.Handle(pattern, bypassSentinel)
		return nil
	})
}

// SetDenyHandler sets the handler that answers refused requests; nil
// restores the default: 403 with an RFC 9457 problem document
// (application/problem+json) when the client accepts JSON, plain text
// otherwise, both carrying the reason code.
func (p *Protection) SetDenyHandler(h DenyHandler) {
	p.update(func(c *config) error { c.deny = h; return nil })
}

// SetObserver sets the function told about every refusal, including those
// not enforced in report-only mode; nil removes it. Check does not call it.
func (p *Protection) SetObserver(o Observer) {
	p.update(func(c *config) error { c.observer = o; return nil })
}

// SetReportOnly makes Handler let refused requests through after telling
// the observer, so a deployment can be watched before it is enforced.
// Check is not affected: it still returns the refusal.
func (p *Protection) SetReportOnly(on bool) {
	p.update(func(c *config) error { c.reportOnly = on; return nil })
}

// SetAllowSameSite lets requests with Sec-Fetch-Site: same-site through.
// Off by default: same-site is another origin of the same site (another
// port, or any subdomain), which may be less trusted than this one.
func (p *Protection) SetAllowSameSite(on bool) {
	p.update(func(c *config) error { c.allowSameSite = on; return nil })
}

// SetMode sets when a token is required. It returns an error for a Mode
// that is not one of the constants.
func (p *Protection) SetMode(m Mode) error {
	switch m {
	case ModeOriginOnly, ModeOriginAndToken, ModeTokenIfNoBrowserHeaders:
	default:
		return fmt.Errorf("csrf: unknown mode %d", int(m))
	}
	return p.update(func(c *config) error { c.mode = m; return nil })
}

// SetKeyRing sets the keys that sign and verify tokens; nil, or a ring
// with no keys (the zero KeyRing), turns tokens off: in a mode that
// requires a token, such requests are then refused with [ReasonNoKeys]
// (fail closed). Replace the ring to rotate keys (see [KeyRing]).
func (p *Protection) SetKeyRing(k *KeyRing) {
	if k != nil && len(k.keys) == 0 {
		k = nil // nothing to sign with: minting would panic
	}
	p.update(func(c *config) error { c.keys = k; return nil })
}

// SetBinding sets the function that returns the value a request's tokens
// are bound to: a session ID, or the SHA-256 of the client certificate's
// public key. A token minted for one value fails for any other. The
// function returns (nil, nil) when the request has no session; the token is
// then bound to the pre-session cookie (a random value in the
// "__Host-forgeproof-csrf" cookie that Handler sets). An error makes the
// token check fail closed with [ReasonBindingUnavailable]. nil (the
// default) binds every token to the pre-session cookie.
//
// A function that returns values of more than one kind (a session cookie's
// value for some requests, a certificate's key hash for others, or both
// joined) must prefix each with its kind and join them unambiguously, as
// the gateway does ("session:", "spki-sha256:"): a client picks its own
// cookie's value, and another user's key hash is no secret, so a bare
// cookie value spelled as that hash would get tokens valid for that
// user's certificate.
func (p *Protection) SetBinding(fn func(*http.Request) ([]byte, error)) {
	p.update(func(c *config) error { c.binding = fn; return nil })
}

// SetSPA turns on the single-page-application convention: Handler sets a
// JavaScript-readable "XSRF-TOKEN" cookie holding a token, and the token is
// also accepted in the "X-XSRF-TOKEN" header (Angular and Axios do this by
// default).
func (p *Protection) SetSPA(on bool) {
	p.update(func(c *config) error { c.spa = on; return nil })
}

// SetInsecureLocalhostHTTP is for development over plain HTTP. When on,
// cookies set in answer to plain-HTTP requests (no TLS) whose Host is
// localhost, 127.0.0.1 or [::1] drop the "__Host-" prefix and the Secure
// attribute, which some browsers refuse on plain HTTP. HTTPS requests and
// other hosts are not affected. Never turn it on in production: behind a
// proxy that terminates TLS and sends "Host: localhost:…" (nginx's
// proxy_pass http://localhost:… does), every visitor's request qualifies,
// and a sibling subdomain can then plant the unprefixed pre-session
// cookie and know the value tokens are bound to.
func (p *Protection) SetInsecureLocalhostHTTP(on bool) {
	p.update(func(c *config) error { c.insecureLocalhostHTTP = on; return nil })
}

// SetMaxFormBytes sets how much of a form body (urlencoded or multipart) is
// read, at most, to find the csrf_token field when no token header is sent;
// n <= 0 restores [DefaultMaxFormBytes]. The bytes read are given back to
// the handler, so the body is read from the network once. A larger body is
// refused with [ReasonTokenMissing]: send the token in the X-CSRF-Token
// header instead (large uploads should).
func (p *Protection) SetMaxFormBytes(n int64) {
	if n <= 0 {
		n = DefaultMaxFormBytes
	}
	// The body is read to one byte past the limit, to tell a larger one:
	// math.MaxInt64 would overflow into reading nothing.
	n = min(n, math.MaxInt64-1)
	p.update(func(c *config) error { c.maxFormBytes = n; return nil })
}

type noopHandler struct{}

func (noopHandler) ServeHTTP(http.ResponseWriter, *http.Request) {}

var bypassSentinel http.Handler = &noopHandler{}

// bypassed reports whether r matches an insecure bypass pattern directly.
func (c *config) bypassed(r *http.Request) bool {
	if c.bypass == nil {
		return false
	}
	// ServeMux matches the escaped path, so "/hooks/..%2Ftransfer" is under
	// "/hooks/"; a backend that decodes %2F before resolving dot segments
	// serves /transfer. Exempt only paths that are clean once decoded too.
	if cleanPath(r.URL.Path) != r.URL.Path || otherDotSegment(r.URL.Path) {
		return false
	}
	if h, _ := c.bypass.Handler(r); h != bypassSentinel {
		return false
	}
	if r.URL.RawPath != "" {
		// ServeMux matches "/hooks/x%2Fdelete" to "/hooks/{id}", with id
		// "x/delete"; routers that match the decoded path (gin's and
		// gorilla/mux's defaults) serve /hooks/x/delete. And ServeMux
		// decodes "/%68ooks/x" to the segment "hooks", while routers that
		// match the escaped path as written (chi, echo, gorilla/mux with
		// UseEncodedPath) read "%68ooks", which no static route names but
		// a {param} takes. Exempt only a path that all three readings put
		// under a bypass pattern.
		d, u := *r, *r.URL
		d.URL = &u
		u.RawPath = ""
		if h, _ := c.bypass.Handler(&d); h != bypassSentinel {
			return false
		}
		u.Path = r.URL.RawPath // escapes kept as text
		if h, _ := c.bypass.Handler(&d); h != bypassSentinel {
			return false
		}
	}
	// A pattern that names a method ("POST /hooks/") exempts that method
	// only, but method-override middleware behind Handler (gorilla's
	// HTTPMethodOverrideHandler, echo's MethodOverride, Rack's, Express's,
	// Symfony's) turns a POST carrying _method=DELETE, in a form or an
	// untyped body a cross-site page can send, into a DELETE that the
	// pattern never named. Such a request is not exempt (changesMethod
	// says which values change the method, formBody which bodies are
	// read).
	d := *r
	d.Method = bypassProbeMethod
	if h, _ := c.bypass.Handler(&d); h == bypassSentinel {
		return true // the path is exempt whatever the method
	}
	return !methodOverridden(r, r.Method) && !(r.Method == http.MethodPost && c.formOverride(r))
}

// checkBypassPattern refuses the bypass patterns that ServeMux accepts
// but that never match what they seem to name (see
// AddInsecureBypassPattern). It splits the pattern as ServeMux does and
// leaves every other mistake to ServeMux.
func checkBypassPattern(pattern string) error {
	method, rest := "", pattern
	if i := strings.IndexAny(pattern, " \t"); i >= 0 {
		method, rest = pattern[:i], strings.TrimLeft(pattern[i+1:], " \t")
	}
	if strings.ContainsFunc(method, func(r rune) bool { return 'a' <= r && r <= 'z' }) {
		return fmt.Errorf("method %q is not upper case: methods are case-sensitive, so it would match no request (did you mean %q?)", method, strings.ToUpper(method)+" "+rest)
	}
	slash := strings.IndexByte(rest, '/')
	if slash < 0 {
		return nil // ServeMux refuses it: "host/path missing /"
	}
	path := rest[slash:]
	if host := rest[:slash]; host != "" {
		if _, after, ok := strings.Cut(rest, "://"); ok {
			want := "/"
			if i := strings.IndexByte(after, '/'); i >= 0 {
				want = after[i:]
			}
			return fmt.Errorf("a URL: ServeMux would read %q as a host; a bypass pattern is a path, or a host and a path (did you mean %q?)", host, want)
		}
		if h, _, err := net.SplitHostPort(host); err == nil {
			want := h + path
			if method != "" {
				want = method + " " + want
			}
			return fmt.Errorf("host %q has a port: ServeMux matches a pattern's host with the request's Host without its port, so it would match no request (did you mean %q?)", host, want)
		}
		if !strings.ContainsAny(host, ".:[]") && host != "localhost" {
			return fmt.Errorf("ServeMux would read %q as a host: a path starts with '/' (did you mean %q?)", host, "/"+rest)
		}
	}
	if clean := cleanPath(path); clean != path {
		return fmt.Errorf("path %q is not clean: no request to it is ever exempt (did you mean %q?)", path, clean)
	}
	return nil
}

// bypassProbeMethod is a method no bypass pattern names: a request with it
// matches only patterns without a method.
const bypassProbeMethod = "FORGEPROOF-ANY-METHOD"

// otherDotSegment reports whether p has a segment that servers behind a
// Go proxy read as "." or "..", though ServeMux and path.Clean do not:
// one with ";params" (Tomcat, Jetty and Spring drop them: "/hooks/..;/admin"
// is /admin), one split by '\' (IIS and Windows read it as '/':
// "/hooks/..\admin"), or one whose trailing dots and spaces Windows trims
// ("/hooks/... /admin"). Such a path is not exempt: the application may
// serve another route than the pattern names.
func otherDotSegment(p string) bool {
	if strings.IndexByte(p, ';') < 0 && strings.IndexByte(p, '\\') < 0 && !strings.Contains(p, "..") && !strings.Contains(p, ". ") && !strings.Contains(p, "./") {
		return false // the common path: nothing to look at
	}
	for seg := range strings.FieldsFuncSeq(p, func(c rune) bool { return c == '/' || c == '\\' }) {
		seg, _, _ = strings.Cut(seg, ";")
		if strings.TrimRight(seg, ". ") == "" {
			return true
		}
	}
	return false
}

// cleanPath is ServeMux's canonical form of p: rooted, without dot
// segments or repeated slashes, keeping a trailing slash.
func cleanPath(p string) string {
	if p == "" || p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		np += "/"
	}
	return np
}

// trusted reports whether the origin o is trusted.
func (c *config) trusted(o string) bool {
	if c.exact[o] {
		return true
	}
	for _, w := range c.wildcards {
		if w.match(o) {
			return true
		}
	}
	return false
}
