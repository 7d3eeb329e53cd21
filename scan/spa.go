package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// A Browser loads pages in a real browser that holds the client
// certificate and reports the state-changing requests their scripts send
// (Config.Browser). The scanner turns those into endpoints and tests them
// as it tests forms: the browser itself must never send a state-changing
// request, nor any request the Exploration excludes or to another origin.
type Browser interface {
	// Explore loads the pages of x and returns what their scripts tried
	// to send. On an error the scan adds a note and keeps what the HTML
	// discovery found.
	Explore(ctx context.Context, x Exploration) (*Explored, error)
}

// Exploration is what the scanner asks a Browser to do.
type Exploration struct {
	// Target is the service's origin (with the target's path): the
	// browser must not send any request elsewhere.
	Target *url.URL
	// Pages are the pages to load (the start pages and the pages the
	// crawl found), absolute URLs on the target.
	Pages []*url.URL
	// Cookies are the victim's session, to set before the first page.
	Cookies []*http.Cookie
	// Excluded reports whether a URL must never be requested, and
	// ExcludedLabel whether an element (by its text, id, name, href or
	// action) must never be clicked or submitted: DefaultExclude and
	// Config.Exclude.
	Excluded      func(*url.URL) bool
	ExcludedLabel func(string) bool
}

// Explored is what a Browser saw.
type Explored struct {
	// Requests are the state-changing requests the pages' scripts (or
	// forms) tried to send, which the browser held back.
	Requests []RecordedRequest
	// WebSockets are the WebSocket URLs the pages opened.
	WebSockets []string
	// Fetches are the URLs of the GETs the pages' scripts sent (fetch,
	// XMLHttpRequest) to the target: the scanner watches those that
	// answer JSON for a discovered oracle, as it watches the JSON GETs a
	// page names, since a single-page app shows its state only there.
	Fetches []string
	// Cookies are the browser's cookies for the target afterwards: the
	// scanner's session continues with them (tokens in recorded
	// requests may be bound to them).
	Cookies []*http.Cookie
	// Notes say what the browser left alone or could not do.
	Notes []string
}

// A RecordedRequest is one state-changing request a page sent, as the
// browser was about to put it on the wire.
type RecordedRequest struct {
	Method string
	URL    string
	// Header holds the headers the page set (Content-Type, a token
	// header), without the ones the browser adds itself.
	Header http.Header
	Body   []byte
	// Page is the page that sent it and Trigger what the scanner did
	// there (a click on an element, a form submission, the page load).
	Page, Trigger string
}

// browserHeaders are headers a browser sets by itself on a fetch: they
// are not part of an endpoint.
var browserHeaders = map[string]bool{
	"accept": true, "accept-encoding": true, "accept-language": true, "cache-control": true,
	"connection": true, "content-length": true, "content-type": true, "cookie": true, "host": true,
	"origin": true, "pragma": true, "referer": true, "user-agent": true, "priority": true,
	"upgrade-insecure-requests": true,
}

// recordedEndpoint turns a recorded request into an Endpoint, or says
// why it cannot be tested.
func recordedEndpoint(r RecordedRequest, target *url.URL) (Endpoint, error) {
	m := strings.ToUpper(r.Method)
	if m == "GET" || !endpointMethods[m] {
		return Endpoint{}, fmt.Errorf("method %s is not a state-changing one the scanner tests", m)
	}
	u, err := url.Parse(r.URL)
	if err != nil || !sameOrigin(u, target) {
		return Endpoint{}, fmt.Errorf("not on the target %s", origin(target))
	}
	u.Fragment = ""
	e := Endpoint{Method: m, Path: u.RequestURI(), source: "browser"}
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if browserHeaders[lk] || strings.HasPrefix(lk, "sec-") || len(vs) == 0 {
			continue
		}
		if e.Headers == nil {
			e.Headers = map[string]string{}
		}
		e.Headers[http.CanonicalHeaderKey(k)] = vs[0]
	}
	ct := r.Header.Get("Content-Type")
	mt, params, _ := mime.ParseMediaType(ct)
	body := r.Body
	switch {
	case len(bytes.TrimSpace(body)) == 0:
	case mt == "application/json" || strings.HasSuffix(mt, "+json") || (mt == "text/plain" && json.Valid(body)):
		if !json.Valid(body) {
			return Endpoint{}, fmt.Errorf("its %s body is not valid JSON", mt)
		}
		if k := tokenMember(body); k != "" {
			// A forgery would carry the victim's token: a finding would
			// be false. The scanner cannot fetch a fresh one for a JSON
			// body.
			return Endpoint{}, fmt.Errorf("its JSON body carries a token (member %q) that the scanner cannot refresh: give the endpoint in the endpoints file with the token in a header", k)
		}
		e.JSON = json.RawMessage(bytes.Clone(body))
	case mt == "application/x-www-form-urlencoded":
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return Endpoint{}, fmt.Errorf("its urlencoded body does not parse")
		}
		e.Form = firstValues(v)
	case mt == "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(maxBody)
		if err != nil {
			return Endpoint{}, fmt.Errorf("its multipart body does not parse: %v", err)
		}
		if len(form.File) > 0 {
			return Endpoint{}, fmt.Errorf("it uploads files, which the scanner does not replay")
		}
		e.Form, e.Multipart = firstValues(form.Value), true
	default:
		return Endpoint{}, fmt.Errorf("its body (Content-Type %q) is not a form or JSON", ct)
	}
	for k := range e.Form {
		if tokenLike.MatchString(k) && e.TokenField == "" {
			e.TokenField = k
		}
	}
	if e.TokenField != "" {
		// A fresh one comes from the page's form, as for a discovered form.
		if p, err := url.Parse(r.Page); err == nil && sameOrigin(p, target) {
			e.TokenPage = p.RequestURI()
		}
	}
	if err := e.validate(); err != nil {
		return Endpoint{}, err
	}
	return e, nil
}

func firstValues(v map[string][]string) map[string]string {
	out := map[string]string{}
	for k, vs := range v {
		if len(vs) > 0 {
			out[k] = vs[0]
		}
	}
	return out
}

// tokenMember returns a top-level member of a JSON object that looks
// like an anti-CSRF token, or "".
func tokenMember(body []byte) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(body, &m) != nil {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if tokenLike.MatchString(k) {
			return k
		}
	}
	return ""
}

// explore runs the browser over pages and returns the endpoints it
// recorded. A browser that cannot run is a note, not an error: discovery
// falls back to the HTML.
func (sc *scanner) explore(ctx context.Context, pages []*url.URL, seen map[string]bool) []Endpoint {
	sc.progress("exploring %d page(s) in the browser", len(pages))
	x := Exploration{
		Target:        cloneURL(sc.target),
		Pages:         pages,
		Cookies:       sc.victim.pick(cookiesAll),
		Excluded:      sc.exclude.excluded,
		ExcludedLabel: sc.exclude.excludedLabel,
	}
	res, err := sc.cfg.Browser.Explore(ctx, x)
	if err != nil {
		sc.note("browser: %v; discovery used the HTML only", err)
		sc.progress("browser: %v; discovering from the HTML only", err)
		return nil
	}
	for _, n := range res.Notes {
		sc.note("browser: %s", n)
	}
	for _, c := range res.Cookies {
		// A cookie the scan already holds keeps the attributes its
		// Set-Cookie gave; new or changed ones join the session.
		if i := sc.victim.index(c.Name); i < 0 || sc.victim.cookies[i].Value != c.Value {
			sc.victim.set([]*http.Cookie{c})
		}
	}
	var out []Endpoint
	for _, r := range res.Requests {
		e, err := recordedEndpoint(r, sc.target)
		label := strings.ToUpper(r.Method) + " " + r.URL
		if u, perr := url.Parse(r.URL); perr == nil {
			label = strings.ToUpper(r.Method) + " " + u.Redacted()
		}
		if err != nil {
			sc.note("browser: %s sent by %s on %s: not tested: %v", label, r.Trigger, r.Page, err)
			continue
		}
		u, _ := resolve(sc.target, e.Path)
		key := endpointKey(e.Method, u)
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, e)
	}
	for _, f := range res.Fetches {
		if u, err := url.Parse(f); err == nil && sameOrigin(u, sc.target) {
			u.Fragment = ""
			sc.fetched = append(sc.fetched, u)
		}
	}
	for _, w := range res.WebSockets {
		u, err := url.Parse(wsToHTTP(w))
		if err != nil || !sameOrigin(u, sc.target) || sc.exclude.excluded(u) {
			continue
		}
		key := methodWS + " " + u.String()
		if !seen[key] {
			seen[key] = true
			out = append(out, Endpoint{Method: methodWS, Path: u.String(), source: "browser"})
		}
	}
	return out
}
