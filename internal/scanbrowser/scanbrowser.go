// Package scanbrowser is forgeproof scan's browser mode: a scan.Browser
// that loads pages in headless Chromium holding the client certificate
// (through the project's browser harness, internal/browser), clicks their
// buttons and submits their forms, and records the state-changing
// requests their scripts send, without letting any of them through.
//
// Every request the pages make is intercepted (the DevTools Fetch
// domain): a request to another origin, or to a URL the exploration
// excludes, is failed unsent; a state-changing one (any method but GET,
// HEAD and OPTIONS) is recorded and failed unsent, for the scanner to
// test under its own rules; the rest (page loads, scripts, JSON GETs) go
// to the target, and the GETs the scripts send are reported (the scanner
// watches the JSON ones for a discovered oracle). Elements whose label
// (text, id, name, href, form action, onclick) matches an exclusion, and
// elements of forms with a password field, are never clicked.
package scanbrowser

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/scan"
	"software.sslmate.com/src/go-pkcs12"
)

// Options configure a browser exploration.
type Options struct {
	// Tools are Chromium and the NSS tools (browser.FindTools).
	Tools browser.Tools
	// CACertsPEM are the roots that verify the target's certificate.
	CACertsPEM []byte
	// Client is the client certificate the browser presents; none when
	// it has no certificate.
	Client *tls.Certificate
	// Output, if not nil, receives Chromium's own output.
	Output io.Writer
	// MaxClicks bounds the elements clicked per page (default 20).
	MaxClicks int
}

// Explorer is a scan.Browser backed by Chromium.
type Explorer struct {
	opts     Options
	p12      []byte
	issuerCN string
}

// New checks opts and prepares the client certificate for the browser.
func New(opts Options) (*Explorer, error) {
	if opts.Tools.Chromium == "" {
		return nil, fmt.Errorf("%w: no Chromium", browser.ErrMissingTool)
	}
	if len(opts.CACertsPEM) == 0 {
		return nil, errors.New("the browser needs the CA certificates that verify the server (--ca)")
	}
	if opts.MaxClicks <= 0 {
		opts.MaxClicks = 20
	}
	x := &Explorer{opts: opts}
	if c := opts.Client; c != nil && len(c.Certificate) > 0 {
		leaf := c.Leaf
		if leaf == nil {
			l, err := x509.ParseCertificate(c.Certificate[0])
			if err != nil {
				return nil, fmt.Errorf("client certificate: %v", err)
			}
			leaf = l
		}
		var chain []*x509.Certificate
		for _, der := range c.Certificate[1:] {
			if ca, err := x509.ParseCertificate(der); err == nil {
				chain = append(chain, ca)
			}
		}
		// An empty password: the PKCS#12 only travels to pk12util in the
		// browser's throwaway HOME (0600), never elsewhere.
		p12, err := pkcs12.LegacyDES.Encode(c.PrivateKey, leaf, chain, "")
		if err != nil {
			return nil, fmt.Errorf("client certificate for the browser: %v", err)
		}
		if leaf.Issuer.CommonName == "" {
			return nil, errors.New("the client certificate's issuer has no common name: the browser cannot be told to select it")
		}
		x.p12, x.issuerCN = p12, leaf.Issuer.CommonName
	}
	return x, nil
}

// Unavailable is a scan.Browser that cannot run: its Explore returns err,
// which the scan reports in a note before it falls back to the HTML.
func Unavailable(err error) scan.Browser { return unavailable{err} }

type unavailable struct{ err error }

func (u unavailable) Explore(context.Context, scan.Exploration) (*scan.Explored, error) {
	return nil, u.err
}

// settle bounds how long the explorer waits for a page to become quiet
// after a load or a click: quiet is no intercepted request for quietFor
// since the load or the click returned. A page's scripts give no signal
// that they are done, so this is a wall-clock wait; it only bounds how
// much is recorded. It counts from the end of the action, not its start:
// on a loaded machine the action alone can outlast quietFor, and the
// requests it sent reach the interception after it returns.
const (
	quietFor  = 300 * time.Millisecond
	settleMax = 3 * time.Second
)

// clickables are the elements the explorer clicks.
const clickables = `button, input[type=submit], input[type=button], input[type=image], [role=button], [onclick], a[href^="#"], a[href^="javascript:"]`

// listJS lists the clickable elements: their label and whether they
// belong to a form with a password field.
const listJS = `Array.from(document.querySelectorAll(%q)).map(e => {
  const f = e.form || e.closest("form");
  return {label: [e.innerText || e.value || "", e.id || "", e.getAttribute("name") || "", e.getAttribute("href") || "",
      e.getAttribute("formaction") || (f && f.getAttribute("action")) || "", e.getAttribute("onclick") || ""].join(" ").replace(/\s+/g, " ").trim().slice(0, 200),
    password: !!(f && f.querySelector("input[type=password]"))};
})`

// clickJS fills the empty visible fields as a user would and clicks the
// element at an index of the same list.
const clickJS = `(() => {
  const set = (el, v) => {
    const d = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(el), "value");
    if (d && d.set) { d.set.call(el, v) } else { el.value = v }
    el.dispatchEvent(new Event("input", {bubbles: true}));
    el.dispatchEvent(new Event("change", {bubbles: true}));
  };
  for (const el of document.querySelectorAll("input, textarea")) {
    const t = (el.type || "").toLowerCase();
    if (["hidden", "submit", "button", "image", "file", "reset", "checkbox", "radio", "password"].includes(t) || el.value) continue;
    set(el, t === "number" || t === "range" ? "1" : t === "email" ? "forgeproof@example.com" : t === "url" ? "https://example.com/" : "forgeproof");
  }
  const el = document.querySelectorAll(%q)[%d];
  if (!el) return false;
  el.click();
  return true;
})()`

// Explore implements scan.Browser.
func (x *Explorer) Explore(ctx context.Context, ex scan.Exploration) (*scan.Explored, error) {
	origin := ex.Target.Scheme + "://" + ex.Target.Host
	p := browser.Profile{CACertsPEM: x.opts.CACertsPEM, ClientP12: x.p12}
	if ex.Target.Scheme == "https" && x.p12 != nil {
		port := ex.Target.Port()
		if port == "" {
			port = "443"
		}
		p.AutoSelect = []string{"https://" + net.JoinHostPort(ex.Target.Hostname(), port)}
		p.IssuerCN = x.issuerCN
	}
	b, err := browser.Start(ctx, browser.Options{Tools: x.opts.Tools, Profile: p, Output: x.opts.Output})
	if err != nil {
		return nil, err
	}
	defer b.Close()

	rec := &recorder{b: b, ex: ex, target: ex.Target, last: time.Now(), seen: map[string]bool{}}
	if err := b.Listen(rec.event); err != nil {
		return nil, err
	}
	cctx, cancel := b.Context(ctx)
	_, err = chromedp.Call(cctx, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*"}}})
	for _, c := range ex.Cookies {
		if err != nil {
			break
		}
		params := network.SetCookieParams{Name: c.Name, Value: c.Value, URL: origin + "/", Path: c.Path, Secure: &c.Secure, HTTPOnly: &c.HttpOnly}
		switch c.SameSite {
		case http.SameSiteNoneMode:
			params.SameSite = network.CookieSameSiteNone
		case http.SameSiteLaxMode:
			params.SameSite = network.CookieSameSiteLax
		case http.SameSiteStrictMode:
			params.SameSite = network.CookieSameSiteStrict
		}
		if params.Path == "" {
			params.Path = "/"
		}
		_, err = chromedp.Call(cctx, network.SetCookie, params)
	}
	cancel()
	if err != nil {
		return nil, fmt.Errorf("preparing the browser: %v", err)
	}

	for _, page := range ex.Pages {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rec.context(page.String(), "the page load")
		if _, err := b.Navigate(ctx, page.String()); err != nil {
			rec.note("%s: %v", page.Redacted(), err)
			continue
		}
		rec.settle(ctx)
		var els []struct {
			Label    string `json:"label"`
			Password bool   `json:"password"`
		}
		if err := b.Eval(ctx, fmt.Sprintf(listJS, clickables), &els); err != nil {
			rec.note("%s: listing its buttons: %v", page.Redacted(), err)
			continue
		}
		dirty := false
		for i, el := range els {
			if i >= x.opts.MaxClicks {
				rec.note("%s: more than %d elements to click; the rest were not clicked", page.Redacted(), x.opts.MaxClicks)
				break
			}
			switch {
			case el.Password:
				rec.note("%s: %q is in a form with a password field: not clicked", page.Redacted(), el.Label)
				continue
			case ex.ExcludedLabel != nil && ex.ExcludedLabel(el.Label):
				rec.note("%s: %q is excluded (--exclude or the default logout patterns): not clicked", page.Redacted(), el.Label)
				continue
			}
			// A fresh page for each click after the first: the previous
			// one may have changed it, or navigated away.
			if dirty {
				rec.context(page.String(), "a reload")
				if _, err := b.Navigate(ctx, page.String()); err != nil {
					rec.note("%s: %v", page.Redacted(), err)
					break
				}
				rec.settle(ctx)
			}
			dirty = true
			rec.context(page.String(), fmt.Sprintf("a click on %q", el.Label))
			var clicked bool
			if err := b.Eval(ctx, fmt.Sprintf(clickJS, clickables, i), &clicked); err != nil {
				// A click that navigates can end the evaluation: what it
				// sent is recorded all the same.
				clicked = true
			}
			if clicked {
				rec.settle(ctx)
			}
		}
	}

	rec.inflight.Wait() // each decision is bounded by the action timeout
	out := rec.result()
	cctx, cancel = b.Context(ctx)
	defer cancel()
	res, err := chromedp.Call(cctx, network.GetCookies, network.GetCookiesParams{URLs: []string{origin + "/"}})
	if err == nil {
		for _, c := range res.Cookies {
			hc := &http.Cookie{Name: c.Name, Value: c.Value, Path: c.Path, Secure: c.Secure, HttpOnly: c.HTTPOnly}
			// The attributes decide which probes carry the cookie.
			switch c.SameSite {
			case network.CookieSameSiteNone:
				hc.SameSite = http.SameSiteNoneMode
			case network.CookieSameSiteLax:
				hc.SameSite = http.SameSiteLaxMode
			case network.CookieSameSiteStrict:
				hc.SameSite = http.SameSiteStrictMode
			}
			out.Cookies = append(out.Cookies, hc)
		}
	}
	return out, nil
}

// recorder handles the tab's events.
type recorder struct {
	b      *browser.Browser
	ex     scan.Exploration
	target *url.URL

	mu            sync.Mutex
	page, trigger string
	last          time.Time // the latest intercepted request
	requests      []scan.RecordedRequest
	seen          map[string]bool
	sockets       []string
	fetches       []string // GETs the scripts sent (fetch, XMLHttpRequest)
	notes         []string
	noted         map[string]bool
	elsewhere     int
	inflight      sync.WaitGroup // paused requests being decided
}

// context names what the explorer does next; settle then waits at
// least quietFor from now.
func (r *recorder) context(page, trigger string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.page, r.trigger = page, trigger
	r.last = time.Now()
}

func (r *recorder) note(format string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := fmt.Sprintf(format, a...)
	if r.noted == nil {
		r.noted = map[string]bool{}
	}
	if !r.noted[n] {
		r.noted[n] = true
		r.notes = append(r.notes, n)
	}
}

// settle waits until no request was intercepted for quietFor, counting
// from now (the end of the action) at the earliest, at most settleMax.
func (r *recorder) settle(ctx context.Context) {
	now := time.Now()
	r.mu.Lock()
	if r.last.Before(now) {
		r.last = now
	}
	r.mu.Unlock()
	deadline := now.Add(settleMax)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		r.mu.Lock()
		quiet := time.Since(r.last) >= quietFor
		r.mu.Unlock()
		if quiet {
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// event runs on chromedp's event loop: the browser is called from a
// goroutine.
func (r *recorder) event(ev any) {
	switch ev := ev.(type) {
	case *fetch.EventRequestPaused:
		r.mu.Lock()
		r.last = time.Now()
		r.mu.Unlock()
		r.inflight.Add(1)
		go func() {
			defer r.inflight.Done()
			r.paused(ev)
		}()
	case *network.EventWebSocketCreated:
		r.mu.Lock()
		r.sockets = append(r.sockets, ev.URL)
		r.mu.Unlock()
	}
}

// paused decides the fate of one intercepted request.
func (r *recorder) paused(ev *fetch.EventRequestPaused) {
	ctx, cancel := r.b.Context(context.Background())
	defer cancel()
	fail := func() {
		chromedp.Call(ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonBlockedByClient})
	}
	u, err := url.Parse(ev.Request.URL)
	switch {
	case err != nil:
		fail()
		return
	case u.Scheme == "data" || u.Scheme == "blob":
		// The page's own data, no network.
	case u.Scheme+"://"+strings.ToLower(u.Host) != r.target.Scheme+"://"+strings.ToLower(r.target.Host):
		r.mu.Lock()
		r.elsewhere++
		r.mu.Unlock()
		fail()
		return
	case r.ex.Excluded != nil && r.ex.Excluded(u):
		r.note("%s %s is excluded (--exclude or the default logout patterns): not sent", ev.Request.Method, u.Redacted())
		fail()
		return
	}
	switch ev.Request.Method {
	case "GET", "HEAD", "OPTIONS":
		if ev.Request.Method == "GET" && (ev.ResourceType == network.ResourceTypeFetch || ev.ResourceType == network.ResourceTypeXHR) {
			// What the app reads its state from: a candidate oracle.
			r.mu.Lock()
			if !r.seen["GET "+ev.Request.URL] {
				r.seen["GET "+ev.Request.URL] = true
				r.fetches = append(r.fetches, ev.Request.URL)
			}
			r.mu.Unlock()
		}
		chromedp.Call(ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
		return
	}
	h := http.Header{}
	for k, v := range ev.Request.Headers {
		h.Set(k, fmt.Sprint(v))
	}
	var body []byte
	for _, e := range ev.Request.PostDataEntries {
		body = append(body, e.Bytes...)
	}
	r.mu.Lock()
	key := ev.Request.Method + " " + ev.Request.URL
	if !r.seen[key] {
		r.seen[key] = true
		r.requests = append(r.requests, scan.RecordedRequest{
			Method: ev.Request.Method, URL: ev.Request.URL, Header: h, Body: body,
			Page: r.page, Trigger: r.trigger,
		})
	}
	r.mu.Unlock()
	// Held back: the scanner sends it itself, under its rules.
	fail()
}

func (r *recorder) result() *scan.Explored {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := &scan.Explored{Requests: r.requests, WebSockets: r.sockets, Fetches: r.fetches, Notes: r.notes}
	if r.elsewhere > 0 {
		out.Notes = append(out.Notes, fmt.Sprintf("%d requests to other origins were blocked (the browser stays on the target's origin)", r.elsewhere))
	}
	return out
}
