package scan

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config describes one scan. Only Target is required.
type Config struct {
	// Target is the service's start page, an absolute https:// (or, for
	// tests, http://) URL. Every request goes to its scheme, host and
	// port, and to nothing else.
	Target string

	// TLS is the client TLS configuration: the client certificate and the
	// roots that verify the server. If nil, the system roots and no client
	// certificate are used.
	TLS *tls.Config
	// AttackerTLS, if set, is used to fetch the token of "another
	// session" for the token-unbound probe, as an attacker would with
	// their own certificate. If nil, that token is fetched with no client
	// certificate, so a token bound to the certificate is never mistaken
	// for an unbound one.
	AttackerTLS *tls.Config
	// AttackerLogin, if set, logs the attacker in (with AttackerTLS),
	// exactly as Login logs the victim in, before the attacker fetches
	// their own token: for services that show the form (and its token)
	// to logged-in users only. Its Path, Page and TokenField default to
	// Login's.
	AttackerLogin *Login

	// Cookies are the victim's session cookies, sent as a browser would.
	// Their attributes are unknown, so they are treated as having no
	// SameSite attribute (the browser default).
	Cookies []*http.Cookie
	// Login, if set, is performed first and its cookies join Cookies.
	Login *Login

	// Endpoints are the state-changing requests to test.
	Endpoints []Endpoint
	// Discover finds forms (method POST, PUT, PATCH or DELETE) on the
	// start pages and tests them too, up to MaxEndpoints.
	Discover bool
	// StartPages are the paths or URLs fetched for discovery; the Target
	// when empty.
	StartPages []string
	// CrawlDepth is how many links away from a start page discovery
	// looks for forms. It follows same-origin links (a and area href,
	// iframe and frame src, GET form actions, redirects) breadth first,
	// never a link whose path or query names an action such as delete or
	// remove (a GET there may change state). Zero means DefaultCrawlDepth;
	// a negative value, the start pages only.
	CrawlDepth int
	// CrawlPages caps the pages discovery fetches, start pages included;
	// zero means DefaultCrawlPages.
	CrawlPages int
	// Exclude are regular expressions (RE2 syntax, unanchored, case
	// sensitive unless they start with (?i)) for URLs that discovery
	// leaves alone: a page, link, form action or WebSocket URL that
	// matches one of them, or DefaultExclude, is never fetched, tested or
	// clicked. Each pattern is tried on the decoded path, on the path with
	// the query as sent and on the whole URL. Endpoints given in
	// Endpoints are tested as given.
	Exclude []string

	// Browser, if set (and Discover is), loads the start pages and the
	// pages the crawl found in a real browser and adds the
	// state-changing requests their scripts send as endpoints (source
	// "browser"), and the WebSockets they open. If it fails (no
	// Chromium, say), a note says so and discovery keeps what the HTML
	// gave.
	Browser Browser

	// Verify, if set, is the request whose answer changes when a
	// state-changing request succeeds (for example a balance): probes are
	// then confirmed by the state change instead of inferred.
	Verify *Verification

	// MaxEndpoints caps discovered endpoints (default 20).
	MaxEndpoints int
	// MaxRequests caps the requests of the whole scan (default 2000).
	MaxRequests int
	// Timeout bounds each request, its whole answer included (default
	// 10s).
	Timeout time.Duration
	// Rate is the most requests per second (default 10).
	Rate float64

	// CurlTLSArgs are the curl flags that present the client certificate
	// in the reproduction commands (for example --cert client.pem --key
	// client-key.pem --cacert ca.pem). They must not contain secrets.
	CurlTLSArgs []string

	// Progress, if set, receives one line per step (for a progress
	// display). It is called from the scanning goroutine. A line that
	// would hold a control, bidirectional formatting or non-UTF-8
	// character (from a URL the service chose) comes quoted, as %q does.
	Progress func(msg string)
}

// An Endpoint is one state-changing request: the legitimate form of it,
// from which the scanner derives forged ones.
type Endpoint struct {
	Method string `json:"method" yaml:"method"`
	// Path is a path (or an absolute URL on the target) with an optional
	// query.
	Path string `json:"path" yaml:"path"`
	// Form holds the fields of an HTML form body (urlencoded unless
	// Multipart). Exactly one of Form and JSON may be set; neither means
	// an empty form.
	Form      map[string]string `json:"form,omitempty" yaml:"form,omitempty"`
	Multipart bool              `json:"multipart,omitempty" yaml:"multipart,omitempty"`
	// JSON is a JSON body, sent as application/json by the baseline.
	JSON json.RawMessage `json:"json,omitempty" yaml:"-"`
	// TokenField names the anti-CSRF token field of the form; TokenPage
	// is the page (path) whose form holds a fresh token.
	TokenField string `json:"token_field,omitempty" yaml:"token_field,omitempty"`
	TokenPage  string `json:"token_page,omitempty" yaml:"token_page,omitempty"`
	// Headers are sent by the legitimate request only, as the service's
	// own script sends them (a token header such as X-CSRF-Token): a
	// cross-site page cannot set them without a CORS preflight, so no
	// forgery carries them. Their values are redacted in output.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers,omitempty"`

	// source is "flag", "file", "discovered" or "browser".
	source string
	// secret: every field value is redacted in output (login forms).
	secret bool
	// filled: the form fields the page left empty and the scanner fills
	// (name → input type); each request gets its own value (see fresh).
	filled map[string]string
	// filledMax: their maxlength, where the page gives one.
	filledMax map[string]int
	// page is the page the form was found on, for discovered endpoints.
	page string
	// files: the file inputs of a discovered multipart form; multipart
	// requests carry a small placeholder file in each, as a browser
	// whose user chose one (an upload form does nothing without it).
	files []string
}

// Login is a form login step, done as a browser does it: GET the page
// that holds the login form (keeping the cookies it sets), then submit
// that form from the page, with every field the page gave it (hidden
// fields such as an anti-CSRF token included) and Form's fields over
// them. The login counts as refused (ReasonLogin) when its answer is a
// 4xx or 5xx, a page that shows the login form again (a POST form to the
// same action with a password field), or sets no cookie with a new value
// other than an anti-CSRF cookie (no session started) while the page that
// held the login form, reloaded with the same cookies, still shows a POST
// form with a password field (or answers no 2xx). A login that kept the
// session cookie and passed that reload is reported as
// RuleSessionNotRenewed.
type Login struct {
	// Path is the login form's action. If empty, the login form is the
	// page's form with a password field.
	Path string `json:"path,omitempty" yaml:"path,omitempty"`
	// Form holds the fields the user supplies (the credentials). Every
	// password field of the login form must be among them.
	Form map[string]string `json:"form" yaml:"form"`
	// Page is the page (path) that holds the login form (TokenPage if
	// Page is empty). If neither is given, the form is looked for on the
	// target, Path itself and the start pages, in that order, then where
	// they redirect to; if no page holds it, Form alone is posted to Path.
	Page string `json:"page,omitempty" yaml:"page,omitempty"`
	// TokenField names the login form's anti-CSRF token field when it is
	// not recognised by its name; TokenPage is an older name for Page.
	TokenField string `json:"token_field,omitempty" yaml:"token_field,omitempty"`
	TokenPage  string `json:"token_page,omitempty" yaml:"token_page,omitempty"`
}

// page is the page the user gave as holding the login form, or "".
func (l *Login) page() string {
	if l.Page != "" {
		return l.Page
	}
	return l.TokenPage
}

// Verification is a GET request whose JSON answer, at Pointer (RFC 6901),
// changes when a state-changing request takes effect.
type Verification struct {
	Path    string `json:"path" yaml:"path"`
	Pointer string `json:"pointer" yaml:"pointer"`
}

// Defaults.
const (
	DefaultMaxEndpoints = 20
	DefaultMaxRequests  = 2000
	DefaultTimeout      = 10 * time.Second
	DefaultRate         = 10
)

// endpointMethods are the methods an Endpoint may have: the
// state-changing ones, and GET for a service that changes state on GET
// (tested as get-state-change). Discovery takes forms of these methods
// except GET.
var endpointMethods = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}

// validate checks c and returns the parsed target.
func (c *Config) validate() (*url.URL, error) {
	u, err := parseTarget(c.Target)
	if err != nil {
		return nil, err
	}
	for i, e := range c.Endpoints {
		if err := e.validate(); err != nil {
			return nil, fmt.Errorf("endpoint %d: %w", i+1, err)
		}
		if _, err := resolve(u, wsToHTTP(e.Path)); err != nil {
			return nil, fmt.Errorf("endpoint %d: %w", i+1, err)
		}
	}
	if l := c.Login; l != nil {
		if l.Path == "" && l.Page == "" && l.TokenPage == "" {
			return nil, fmt.Errorf("login: path or page is required")
		}
		for _, p := range []string{l.Path, l.Page, l.TokenPage} {
			if _, err := resolve(u, p); err != nil {
				return nil, fmt.Errorf("login: %w", err)
			}
		}
	}
	if l := c.AttackerLogin; l != nil {
		if len(l.Form) == 0 {
			return nil, fmt.Errorf("attacker login: the login fields are required")
		}
		if l.Path == "" && l.Page == "" && l.TokenPage == "" && c.Login == nil {
			return nil, fmt.Errorf("attacker login: path or page is required (or a Login to take them from)")
		}
		for _, p := range []string{l.Path, l.Page, l.TokenPage} {
			if _, err := resolve(u, p); err != nil {
				return nil, fmt.Errorf("attacker login: %w", err)
			}
		}
	}
	if c.Verify != nil {
		if _, err := resolve(u, c.Verify.Path); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if _, err := parsePointer(c.Verify.Pointer); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	for _, p := range c.StartPages {
		if _, err := resolve(u, p); err != nil {
			return nil, fmt.Errorf("start page: %w", err)
		}
	}
	if _, err := newExcluder(c.Exclude); err != nil {
		return nil, err
	}
	if c.Rate < 0 || c.Timeout < 0 || c.MaxEndpoints < 0 || c.MaxRequests < 0 || c.CrawlPages < 0 {
		return nil, fmt.Errorf("rate, timeout and limits must not be negative")
	}
	return u, nil
}

func (e *Endpoint) validate() error {
	m := strings.ToUpper(e.Method)
	if m == methodWS {
		e.Method = m
		switch {
		case e.Path == "":
			return fmt.Errorf("path is required")
		case len(e.Form) > 0 || len(e.JSON) > 0 || e.Multipart || e.TokenField != "" || e.TokenPage != "":
			return fmt.Errorf("WS %s: a WebSocket endpoint has no body and no token", e.Path)
		}
		return nil
	}
	if !endpointMethods[m] {
		return fmt.Errorf("invalid method %q: want GET, POST, PUT, PATCH, DELETE or WS", e.Method)
	}
	e.Method = m
	if e.Path == "" {
		return fmt.Errorf("path is required")
	}
	for k, v := range e.Headers {
		if !validHeader(k, v) {
			return fmt.Errorf("%s %s: invalid header %q", e.Method, e.Path, k)
		}
	}
	if len(e.JSON) > 0 {
		if len(e.Form) > 0 || e.Multipart {
			return fmt.Errorf("%s %s: form and json are exclusive", e.Method, e.Path)
		}
		if !json.Valid(e.JSON) {
			return fmt.Errorf("%s %s: json body is not valid JSON", e.Method, e.Path)
		}
		if e.TokenField != "" {
			return fmt.Errorf("%s %s: token-field applies to forms only", e.Method, e.Path)
		}
	}
	return nil
}

// validHeader reports whether a header an endpoint adds is well-formed
// and one a script may set (fetch refuses forbidden names such as Cookie,
// Origin and Sec-*).
func validHeader(k, v string) bool {
	lk := strings.ToLower(k)
	if k == "" || browserHeaders[lk] || strings.HasPrefix(lk, "sec-") || strings.HasPrefix(lk, "proxy-") {
		return false
	}
	for _, r := range k {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return !strings.ContainsAny(v, "\r\n\x00")
}

// parseTarget parses an absolute http(s) URL without user information.
func parseTarget(s string) (*url.URL, error) {
	if s == "" {
		return nil, fmt.Errorf("target is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid target %q: %v", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, fmt.Errorf("invalid target %q: scheme must be https (or http)", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("invalid target %q: host is required", s)
	}
	if u.User != nil {
		return nil, fmt.Errorf("invalid target %q: user information is not allowed", s)
	}
	u.Fragment = ""
	if u.Path == "" {
		u.Path = "/"
	}
	return u, nil
}

// resolve resolves ref against the target and refuses any other origin.
func resolve(target *url.URL, ref string) (*url.URL, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return nil, fmt.Errorf("invalid path %q: %v", ref, err)
	}
	u := target.ResolveReference(r)
	u.Fragment = ""
	if !sameOrigin(u, target) {
		return nil, fmt.Errorf("invalid path %q: not on the target %s", ref, origin(target))
	}
	return u, nil
}

func origin(u *url.URL) string { return u.Scheme + "://" + u.Host }

func sameOrigin(a, b *url.URL) bool {
	return a.Scheme == b.Scheme && strings.EqualFold(hostPort(a), hostPort(b))
}

// hostPort is host:port with the scheme's default port made explicit.
func hostPort(u *url.URL) string {
	p := u.Port()
	if p == "" {
		p = map[string]string{"https": "443", "http": "80"}[u.Scheme]
	}
	return strings.ToLower(u.Hostname()) + ":" + p
}
