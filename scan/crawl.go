package scan

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"golang.org/x/net/html"
)

// DefaultExclude is the pattern discovery always excludes, whatever
// Config.Exclude adds: the URLs (and, in the browser, the buttons) that
// would end the scanner's session (log out, log off, sign out, sign off,
// end session, with or without a hyphen, underscore or space, in any
// case).
const DefaultExclude = `(?i)log[-_ ]?(?:out|off)|sign[-_ ]?(?:out|off)|end[-_ ]?session`

// Crawl defaults.
const (
	DefaultCrawlDepth = 2
	DefaultCrawlPages = 50
)

// actionLink matches GET links whose path or query names an action that
// changes state (/items/3/delete, ?action=remove): a crawler that follows
// them would change state itself, so discovery never does. They are
// reported in the notes; give such an endpoint with Config.Endpoints (as
// a GET) to test it.
var actionLink = regexp.MustCompile(`(?i)(?:^|[^a-z])(?:delete|remove|destroy|drop|purge|revoke|unsubscribe|deactivate|disable|suspend|ban|cancel|approve|reject|reset|wipe|erase|kill|shutdown|restart)(?:[^a-z]|$)`)

// maxPerPath bounds the pages discovery fetches in one crawlGroup
// (?page=1, ?page=2, …), so that one listing cannot use up the page
// budget; all the groups of one path together take at most half of it.
const maxPerPath = 5

// routeParams are query parameters that name a screen rather than an
// item: front controllers route by them (DokuWiki's do, MediaWiki's
// action, WordPress's admin.php?page=, Joomla's option, view and task,
// ThinkPHP's m, c and a).
var routeParams = map[string]bool{
	"a": true, "act": true, "action": true, "c": true, "cmd": true,
	"controller": true, "ctrl": true, "do": true, "m": true, "mod": true,
	"mode": true, "module": true, "op": true, "option": true, "page": true,
	"route": true, "screen": true, "section": true, "tab": true,
	"task": true, "view": true,
}

// crawlGroup is the group of pages that u counts against maxPerPath: its
// path and the names of its query's parameters, with the values of those
// that route (a value with a '/', as phpMyAdmin's route=/server/sql and
// Yii's r=site/login, or a routeParams name with a value that is not a
// number) and without the others' (IDs, page numbers, titles, searches).
// So each screen of a front controller gets pages of its own, while a
// listing's pages (?page=2, ?id=7, ?title=…) share five.
func crawlGroup(u *url.URL) string {
	var b strings.Builder
	b.WriteString(u.EscapedPath())
	var parts []string
	for kv := range strings.SplitSeq(u.RawQuery, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		if strings.Contains(v, "/") || routeParams[strings.ToLower(k)] && strings.Trim(v, "0123456789") != "" {
			parts = append(parts, k+"="+v)
		} else {
			parts = append(parts, k)
		}
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	for i, p := range parts {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(p)
	}
	return b.String()
}

// excluder decides which URLs discovery leaves alone.
type excluder struct {
	res []*regexp.Regexp
}

// newExcluder compiles DefaultExclude and the user's patterns.
func newExcluder(patterns []string) (*excluder, error) {
	x := &excluder{res: []*regexp.Regexp{regexp.MustCompile(DefaultExclude)}}
	for _, p := range patterns {
		if strings.TrimSpace(p) == "" {
			return nil, fmt.Errorf("exclude: empty pattern")
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("exclude: invalid pattern %q: %v", p, err)
		}
		x.res = append(x.res, re)
	}
	return x, nil
}

// excluded reports whether u matches a pattern. Each pattern is tried on
// the decoded path, on the escaped path with the query, and on the whole
// URL: a percent-encoded "logout" is still excluded.
func (x *excluder) excluded(u *url.URL) bool {
	if x == nil {
		return false
	}
	subjects := []string{u.Path, u.RequestURI(), u.String()}
	for _, re := range x.res {
		for _, s := range subjects {
			if re.MatchString(s) {
				return true
			}
		}
	}
	return false
}

// excludedLabel reports whether an element's text, id, name, href or
// action matches a pattern: the browser neither clicks nor submits it.
func (x *excluder) excludedLabel(s string) bool {
	if x == nil {
		return false
	}
	for _, re := range x.res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// A crawledPage is one page discovery fetched.
type crawledPage struct {
	u     *url.URL
	depth int
	resp  *response
	// script: a same-origin script of a page, read for WebSocket URLs
	// only.
	script bool
}

// crawl fetches the start pages, then follows same-origin links breadth
// first up to the configured depth and page count, calling visit for
// each HTML page that answered below 400. visit returns false to stop the
// crawl. start, when not nil, is the answer to the target already
// fetched. Only fatal errors (request limit, cancellation) are returned.
func (sc *scanner) crawl(ctx context.Context, start *response, visit func(p crawledPage) bool) error {
	pages := sc.cfg.StartPages
	if len(pages) == 0 {
		pages = []string{sc.target.String()}
	}
	maxDepth := sc.cfg.CrawlDepth
	switch {
	case maxDepth == 0:
		maxDepth = DefaultCrawlDepth
	case maxDepth < 0:
		maxDepth = 0
	}
	maxPages := sc.cfg.CrawlPages
	if maxPages == 0 {
		maxPages = DefaultCrawlPages
	}

	type item struct {
		u      *url.URL
		depth  int
		from   string // the page that linked here; "" for a start page
		script bool
	}
	var queue []item
	seen := map[string]bool{}
	perGroup := map[string]int{} // crawlGroup → links queued
	perPath := map[string]int{}  // path → links queued, every group
	// enqueue adds u unless it was seen, is excluded, leaves the origin
	// or names an action; start pages are taken as given (but for the
	// exclusions).
	enqueue := func(u *url.URL, depth int, from string, script bool) {
		u = cloneURL(u)
		u.Fragment, u.RawFragment = "", ""
		if u.Path == "" {
			u.Path = "/"
		}
		key := u.String()
		if seen[key] {
			return
		}
		seen[key] = true
		if !sameOrigin(u, sc.target) {
			return // links elsewhere are not the target's; silently left
		}
		if sc.exclude.excluded(u) {
			sc.note("discovery: %s is excluded (--exclude or the default logout patterns): not fetched", u.Redacted())
			return
		}
		if from != "" && !script && actionLink.MatchString(u.RequestURI()) {
			sc.note("discovery: link to %s on %s names an action: not followed (a GET there may change state; give it as an endpoint to test it)", u.Redacted(), from)
			return
		}
		if from != "" {
			// A value that routes may also be a listing's (?dir=/a/b, a
			// base64 cursor, a date 2026/12/04): however many groups
			// one path has, it takes at most half the page budget.
			g, p := crawlGroup(u), u.EscapedPath()
			if perGroup[g] >= maxPerPath || perPath[p] >= max(maxPerPath, maxPages/2) {
				return
			}
			perGroup[g]++
			perPath[p]++
		}
		queue = append(queue, item{u, depth, from, script})
	}
	for _, p := range pages {
		u, _ := resolve(sc.target, p) // validated
		enqueue(u, 0, "", false)
	}

	// Scripts are read for the WebSockets they name but are not pages:
	// they have a budget of their own, so that a page that loads many
	// (phpMyAdmin's start page loads 36) does not use up the pages.
	fetched, scriptsFetched := 0, 0
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if it.script {
			if scriptsFetched >= maxPages {
				continue
			}
			scriptsFetched++
		} else {
			if fetched >= maxPages {
				sc.note("discovery: stopped after %d pages (the crawl page limit); %d more links were not followed", maxPages, len(queue)+1)
				return nil
			}
			fetched++
		}
		var resp *response
		if start != nil && it.u.String() == sc.target.String() {
			resp = start
		} else {
			r, err := sc.do(ctx, sc.pageRequest(it.u, sc.victim, false))
			if err != nil {
				if fatal(err) {
					return err
				}
				sc.note("discovery: GET %s failed: %v", it.u.Redacted(), err)
				continue
			}
			resp = r
		}
		if resp.Status >= 300 && resp.Status < 400 {
			// Where a page redirects is that page: same depth.
			if loc, err := it.u.Parse(resp.Header.Get("Location")); err == nil && resp.Header.Get("Location") != "" {
				enqueue(loc, it.depth, it.u.String(), it.script)
			}
			continue
		}
		if resp.Status >= 400 {
			// An error page's forms are not the service's endpoints; say
			// so rather than scan them or skip the page silently.
			sc.note("discovery: GET %s answered %d: no forms taken from it", it.u.Redacted(), resp.Status)
			continue
		}
		if it.script {
			if !visit(crawledPage{it.u, it.depth, resp, true}) {
				return nil
			}
			continue
		}
		if !isHTML(resp) {
			continue
		}
		sc.progress("discovering forms on %s", it.u.Redacted())
		if !visit(crawledPage{it.u, it.depth, resp, false}) {
			return nil
		}
		links, scripts := parseLinks(resp.Body, it.u)
		for _, l := range scripts {
			// A page's own scripts, whatever the depth: they may name
			// its WebSocket.
			enqueue(l, it.depth, it.u.Redacted(), true)
		}
		if it.depth >= maxDepth {
			continue
		}
		for _, l := range links {
			enqueue(l, it.depth+1, it.u.Redacted(), false)
		}
	}
	return nil
}

// isHTML reports whether a response is an HTML page: by its Content-Type
// or, when that is missing or text/plain (what Go's content sniffing
// gives a page that starts with <form>), by its first byte.
func isHTML(r *response) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "text/html" || mt == "application/xhtml+xml":
		return true
	case err == nil && mt != "text/plain":
		return false
	}
	b := bytes.TrimSpace(r.Body)
	return len(b) > 0 && b[0] == '<'
}

// maxLinks bounds the links taken from one page.
const maxLinks = 1000

// parseLinks returns the URLs a page links to, resolved against the page
// (or its <base href>): a and area href, iframe and frame src, and the
// actions of GET forms (without their fields); and the src of its
// scripts. Links that do not parse are skipped.
func parseLinks(body []byte, page *url.URL) (links, scripts []*url.URL) {
	z := html.NewTokenizer(bytes.NewReader(body))
	base := page
	for len(links)+len(scripts) < maxLinks {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		t := z.Token()
		attr := func(k string) (string, bool) {
			for _, a := range t.Attr {
				if a.Key == k {
					return a.Val, true
				}
			}
			return "", false
		}
		var ref string
		var ok, script bool
		switch t.Data {
		case "script":
			ref, ok = attr("src")
			script = true
		case "base":
			// The first <base href> counts, as in browsers.
			if h, ok := attr("href"); ok && base == page {
				if b, err := page.Parse(strings.TrimSpace(h)); err == nil {
					base = b
				}
			}
			continue
		case "a", "area":
			ref, ok = attr("href")
		case "iframe", "frame":
			ref, ok = attr("src")
		case "form":
			m, _ := attr("method")
			if m = strings.TrimSpace(m); m != "" && !strings.EqualFold(m, "get") {
				continue
			}
			ref, ok = attr("action")
		}
		if !ok {
			continue
		}
		ref = strings.TrimSpace(ref)
		if ref == "" || strings.HasPrefix(ref, "#") {
			continue
		}
		u, err := base.Parse(ref)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			continue
		}
		if script {
			scripts = append(scripts, u)
		} else {
			links = append(links, u)
		}
	}
	return links, scripts
}
