package gateway

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// Config is the whole gateway configuration: what LoadConfig reads from a
// YAML file, or what a Go program builds directly. The zero values of the
// optional fields mean the documented defaults (the Default… constants;
// docs/gateway.md has every key); New validates the whole configuration
// before serving anything.
type Config struct {
	// Listeners accept client connections; at least one is required.
	Listeners []Listener `key:"listeners"`
	// Routes map a host and path prefix to an upstream; at least one is
	// required. The most specific route wins (see Route).
	Routes []Route `key:"routes"`

	// TrustedProxies are the addresses (CIDR prefixes or single IPs) of
	// proxies in front of the gateway whose X-Forwarded-For,
	// X-Forwarded-Proto, X-Forwarded-Host and Forwarded headers may be
	// believed. From any other peer those headers are discarded.
	TrustedProxies []string `key:"trusted-proxies"`
	// TrustedForwarders may vouch for a client certificate in a request
	// header (for a TLS-terminating load balancer in front of the
	// gateway). Empty means no forwarded identity is ever accepted.
	TrustedForwarders []Forwarder `key:"trusted-forwarders"`

	// Tokens configures CSRF tokens, used by routes whose CSRF mode needs
	// them.
	Tokens Tokens `key:"tokens"`

	// IdentityForwarding is how the verified client identity reaches the
	// upstream: forwarded.RFC9440 (Client-Cert and Client-Cert-Chain; the
	// default, when nil), forwarded.XFCC (Envoy's X-Forwarded-Client-Cert)
	// or forwarded.Both. In YAML: rfc9440, xfcc or both.
	IdentityForwarding *forwarded.Format `key:"identity-forwarding"`
	// StripRequestHeaders names more client request headers never to
	// forward, beside the built-in list of other products' identity
	// headers (docs/security-model.md, "What the gateway forwards"): header
	// names, or prefixes ending in '*' ("X-Corp-Auth-*"). Names match in
	// any case and with '_' or any other punctuation for '-'.
	StripRequestHeaders []string `key:"strip-request-headers"`

	// Admin is the admin listener (metrics, health, readiness): on
	// 127.0.0.1:9090 by default, loopback only.
	Admin Admin `key:"admin"`
	// Log configures the logs of "forgeproof serve" (see Log).
	Log Log `key:"log"`
	// Limits bounds sizes, time-outs and the shutdown drain (see Limits).
	Limits Limits `key:"limits"`
	// Workers is how many processes "forgeproof serve" serves with (see
	// Workers): 1 when unset.
	Workers Workers `key:"workers"`

	// Authz, when set, makes this the configuration of "forgeproof
	// authz", the decision service for a proxy (see Authz), instead of
	// "forgeproof serve".
	Authz *Authz `key:"authz"`

	// file and lines locate keys in the file LoadConfig read, for errors.
	file  string
	lines map[string]int
}

// Listener is one address the gateway accepts TLS connections on.
type Listener struct {
	// Address is host:port; ":0" and "127.0.0.1:0" pick a free port
	// (see Gateway.Addrs).
	Address string `key:"address"`
	// TLS is the listener's server certificates and how it verifies
	// client certificates (see ListenerTLS).
	TLS ListenerTLS `key:"tls"`
	// ProxyProtocol, when set, makes the listener read a PROXY protocol
	// header (v1 or v2) at the start of every connection, from a trusted
	// L4 balancer only, and use the client address it carries. Nil: the
	// TCP peer is the client. Turning it on or off needs a restart.
	ProxyProtocol *ProxyProtocol `key:"proxy-protocol"`
	// HTTP2 says whether the listener offers HTTP/2 in ALPN beside
	// HTTP/1.1: HTTP2On ("on", the default), HTTP2Off ("off": HTTP/1.1
	// only) or HTTP2InsecureOnWithoutCheckHost.
	//
	// Over HTTP/2 a browser reuses one connection, and the client
	// certificate presented on it, for every host name the server
	// certificate covers (and that resolves to the same address). So
	// on an HTTP/2 connection with a client certificate, a request
	// whose Host (:authority) is not the connection's TLS server name
	// is always refused with 421 Misdirected Request (reason
	// misdirected-request), on which browsers retry on a new
	// connection for that name; ListenerTLS.CheckHost extends the check
	// to HTTP/1.1 connections. HTTP2InsecureOnWithoutCheckHost turns
	// that check off for HTTP/2 too: a certificate asked for one host
	// name then authenticates requests for every other.
	//
	// A reload changes what new connections are offered; open HTTP/2
	// connections stay HTTP/2. Stream and header limits are in Limits.
	HTTP2 HTTP2Mode `key:"http2"`
}

// HTTP2Mode is Listener.HTTP2. It reads and writes itself as "on",
// "off" or "insecure-on-without-check-host".
type HTTP2Mode int

// Values of Listener.HTTP2.
const (
	HTTP2On                         HTTP2Mode = iota // the zero value
	HTTP2Off                                         // HTTP/1.1 only
	HTTP2InsecureOnWithoutCheckHost                  // HTTP/2 without the Host check
)

var http2Modes = [...]string{"on", "off", "insecure-on-without-check-host"}

// String returns m's name, or "HTTP2Mode(n)" for a value that is none of
// the constants.
func (m HTTP2Mode) String() string {
	if b, err := m.MarshalText(); err == nil {
		return string(b)
	}
	return fmt.Sprintf("HTTP2Mode(%d)", int(m))
}

// MarshalText returns m's name; it fails for a value that is none of
// the constants.
func (m HTTP2Mode) MarshalText() ([]byte, error) {
	return enumText(http2Modes[:], m, "HTTP/2 mode")
}

// UnmarshalText sets m from its name.
func (m *HTTP2Mode) UnmarshalText(text []byte) error {
	if i := enumIndex(http2Modes[:], string(text)); i >= 0 {
		*m = HTTP2Mode(i)
		return nil
	}
	return fmt.Errorf("unknown value %q: want %q (the default), %q or %q", text, http2Modes[0], http2Modes[1], http2Modes[2])
}

// ProxyProtocol is the PROXY protocol (HAProxy's, v1 text or v2 binary)
// on a listener behind an L4 load balancer. Connections from any peer
// outside Trusted are refused and logged (reason proxy-untrusted-peer),
// header or not: on such a listener a header is a claim about the
// client's address that only a balancer may make. A trusted balancer's
// connection without a header, or with a malformed one, is refused too
// (proxy-header-missing, proxy-header-invalid) unless Optional is set.
// The client address from the header is then the connection's peer for
// everything: Config.TrustedProxies, Config.TrustedForwarders' addresses,
// the access log, handshake-failure logs and X-Forwarded-For.
type ProxyProtocol struct {
	// Trusted are the balancers' addresses (CIDR prefixes or single
	// IPs), as the gateway sees them (the TCP peer); required.
	Trusted []string `key:"trusted"`
	// Optional serves a trusted balancer's connection that carries no
	// header under the balancer's own address instead of refusing it
	// (for a balancer being switched over). Default false: fail closed.
	Optional bool `key:"optional"`
	// HeaderTimeout bounds how long a trusted balancer may take to send
	// the header after connecting; then the connection is refused
	// (proxy-header-missing), or served without a header when Optional.
	// Default 5s (DefaultProxyHeaderTimeout).
	HeaderTimeout time.Duration `key:"header-timeout"`
}

// ServerCertificate is a PEM server certificate file (with any
// intermediates after it) and its key file.
type ServerCertificate struct {
	CertFile string `key:"cert-file"`
	KeyFile  string `key:"key-file"`
}

// TrustDomainCAs are client CA bundles bound to one SPIFFE trust domain,
// as go-spiffe's bundle per trust domain: a client certificate issued
// through one of them must be an X509-SVID of TrustDomain, and a client
// certificate naming TrustDomain in a spiffe URI SAN must be issued
// through one of them (mtls.ServerConfig.ClientCAs has the rules).
type TrustDomainCAs struct {
	// TrustDomain is the trust domain's name ("partner.example").
	TrustDomain string `key:"trust-domain"`
	// CAFiles are its CA bundles.
	CAFiles []string `key:"ca-files"`
}

// ListenerTLS is a listener's TLS configuration. Files are PEM; they are
// read again on every reload.
type ListenerTLS struct {
	// CertFile and KeyFile are the default server certificate (with any
	// intermediates after it) and its key.
	CertFile string `key:"cert-file"`
	KeyFile  string `key:"key-file"`
	// Certificates are more server certificates for the same listener,
	// each presented to clients whose SNI matches one of its DNS names
	// (mtls.ServerConfig.Certificates has the rules); without CertFile,
	// the first one is the default.
	Certificates []ServerCertificate `key:"certificates"`
	// ClientCAFiles are the CA bundles client certificates must chain to.
	ClientCAFiles []string `key:"client-ca-files"`
	// TrustDomainCAs are more client CAs, each bound to a SPIFFE trust
	// domain (mtls.Source.TrustDomain): they issue only X509-SVIDs of
	// it, identified by their SPIFFE ID alone
	// (mtls.Identity.SPIFFEOnly), and only they issue its SPIFFE IDs.
	TrustDomainCAs []TrustDomainCAs `key:"trust-domain-cas"`
	// ClientAuth is mtls.RequireClientCert (the zero value: every
	// connection presents a valid certificate; for service-only
	// listeners) or mtls.VerifyClientCertIfGiven (a certificate is asked
	// for and verified when sent; for hosts that also serve browsers and
	// CORS preflights). In YAML: require or verify-if-given.
	ClientAuth mtls.ClientAuthMode `key:"client-auth"`
	// CRLFiles are certificate revocation lists (PEM or DER) of the client
	// CAs; a revoked client certificate is refused at the handshake.
	CRLFiles []string `key:"crl-files"`
	// CRLGracePeriod lets a CRL be used this long after its NextUpdate;
	// after that every certificate it covers is refused until a fresh CRL
	// is loaded (fail closed). Default 0.
	CRLGracePeriod time.Duration `key:"crl-grace-period"`
	// MinVersion is the oldest TLS version accepted: TLS 1.3 (the zero
	// value) or tls.VersionTLS12. In YAML: "1.3" or "1.2".
	MinVersion TLSVersion `key:"min-version"`
	// CheckHost refuses with 421 (reason misdirected-request) a request
	// on an HTTP/1.1 connection that presented a client certificate when
	// its Host is not the connection's TLS server name (SNI): a
	// certificate asked for one host name then never authenticates
	// requests for another that shares the listener. A connection
	// without SNI serves only IP-literal hosts. Connections without a
	// certificate are not checked. Requests on HTTP/2 connections, the
	// only ones browsers reuse across host names, are checked whatever
	// CheckHost says (see Listener.HTTP2). Default false: browsers never
	// send a request for another host on an HTTP/1.1 connection, and
	// other clients that connect by IP address with a server name set
	// keep working.
	CheckHost bool `key:"check-host"`
}

// Route sends requests for a host and path prefix to an upstream.
//
// A route with a Host matches only that host (case-insensitive, port
// ignored); a route without one matches any host. Among matching routes
// the one with a Host wins, then the longest PathPrefix, then the first.
type Route struct {
	// Name labels the route in logs and metrics; default "routes[N]".
	Name string `key:"name"`
	// Host restricts the route to one host (see the type's doc); empty
	// matches any host.
	Host string `key:"host"`
	// PathPrefix is matched against the cleaned request path at segment
	// boundaries: "/api" matches "/api" and "/api/x", not "/apix".
	// Default "/".
	PathPrefix string `key:"path-prefix"`
	// Upstream is the http or https URL requests are forwarded to; its
	// path is prepended to the request path.
	Upstream string `key:"upstream"`
	// UpstreamCAFile is a PEM bundle of the CAs that issue an https
	// upstream's certificate; empty means the system roots.
	UpstreamCAFile string `key:"upstream-ca-file"`
	// UpstreamCertFile and UpstreamKeyFile are the PEM certificate (with
	// any intermediates after it) and private key the gateway presents to
	// an https upstream that asks for a client certificate: both or
	// neither. The certificate must be valid now and, if it lists
	// extended key usages, allow clientAuth. Empty means none is sent.
	UpstreamCertFile string `key:"upstream-cert-file"`
	UpstreamKeyFile  string `key:"upstream-key-file"`
	// UpstreamServerName is the name the https upstream's certificate is
	// verified against and the TLS server name (SNI) sent to it, when it
	// differs from the host in Upstream (for example an upstream at
	// https://127.0.0.1:8443 whose certificate names svc.internal). An IP
	// address is verified but not sent as SNI. Default: Upstream's host.
	UpstreamServerName string `key:"upstream-server-name"`
	// UpstreamReuseAfterBody keeps the upstream connection for other
	// requests after a request with a body (POST, PUT, PATCH, any method
	// but the five below). By default such a request goes with
	// "Connection: close": an upstream that answers
	// without reading a body (Python's http.server, hand-written
	// servers) would parse it as a request of its own, one no check saw,
	// with whatever identity headers the client wrote into it. Set it
	// only for upstreams that read or discard every body they do not use
	// (Go's net/http, Node, gunicorn, Puma do). A GET, HEAD, OPTIONS,
	// DELETE or TRACE with a body closes the connection either way.
	UpstreamReuseAfterBody bool `key:"upstream-reuse-after-body"`

	// Allow lists the client identities that may use the route. A zero
	// Allow, which would let no one in, is a configuration error
	// ("allows nobody"): say who, or Unauthenticated.
	Allow Allow `key:"allow"`
	// Browsers says whether browsers may use the route. When false, a
	// request carrying browser-only Fetch Metadata headers
	// (Sec-Fetch-Site, Sec-Fetch-Mode) is refused with reason
	// "browser-not-allowed". Default true (nil).
	Browsers *bool `key:"browsers"`
	// AllowUnderscoreHeaders forwards client headers whose names have '_'
	// (or another character than a letter, digit or '-'). By default they
	// are dropped, as nginx does (underscores_in_headers off): CGI, WSGI,
	// Rack and PHP upstreams read X_Forwarded_For as X-Forwarded-For
	// (Puma's CVE-2024-45614). Even when true, the twins of headers the
	// gateway sets, strips or decides on (X-Forwarded-*, X-Real-IP,
	// Forwarded, Content-Length, Transfer-Encoding, Connection, Upgrade,
	// Origin, Referer, Sec-Fetch-*, Cookie, Authorization, X-CSRF-Token, the
	// identity headers, …) are dropped.
	AllowUnderscoreHeaders bool `key:"allow-underscore-headers"`
	// CSRF is the route's cross-site request forgery guard. The zero
	// value checks origins (csrf.ModeOriginOnly); turning it off takes
	// InsecureOff.
	CSRF RouteCSRF `key:"csrf"`
	// Cookies hardens the cookies the upstream sets. The zero value
	// leaves them as they are.
	Cookies Cookies `key:"cookies"`
}

// Cookies adds the attributes an application forgot to the cookies its
// responses set (Set-Cookie), as nginx's proxy_cookie_flags does. An
// attribute the upstream set is kept; a setting only ever makes a cookie
// stricter. LoadConfig sets SameSite to "lax" when a route has a cookies
// mapping without same-site.
type Cookies struct {
	// Secure adds Secure: the browser sends the cookie over HTTPS only.
	Secure bool `key:"secure"`
	// HTTPOnly adds HttpOnly: page scripts cannot read the cookie.
	HTTPOnly bool `key:"http-only"`
	// SameSite is added to cookies that have no (valid) SameSite
	// attribute: SameSiteLax ("lax"), SameSiteStrict ("strict"), or
	// SameSiteOff ("off") or the zero value to add none. "none" is
	// refused: it would weaken a cookie.
	SameSite SameSite `key:"same-site"`
	// OverrideSameSite also replaces a weaker SameSite the upstream set
	// (None, or Lax when SameSite is "strict"). Default false: the
	// upstream's explicit choice is kept.
	OverrideSameSite bool `key:"override-same-site"`
	// HostPrefix names the upstream's session cookie that browsers get as
	// "__Host-" + HostPrefix, with Secure, Path=/ and no Domain (what the
	// prefix requires; the upstream's Domain and Path are dropped), when
	// the upstream's Path covers the route: a Set-Cookie for the name
	// under a narrower or another Path is for another copy and keeps the
	// bare name. On the way in the gateway renames it back, and deletes
	// any cookie a client sends under the bare name: a sibling subdomain
	// or a plain-HTTP page could have set that one (cookie tossing).
	// Tokens.SessionCookie names it as the upstream does, not with the
	// prefix. Default: none.
	HostPrefix string `key:"host-prefix"`
}

// Allow lists who may call a route. A request is allowed when its verified
// client identity matches any entry; deny by default.
type Allow struct {
	// AnyVerified allows every client certificate that verified against
	// the listener's CAs.
	AnyVerified bool `key:"any-verified"`
	// Unauthenticated allows every request, with or without a client
	// certificate (a public page on a verify-if-given listener); the
	// upstream still gets the verified identity when there is one, and
	// CSRF checks still apply.
	Unauthenticated bool `key:"unauthenticated"`
	// CORSPreflights lets CORS preflights through without a client
	// certificate (browsers never send one on a preflight): OPTIONS
	// requests with Origin and Access-Control-Request-Method and no body.
	// They reach the upstream with no identity and no token, and only the
	// status and the Access-Control-* and Vary headers of its answer go
	// back. Every other request still needs an allowed identity. Only for
	// routes that serve browsers.
	CORSPreflights bool `key:"cors-preflights"`
	// SPIFFEIDs are SPIFFE IDs, exact or with "*" matching one path
	// segment: "spiffe://prod.example/ns/*/sa/web".
	SPIFFEIDs []string `key:"spiffe-ids"`
	// TrustDomains allow every SPIFFE ID in these trust domains.
	TrustDomains []string `key:"trust-domains"`
	// DNSNames match a DNS SAN, exactly or with a leading "*." matching
	// one label.
	DNSNames []string `key:"dns-names"`
	// CommonNames match the subject common name exactly (case and
	// spaces count); a subject with two common names matches none
	// (mtls.AuthorizeCommonName).
	CommonNames []string `key:"common-names"`
	// OrganizationalUnits match any subject OU exactly.
	OrganizationalUnits []string `key:"organizational-units"`
	// SPKIPins are SHA-256 digests of the client certificate's own public
	// key (SubjectPublicKeyInfo), in hex or padded standard base64
	// (mtls.AuthorizeSPKI): a CA's key pinned here allows nobody.
	SPKIPins []string `key:"spki-pins"`
}

// RouteCSRF is the cross-site request forgery guard of a route.
type RouteCSRF struct {
	// Mode is when a token is required on top of the origin checks:
	// csrf.ModeOriginOnly (the zero value), csrf.ModeOriginAndToken or
	// csrf.ModeTokenIfNoBrowserHeaders. In YAML: origin-only,
	// origin-and-token, token-if-no-browser-headers, or insecure-off,
	// which sets InsecureOff.
	Mode csrf.Mode `key:"mode"`
	// InsecureOff turns CSRF protection off for the route (YAML: mode:
	// insecure-off); the other settings are then ignored.
	InsecureOff bool
	// ReportOnly computes and reports decisions but lets refused requests
	// through: for rolling out.
	ReportOnly bool `key:"report-only"`
	// TrustedOrigins may send unsafe cross-origin requests: exact origins
	// ("https://admin.example.com") or one-label wildcards
	// ("https://*.example.com"); the scheme is required.
	TrustedOrigins []string `key:"trusted-origins"`
	// AllowSameSite lets Sec-Fetch-Site: same-site requests through
	// (other subdomains and ports of the same site).
	AllowSameSite bool `key:"allow-same-site"`
	// SPA sets the XSRF-TOKEN cookie on responses to requests whose copy
	// is missing or no longer valid, refusals for a missing or invalid
	// token included, and accepts its value back in the X-XSRF-TOKEN
	// header (token modes; csrf.Protection.SetSPA).
	SPA bool `key:"spa"`
}

// Forwarder is a proxy in front of the gateway that may pass a verified
// client certificate in a header. A request is believed only when its
// connection comes from the forwarder (see Addresses and SPIFFEIDs); any
// other copy of the header is deleted.
type Forwarder struct {
	// Addresses are CIDR prefixes or single IPs of the forwarder (the TCP
	// peer, never a header).
	Addresses []string `key:"addresses"`
	// SPIFFEIDs, if set, must match the SPIFFE ID of the certificate the
	// forwarder itself presents on its connection. Both Addresses and
	// SPIFFEIDs is the strictest setting; at least one is required.
	SPIFFEIDs []string `key:"spiffe-ids"`
	// Header is the format the forwarder uses, required:
	// forwarded.RFC9440, forwarded.XFCC or forwarded.Both (then both
	// must name the same certificate). In YAML: rfc9440, xfcc or both.
	Header *forwarded.Format `key:"header"`
	// VerifiedByProxy believes the forwarder's verification of the
	// certificates it passes on: they are parsed and used, not verified
	// again. Default false: each forwarded certificate (with the chain
	// the header carries) is verified as a handshake on the listener
	// would be, against its client CAs and CRLs, validity, key
	// usage and chain policy, and an XFCC element without Cert is refused.
	// Set it only when the forwarder verifies against the same CAs and
	// CRLs (nginx ssl_verify_client on with ssl_crl, not optional_no_ca);
	// the listener's TrustDomainCAs bindings are then not checked.
	VerifiedByProxy bool `key:"verified-by-proxy"`
}

// Tokens configures the CSRF token key ring and what tokens are bound to.
type Tokens struct {
	// KeyFile holds the key ring (see the csrf package for its format). It
	// is required when a route's CSRF mode uses tokens, and must not be
	// readable by group or others.
	KeyFile string `key:"key-file"`
	// InsecureAllowGroupReadableKeyFile accepts a KeyFile that its group
	// may read (never others): on Kubernetes, a Secret mounted for a
	// non-root container with fsGroup is mode 0440, group the pod's
	// fsGroup, and the kubelet cannot make it owned by the container's
	// user. Anyone in that group can read the keys. Default false.
	InsecureAllowGroupReadableKeyFile bool `key:"insecure-allow-group-readable-key-file"`
	// SessionCookie names the application's session cookie. Tokens are
	// bound to its value and the client certificate's public key together
	// when a request carries both, else to whichever it carries, else to
	// a random pre-session cookie (see "Tokens for upstreams" in the
	// package doc). Default: none.
	SessionCookie string `key:"session-cookie"`
}

// Admin is the listener for /healthz, /readyz and /metrics.
type Admin struct {
	// Address is host:port; default "127.0.0.1:9090"; "off" disables the
	// admin listener. It must be a loopback address unless
	// InsecureAllowNonLoopback is set.
	Address string `key:"address"`
	// InsecureAllowNonLoopback lets Address be a non-loopback address.
	// The admin listener has no authentication: whoever reaches it reads
	// its metrics and health. Default false.
	InsecureAllowNonLoopback bool `key:"insecure-allow-non-loopback"`
}

// Log configures the binary's logs; the gateway package itself logs only
// to the *slog.Logger given in Options.
type Log struct {
	// Format is LogJSON ("json", the default) or LogText ("text").
	Format LogFormat `key:"format"`
	// Level is the lowest level logged: "debug", "info" (the default),
	// "warn" or "error".
	Level LogLevel `key:"level"`
}

// Limits bound what clients and upstreams may cost. Zero means the
// default given for each field.
type Limits struct {
	// ReadHeaderTimeout bounds reading a request's header, on HTTP/1.1
	// only (Go's HTTP/2 server has none; see HTTP2ReadIdleTimeout);
	// default 10s.
	ReadHeaderTimeout time.Duration `key:"read-header-timeout"`
	// ReadTimeout bounds reading a whole request, body included; 0 means
	// none (long uploads), the default.
	ReadTimeout time.Duration `key:"read-timeout"`
	// WriteTimeout bounds writing a response; 0 means none (streaming),
	// the default.
	WriteTimeout time.Duration `key:"write-timeout"`
	IdleTimeout  time.Duration `key:"idle-timeout"` // default 120s
	// StallTimeout bounds how long a client may leave the gateway
	// waiting in the middle of a request: sending none of a request body
	// it has started, or taking none of an answer the gateway is
	// sending. The request is then given up: a body not received is
	// answered 408 (reason client-timeout), an answer not taken ends its
	// HTTP/1.1 connection or resets its HTTP/2 stream. Either way the
	// upstream connection it held is let go. Idle keep-alive connections
	// (IdleTimeout) and quiet streams, with nothing waiting to be sent,
	// are not stalls. On HTTP/2 the end of an answer (up to 4 KiB), which
	// Go's server writes after the gateway's handler returned, must be
	// taken within two StallTimeouts of the stream's start, or one of the
	// handler's end if the handler ran longer than half of it (and within
	// WriteTimeout, when set); the stream is reset otherwise. Default
	// 60s, at least 1s. It applies to the gateway's own listeners;
	// Gateway.Handler, served by your server, is under that server's
	// timeouts.
	StallTimeout time.Duration `key:"stall-timeout"`
	// MaxHeaderBytes bounds a request's header: the HTTP/1.1 request
	// line and header fields, and on HTTP/2 the decoded header list
	// (announced as SETTINGS_MAX_HEADER_LIST_SIZE; a header block sent
	// in HEADERS and CONTINUATION frames that exceeds it ends the
	// connection). Default 65536, at least 4096.
	MaxHeaderBytes int `key:"max-header-bytes"`
	// MaxBodyBytes bounds a request body; 0 means no limit (the default).
	MaxBodyBytes int64 `key:"max-body-bytes"`

	// HTTP2MaxConcurrentStreams is how many requests one HTTP/2
	// connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS);
	// at most this many of its handlers run, and a client that keeps
	// opening and resetting streams beyond it (rapid reset,
	// CVE-2023-44487) has its connection closed. Default 100, at most
	// 1000.
	HTTP2MaxConcurrentStreams int `key:"http2-max-concurrent-streams"`
	// HTTP2ReadIdleTimeout: when nothing arrives on an HTTP/2 connection
	// for this long, the gateway sends a PING; default 30s, at least 1s.
	HTTP2ReadIdleTimeout time.Duration `key:"http2-read-idle-timeout"`
	// HTTP2PingTimeout: an HTTP/2 connection whose PING is not answered
	// within this long is closed; default 15s, at least 1s.
	HTTP2PingTimeout time.Duration `key:"http2-ping-timeout"`

	UpstreamDialTimeout           time.Duration `key:"upstream-dial-timeout"`            // default 5s
	UpstreamTLSHandshakeTimeout   time.Duration `key:"upstream-tls-handshake-timeout"`   // default 5s
	UpstreamResponseHeaderTimeout time.Duration `key:"upstream-response-header-timeout"` // default 30s
	UpstreamIdleConnTimeout       time.Duration `key:"upstream-idle-conn-timeout"`       // default 90s
	// UpstreamMaxIdleConnsPerHost is the keep-alive pool per upstream;
	// default 64.
	UpstreamMaxIdleConnsPerHost int `key:"upstream-max-idle-conns-per-host"`
	// UpstreamMaxConnsPerHost bounds the connections open to one
	// upstream address (host:port), busy and idle, of the routes that
	// share upstream TLS settings: each request in flight (a WebSocket
	// tunnel too, and a request whose body has not come yet) holds one.
	// A request that needs one more waits for one to close, for at most
	// UpstreamDialTimeout, and is then refused 503 (reason
	// upstream-busy). 0 means the default, 4096; see docs/gateway.md
	// for why that number.
	UpstreamMaxConnsPerHost int `key:"upstream-max-conns-per-host"`

	// ShutdownGrace is how long in-flight requests may take to finish
	// after SIGTERM (or when the context given to Serve ends); default 30s.
	ShutdownGrace time.Duration `key:"shutdown-grace"`
	// ShutdownDelay is how long the gateway keeps serving, with /readyz
	// already answering 503, between SIGTERM (or the end of Serve's
	// context) and closing its listeners: time for load balancers'
	// health checks to see it go and stop sending new connections, so
	// that none is refused. Set it above the balancer's check interval
	// times its fall count. Default 0 (close at once).
	ShutdownDelay time.Duration `key:"shutdown-delay"`
}

// Files lists every file c names (certificates, keys, CA bundles, CRLs,
// the token key ring), without duplicates, in config order. It does not
// include the config file itself. When a file in the list changes, a
// reload picks it up.
func (c *Config) Files() []string {
	if c == nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	add := func(ps ...string) {
		for _, p := range ps {
			if p != "" && !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	for _, l := range c.Listeners {
		add(l.TLS.CertFile, l.TLS.KeyFile)
		for _, c := range l.TLS.Certificates {
			add(c.CertFile, c.KeyFile)
		}
		add(l.TLS.ClientCAFiles...)
		for _, b := range l.TLS.TrustDomainCAs {
			add(b.CAFiles...)
		}
		add(l.TLS.CRLFiles...)
	}
	add(c.Tokens.KeyFile)
	if a := c.Authz; a != nil {
		if a.TLS != nil {
			add(a.TLS.CertFile, a.TLS.KeyFile)
			add(a.TLS.ClientCAFiles...)
		}
		add(a.ClientCertificates.CAFiles...)
		for _, b := range a.ClientCertificates.TrustDomainCAs {
			add(b.CAFiles...)
		}
		add(a.ClientCertificates.CRLFiles...)
	}
	for _, r := range c.Routes {
		add(r.UpstreamCAFile, r.UpstreamCertFile, r.UpstreamKeyFile)
	}
	return out
}

// TLSVersion is the oldest TLS version a listener accepts: TLS 1.3 (the
// zero value, or tls.VersionTLS13) or tls.VersionTLS12. It reads and
// writes itself as "1.3" or "1.2".
type TLSVersion uint16

// uint16 returns the crypto/tls version, or 0 for a value that is none
// of the accepted ones.
func (v TLSVersion) uint16() uint16 {
	switch v {
	case 0, tls.VersionTLS13:
		return tls.VersionTLS13
	case tls.VersionTLS12:
		return tls.VersionTLS12
	}
	return 0
}

// MarshalText returns "1.2" or "1.3"; it fails for other versions.
func (v TLSVersion) MarshalText() ([]byte, error) {
	switch v.uint16() {
	case tls.VersionTLS13:
		return []byte("1.3"), nil
	case tls.VersionTLS12:
		return []byte("1.2"), nil
	}
	return nil, fmt.Errorf("unsupported TLS version %#04x: want 1.2 or 1.3", uint16(v))
}

// UnmarshalText reads "1.2" or "1.3".
func (v *TLSVersion) UnmarshalText(text []byte) error {
	switch string(text) {
	case "1.3":
		*v = tls.VersionTLS13
	case "1.2":
		*v = tls.VersionTLS12
	default:
		return fmt.Errorf("unknown TLS version %q: want \"1.2\" or \"1.3\"", text)
	}
	return nil
}

// Authz configures "forgeproof authz", the decision service that a proxy
// which terminates TLS itself (nginx auth_request, Caddy forward_auth,
// Traefik ForwardAuth, Envoy ext_authz) asks about every request. A config
// with an authz section is for "forgeproof authz" only: it has no
// listeners (the proxy has them), its routes need no upstream, and
// Gateway.Decide makes the decisions (docs/integrations/).
type Authz struct {
	// Address is the host:port the decision service listens on;
	// required. ":0" picks a free port.
	Address string `key:"address"`
	// Proxy is the proxy that asks, which fixes the headers that carry
	// the original request and the client certificate: "nginx", "caddy"
	// or "traefik" (HTTP), or "envoy" (gRPC ext_authz); required. Only
	// that proxy's headers are read: the others could come from the
	// client.
	Proxy Proxy `key:"proxy"`
	// TrustedCallers are the addresses (CIDR prefixes or single IPs) of
	// the proxies that may ask. A request from any other peer is refused
	// (caller-untrusted). Required unless TLS is set; with both, a caller
	// must pass both.
	TrustedCallers []string `key:"trusted-callers"`
	// TLS, when set, serves the decision service over mutual TLS: a
	// caller must present a certificate that verifies against
	// TLS.ClientCAFiles and that TLS.Allow allows.
	TLS *AuthzTLS `key:"tls"`
	// ClientCertificates says how the client certificate the proxy passes
	// on is checked.
	ClientCertificates ClientCertificates `key:"client-certificates"`
	// HeaderTokens declares that every client of a route whose CSRF mode
	// uses tokens sends the token in the X-CSRF-Token (or, with SPA,
	// X-XSRF-TOKEN) header. A proxy's question carries no request body,
	// so a token in a csrf_token form field cannot be checked: without
	// this, such a route is a configuration error. Default false.
	HeaderTokens bool `key:"header-tokens"`
}

// AuthzTLS is the decision service's own mutual TLS with its callers.
type AuthzTLS struct {
	// CertFile and KeyFile are the decision service's certificate (with
	// any intermediates after it) and key.
	CertFile string `key:"cert-file"`
	KeyFile  string `key:"key-file"`
	// ClientCAFiles are the CA bundles the callers' (proxies')
	// certificates must chain to; required.
	ClientCAFiles []string `key:"client-ca-files"`
	// Allow lists the callers' identities; deny by default.
	// Unauthenticated and CORSPreflights are not allowed here.
	Allow Allow `key:"allow"`
}

// ClientCertificates is how "forgeproof authz" checks the client
// certificate a proxy passes on.
type ClientCertificates struct {
	// VerifiedByProxy trusts the proxy's verification (nginx
	// ssl_verify_client on, Caddy client_auth require_and_verify): the
	// certificate is parsed and used, not verified again. Default false:
	// it is verified against CAFiles and CRLFiles, as a handshake with
	// "forgeproof serve" would be. One of the two is required.
	VerifiedByProxy bool `key:"verified-by-proxy"`
	// CAFiles are the CA bundles client certificates must chain to.
	CAFiles []string `key:"ca-files"`
	// TrustDomainCAs are more CAs, each bound to a SPIFFE trust domain,
	// as ListenerTLS.TrustDomainCAs.
	TrustDomainCAs []TrustDomainCAs `key:"trust-domain-cas"`
	// CRLFiles are revocation lists of those CAs (PEM or DER).
	CRLFiles []string `key:"crl-files"`
	// CRLGracePeriod lets a CRL be used this long after its NextUpdate.
	CRLGracePeriod time.Duration `key:"crl-grace-period"`
}
