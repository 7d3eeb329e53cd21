package scan

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/printable"
)

// Run scans the target described by cfg and returns its report.
//
// A non-nil error is an *Error: the scan could not run, or stopped early
// (request limit, cancellation). The report is then nil or incomplete and
// must not be read as "no findings". Run sends requests to the target's
// origin only, at most cfg.Rate per second, each bounded by cfg.Timeout.
//
// Run sends real state-changing requests (the legitimate baseline and
// every forgery that the service accepts): point it at a test account.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	target, err := cfg.validate()
	if err != nil {
		return nil, &Error{ReasonConfig, err}
	}
	cfg.setDefaults()
	exclude, _ := newExcluder(cfg.Exclude) // validated
	sc := &scanner{
		exclude:      exclude,
		cfg:          cfg,
		target:       target,
		send:         newSender(target, cfg.TLS, cfg.AttackerTLS, cfg.Timeout, cfg.Rate, cfg.MaxRequests),
		victim:       &jar{},
		report:       &Report{Target: target.String(), Started: time.Now().UTC()},
		reported:     map[string]bool{},
		sessionNames: map[string]bool{},
		setCookies:   map[string]seenCookie{},
		corsChecked:  map[string]bool{},
		pages:        map[string][]byte{},
	}
	defer sc.send.close()
	for _, c := range cfg.Cookies {
		// Attributes unknown: treated as having none, the browser default.
		sc.victim.set([]*http.Cookie{{Name: c.Name, Value: c.Value}})
		sc.sessionNames[c.Name] = true
	}
	err = sc.run(ctx)
	sc.report.Duration = time.Since(sc.report.Started)
	sc.report.Requests = sc.send.requests()
	sc.finish()
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			err = &Error{classify(err), err}
		}
		return sc.report, err
	}
	return sc.report, nil
}

func (c *Config) setDefaults() {
	if c.MaxEndpoints == 0 {
		c.MaxEndpoints = DefaultMaxEndpoints
	}
	if c.MaxRequests == 0 {
		c.MaxRequests = DefaultMaxRequests
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
}

type seenCookie struct {
	cookie *http.Cookie
	page   string
}

type scanner struct {
	cfg    Config
	target *url.URL
	send   *sender
	victim *jar
	report *Report

	reported     map[string]bool // rule + location: one finding each
	sessionNames map[string]bool // cookies known to hold the session
	setCookies   map[string]seenCookie
	loginBase    *response // the answer to the login step
	login        *loginStep
	// loginKept: the login kept the session cookie the browser had
	// (keptSession), so a session cookie set proves no login.
	loginKept   bool
	corsChecked map[string]bool
	exclude     *excluder // discovery's exclusions

	runID string            // makes the values the scan fills unique (see fresh)
	seq   int               // counts them
	pages map[string][]byte // page bodies by URL (see rememberPage)
	// attacker is the attacker's browser once AttackerLogin logged it in;
	// nil before (their token is then fetched with no cookie).
	attacker *jar
	// watch are the pages and JSON GETs re-read to discover an oracle
	// when no Verify is given (see discoverOracle).
	watch []*url.URL
	// fetched are the same-origin GETs the browser saw the pages'
	// scripts send (Explored.Fetches): candidates for watch.
	fetched []*url.URL
}

func (sc *scanner) progress(format string, a ...any) {
	if sc.cfg.Progress != nil {
		sc.cfg.Progress(printable.Quote(fmt.Sprintf(format, a...)))
	}
}

func (sc *scanner) note(format string, a ...any) {
	sc.report.Notes = append(sc.report.Notes, fmt.Sprintf(format, a...))
}

func (sc *scanner) add(f Finding) {
	key := f.Rule + "\x00" + f.Method + "\x00" + f.URL + "\x00" + f.Cookie
	if sc.reported[key] {
		return
	}
	sc.reported[key] = true
	sc.report.Findings = append(sc.report.Findings, f)
	sc.progress("found %s (%s) at %s", f.Rule, f.Severity, strings.TrimSpace(f.Method+" "+f.URL))
}

// fatal reports whether err must end the scan: the request limit or
// cancellation. (The start page's error ends it too; run sees to that.)
func fatal(err error) bool {
	return errors.Is(err, errLimit) || errors.Is(err, errCanceled)
}

// do sends a legitimate request and keeps the cookies it sets.
func (sc *scanner) do(ctx context.Context, r *request) (*response, error) {
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		return nil, err
	}
	if r.Method == "GET" {
		sc.rememberPage(r.URL, resp)
	}
	sc.observeFramework(resp, r.URL.Redacted())
	if !r.Anonymous {
		cs := resp.cookies()
		sc.victim.set(cs)
		for _, c := range cs {
			// As many names as the jar keeps: posture findings stay few.
			if _, ok := sc.setCookies[c.Name]; ok || len(sc.setCookies) < maxCookies {
				sc.setCookies[c.Name] = seenCookie{c, r.URL.String()}
			}
		}
	}
	return resp, nil
}

func (sc *scanner) pageRequest(u *url.URL, j *jar, anonymous bool) *request {
	r := &request{Method: "GET", URL: cloneURL(u), Header: http.Header{}, Anonymous: anonymous}
	r.Header.Set("User-Agent", userAgent)
	ctxPageLoad.headers(r.Header, sc.target)
	if j != nil {
		r.Cookies = j.pick(cookiesAll)
	}
	return r
}

func (sc *scanner) run(ctx context.Context) error {
	// 1. The start page: proves the connection (and the mTLS handshake).
	sc.progress("connecting to %s", origin(sc.target))
	start, err := sc.do(ctx, sc.pageRequest(sc.target, sc.victim, false))
	if err != nil {
		reason := classify(err)
		return &Error{reason, fmt.Errorf("GET %s: %w", sc.target.Redacted(), err)}
	}

	// 2. The login step, right after the start page, as a browser
	// submits the form it shows: a request of the session in between
	// (the CORS check below carries its SameSite=None cookies) may
	// replace the form's token (a synchronizer token renewed on each
	// page load, as csrf-sync's generateToken(req, true) does).
	if l := sc.cfg.Login; l != nil {
		if err := sc.logIn(ctx, l, start); err != nil {
			return err
		}
	}
	if l := sc.cfg.AttackerLogin; l != nil {
		if err := sc.logInAttacker(ctx, l); err != nil {
			return err
		}
	}
	sc.checkCORS(ctx, sc.target)

	// 3. Endpoints: configured, then discovered.
	endpoints := append([]Endpoint(nil), sc.cfg.Endpoints...)
	for i := range endpoints {
		if endpoints[i].source == "" {
			endpoints[i].source = "config"
		}
	}
	if sc.cfg.Discover {
		if sc.cfg.Login != nil {
			start = nil // the page shows other forms to a logged-in user
		}
		found, err := sc.discover(ctx, start)
		if err != nil {
			return err
		}
		endpoints = append(endpoints, found...)
	}
	if len(endpoints) == 0 {
		return &Error{ReasonNoEndpoints, fmt.Errorf("no state-changing endpoint to test at %s: give endpoints, or start pages with forms", sc.target.Redacted())}
	}

	// 4. The verification request, or the pages to discover one on.
	if v := sc.cfg.Verify; v != nil {
		u, _ := resolve(sc.target, v.Path) // validated
		sc.checkCORS(ctx, u)
	} else if err := sc.prepareWatch(ctx, endpoints); err != nil {
		return err
	}

	// 5. Probes, endpoint by endpoint; WebSockets by handshakes.
	assessed := 0
	for i := range endpoints {
		e := &endpoints[i]
		probe := sc.assess
		if e.Method == methodWS {
			probe = sc.probeWebSocket
		}
		ok, err := probe(ctx, e)
		if err != nil {
			return err
		}
		if ok {
			assessed++
		}
	}
	if sc.cfg.Login != nil {
		if err := sc.loginCSRF(ctx); err != nil {
			return err
		}
	}
	if assessed == 0 {
		return &Error{ReasonNoBaseline, fmt.Errorf("none of the %d endpoints accepted its legitimate request, so no forgery could be judged (see the endpoint notes)", len(endpoints))}
	}
	return nil
}

// finish adds the cookie posture findings and sorts the report.
func (sc *scanner) finish() {
	if sc.victim.dropped {
		sc.note("the service set more than %d cookies: the scanner kept the first %d (Chromium keeps %d per site)", maxCookies, maxCookies, maxCookies)
	}
	names := make([]string, 0, len(sc.setCookies))
	for n := range sc.setCookies {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		sc0 := sc.setCookies[n]
		if sc0.cookie.MaxAge < 0 {
			continue
		}
		session := sc.sessionNames[n] || (sessionLike.MatchString(n) && !tokenLike.MatchString(n))
		if !session {
			continue
		}
		for _, f := range postureFindings(sc0.cookie, sc0.page) {
			sc.add(f)
		}
	}
	sc.addFixes()
	sort.SliceStable(sc.report.Findings, func(i, j int) bool {
		a, b := sc.report.Findings[i], sc.report.Findings[j]
		if a.Severity != b.Severity {
			return a.Severity > b.Severity
		}
		if a.URL != b.URL {
			return a.URL < b.URL
		}
		return a.Rule < b.Rule
	})
	if sc.report.Findings == nil {
		sc.report.Findings = []Finding{}
	}
	if sc.report.Endpoints == nil {
		sc.report.Endpoints = []EndpointResult{}
	}
}

// Whose browser fetches a token page.
type tokenOwner int

const (
	ownerVictim tokenOwner = iota
	// ownerAttacker: the attacker's own session, logged in by
	// AttackerLogin if given, else a fresh one (no cookie).
	ownerAttacker
	// ownerFresh: a fresh attacker session, never logged in (login CSRF).
	ownerFresh
)

// token fetches a fresh anti-CSRF token for e: the victim's, keeping the
// cookies the page sets as do does, or another session's (see
// foreignToken). Its errors say why there is none: the page refused,
// redirected (to a login page, say) or lacks the field.
func (sc *scanner) token(ctx context.Context, e *Endpoint, u *url.URL, who tokenOwner) (string, error) {
	page := sc.target
	if e.TokenPage != "" {
		p, err := resolve(sc.target, e.TokenPage)
		if err != nil {
			return "", err
		}
		page = p
	}
	var resp *response
	var err error
	whose := ""
	switch {
	case who == ownerAttacker && sc.attacker != nil:
		// The attacker's logged-in session, with their certificate.
		whose = "the attacker's session: "
		resp, err = sc.send.send(ctx, sc.pageRequest(page, sc.attacker, true))
		if err == nil {
			sc.attacker.set(resp.cookies())
		}
	case who != ownerVictim:
		// No cookies: an attacker's fresh session, which the scan never reuses.
		whose = "the attacker's browser (no session): "
		resp, err = sc.send.send(ctx, sc.pageRequest(page, nil, true))
	default:
		resp, err = sc.do(ctx, sc.pageRequest(page, sc.victim, false))
	}
	if err != nil {
		return "", fmt.Errorf("%stoken page %s: %w", whose, page.Redacted(), err)
	}
	if resp.Status >= 300 && resp.Status < 400 {
		loc := resp.location()
		why := ""
		if loginLike.MatchString(loc) {
			why = ": a login page, so the page needs a session"
			if who == ownerAttacker && sc.attacker == nil {
				why += " (log the attacker in: --attacker-login-data)"
			}
		}
		return "", fmt.Errorf("%stoken page %s answered %d, a redirect to %s%s", whose, page.Redacted(), resp.Status, loc, why)
	}
	if resp.Status >= 400 {
		why := ""
		if resp.Status == http.StatusUnauthorized || resp.Status == http.StatusForbidden {
			why = ": it needs a session or a client certificate"
			if who == ownerAttacker && sc.attacker == nil {
				why += " (log the attacker in with --attacker-login-data, or give --attacker-cert)"
			}
		}
		return "", fmt.Errorf("%stoken page %s answered %d%s", whose, page.Redacted(), resp.Status, why)
	}
	t, ok := findToken(resp.Body, page, u, e.TokenField)
	if !ok {
		why := ""
		if who == ownerAttacker && sc.attacker == nil && hasPasswordForm(resp.Body, page) {
			why = " (it shows a login form instead: log the attacker in with --attacker-login-data)"
		}
		return "", fmt.Errorf("%stoken page %s has no form field %q%s", whose, page.Redacted(), e.TokenField, why)
	}
	return t, nil
}

// loginLike matches the paths of login pages a service redirects to.
var loginLike = regexp.MustCompile(`(?i)log-?in|sign-?in|auth|session`)

// logoutLike matches form actions that would end the scanner's session
// (DefaultExclude).
var logoutLike = regexp.MustCompile(DefaultExclude)

// discover crawls from the start pages (see crawl) and returns the forms
// found as endpoints, up to MaxEndpoints.
func (sc *scanner) discover(ctx context.Context, start *response) ([]Endpoint, error) {
	seen := map[string]bool{}
	for _, e := range sc.cfg.Endpoints {
		if u, err := resolve(sc.target, wsToHTTP(e.Path)); err == nil {
			seen[endpointKey(e.Method, u)] = true
			if e.Method == methodWS {
				seen[e.Method+" "+u.String()] = true
			}
		}
	}
	var out []Endpoint
	var pages []*url.URL // the HTML pages, for the browser
	err := sc.crawl(ctx, start, func(p crawledPage) bool {
		u := p.u
		if !p.script && len(pages) < maxBrowserPages {
			pages = append(pages, u)
		}
		for _, w := range findWebSockets(p.resp.Body, u) {
			key := methodWS + " " + w.String()
			switch {
			case seen[key]:
				continue
			case !sameOrigin(w, sc.target):
				sc.note("discovery: %s names a WebSocket on another origin (%s): not tested", u.Redacted(), httpToWS(&url.URL{Scheme: w.Scheme, Host: w.Host}))
			case sc.exclude.excluded(w):
				sc.note("discovery: WebSocket %s is excluded (--exclude): not tested", httpToWS(w))
			case len(out) >= sc.cfg.MaxEndpoints:
				sc.note("discovery: more than %d endpoints found; the rest were not tested", sc.cfg.MaxEndpoints)
				return false
			default:
				out = append(out, Endpoint{Method: methodWS, Path: w.String(), source: "discovered"})
			}
			seen[key] = true
		}
		if p.script {
			return true
		}
		for _, f := range parseForms(p.resp.Body, u) {
			if f.Method == "GET" || !endpointMethods[f.Method] {
				continue
			}
			if !sameOrigin(f.Action, sc.target) {
				sc.note("discovery: form on %s posts to another origin (%s): not tested", u.Redacted(), origin(f.Action))
				continue
			}
			key := endpointKey(f.Method, f.Action)
			if seen[key] {
				continue
			}
			seen[key] = true
			if logoutLike.MatchString(f.Action.Path) {
				sc.note("discovery: %s looks like a logout: not tested (it would end the session)", key)
				continue
			}
			if sc.exclude.excluded(f.Action) {
				sc.note("discovery: %s is excluded (--exclude): not tested", key)
				continue
			}
			if f.Password {
				if sc.login == nil || sc.login.u.Path != f.Action.Path {
					sc.note("discovery: %s has a password field: not tested (give it as the login step)", key)
				}
				continue
			}
			if len(out) >= sc.cfg.MaxEndpoints {
				sc.note("discovery: more than %d forms found; the rest were not tested", sc.cfg.MaxEndpoints)
				return false
			}
			e := Endpoint{Method: f.Method, Path: f.Action.RequestURI(), Form: f.Fields,
				Multipart: f.Multipart, TokenField: f.TokenField, source: "discovered",
				filled: f.Types, filledMax: f.MaxLen, page: u.String()}
			if f.Multipart {
				e.files = f.Files
			}
			if f.TokenField != "" {
				e.TokenPage = u.RequestURI()
			}
			out = append(out, e)
		}
		return true
	})
	if err != nil || sc.cfg.Browser == nil || len(pages) == 0 {
		return out, err
	}
	for _, e := range sc.explore(ctx, pages, seen) {
		if len(out) >= sc.cfg.MaxEndpoints {
			sc.note("discovery: more than %d endpoints found; the rest were not tested", sc.cfg.MaxEndpoints)
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// endpointKey names a form's or a given endpoint's target once: the
// method, the escaped path (the key names the form in notes, and a
// decoded path may hold the service's control characters) and the query,
// which is where a front controller (phpMyAdmin's
// index.php?route=/server/databases/create, MediaWiki's
// index.php?title=…&action=submit) says which of its handlers a form
// posts to.
func endpointKey(method string, u *url.URL) string {
	key := method + " " + u.EscapedPath()
	if u.RawQuery != "" {
		key += "?" + u.RawQuery
	}
	return key
}

// maxBrowserPages bounds the pages the browser loads.
const maxBrowserPages = 10

// checkCORS probes u for a CORS policy that reflects an arbitrary origin
// with credentials, once per URL.
func (sc *scanner) checkCORS(ctx context.Context, u *url.URL) {
	if sc.corsChecked[u.String()] {
		return
	}
	sc.corsChecked[u.String()] = true
	for _, o := range []string{attackerOrigin, "null"} {
		r := &request{Method: "GET", URL: cloneURL(u), Header: http.Header{}}
		r.Header.Set("User-Agent", userAgent)
		ctxCORSRead.headers(r.Header, sc.target)
		r.Header.Set("Origin", o)
		r.Cookies = sc.victim.pick(ctxCORSRead.cookies)
		resp, err := sc.send.send(ctx, r)
		if err != nil {
			sc.note("CORS check of %s: %v", u.Redacted(), err)
			return
		}
		if corsReflects(resp.Header, o) {
			sc.add(newFinding(RuleCORSCredentials, Confirmed, OracleObserved, Finding{
				Method: "GET", URL: u.String(), Probe: ctxCORSRead.name + " (Origin: " + o + ")",
				Evidence:  fmt.Sprintf("Access-Control-Allow-Origin: %s with Access-Control-Allow-Credentials: true in answer to Origin: %s.", resp.Header.Get("Access-Control-Allow-Origin"), o),
				Reproduce: curlCommand(r, sc.cfg.CurlTLSArgs),
			}))
			return
		}
	}
}

// corsReflects reports whether h lets origin o read with credentials.
// "*" never does: browsers refuse it with credentials.
func corsReflects(h http.Header, o string) bool {
	return h.Get("Access-Control-Allow-Origin") == o &&
		// Exactly "true", as the Fetch standard's CORS check and browsers
		// read it: "TRUE" opens nothing.
		strings.TrimSpace(h.Get("Access-Control-Allow-Credentials")) == "true"
}
