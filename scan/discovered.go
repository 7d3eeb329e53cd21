package scan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// Verification without hints: with no Config.Verify, the scanner re-reads
// the start pages and the same-origin JSON GETs it found on them (or saw
// their scripts send, in browser mode) twice
// before each legitimate request and twice after it. A value that stayed
// put over the two reloads before, changed with the legitimate request,
// and then stayed put again (so it is not a flash message that the next
// load consumes) is the endpoint's discovered oracle.

// Bounds on what a discovered oracle reads.
const (
	maxWatchJSON    = 8   // JSON GETs taken from the start pages
	maxValuesPerURL = 500 // values taken from one answer
	maxValueLen     = 200 // bytes of one value kept
)

// A snapshot holds the values read from each watched URL: URL → key →
// value. A URL that failed or was not a 200 has no entry.
type snapshot map[string]map[string]string

// A discovered oracle: the values that changed with the legitimate
// request, and what they were after the latest request.
type discovered struct {
	keys []valueKey
	// dir is the sign of a numeric value's change with the legitimate
	// request (0 for text): a probe must move it the same way, so that a
	// counter that went back (a message gone) is no acceptance.
	dir  map[valueKey]int
	urls []*url.URL
	last snapshot
}

type valueKey struct{ url, key string }

// addWatch adds a same-origin GET to the pages re-read to discover an
// oracle (prepareWatch calls it). JSON GETs are read as the page's script
// reads them.
func (sc *scanner) addWatch(u *url.URL) {
	if !sameOrigin(u, sc.target) || logoutLike.MatchString(u.Path) || actionLink.MatchString(u.RequestURI()) || sc.exclude.excluded(u) {
		return
	}
	for _, w := range sc.watch {
		if w.String() == u.String() {
			return
		}
	}
	sc.watch = append(sc.watch, cloneURL(u))
}

// prepareWatch collects the URLs to watch when no Verify is given: the
// start pages (or the target) and the same-origin JSON GETs that the
// browser saw the pages' scripts send (browser mode) or that the scripts
// and links of the pages fetched so far (start pages, crawled pages)
// name, which answer 200 with JSON. No endpoint's own URL is ever taken
// (its GET might change state), nor an excluded or action-like one.
func (sc *scanner) prepareWatch(ctx context.Context, endpoints []Endpoint) error {
	skip := map[string]bool{}
	for _, e := range endpoints {
		if u, err := resolve(sc.target, e.Path); err == nil {
			skip[u.Path] = true
		}
	}
	pages := sc.cfg.StartPages
	if len(pages) == 0 {
		pages = []string{sc.target.String()}
	}
	// What the scripts were seen to fetch comes first: it is what the app
	// itself reads.
	var candidates []*url.URL
	for _, u := range sc.fetched {
		if !skip[u.Path] {
			candidates = append(candidates, u)
		}
	}
	for _, p := range pages {
		u, _ := resolve(sc.target, p) // validated
		if !skip[u.Path] {
			sc.addWatch(u)
		}
	}
	known := slices.Sorted(maps.Keys(sc.pages))
	// The start pages' first.
	sort.SliceStable(known, func(i, j int) bool {
		return slices.ContainsFunc(sc.watch, func(w *url.URL) bool { return w.String() == known[i] }) &&
			!slices.ContainsFunc(sc.watch, func(w *url.URL) bool { return w.String() == known[j] })
	})
	for _, k := range known {
		u, _ := url.Parse(k) // stored from a URL
		for _, c := range jsonCandidates(sc.pages[k], u) {
			if sameOrigin(c, sc.target) && !skip[c.Path] {
				candidates = append(candidates, c)
			}
		}
	}
	seen := map[string]bool{}
	n := 0
	for _, c := range candidates {
		if n >= maxWatchJSON || seen[c.String()] || logoutLike.MatchString(c.Path) {
			continue
		}
		seen[c.String()] = true
		resp, err := sc.send.send(ctx, sc.jsonRequest(c))
		if err != nil {
			if fatal(err) {
				return err
			}
			continue
		}
		if resp.Status == http.StatusOK && json.Valid(resp.Body) {
			sc.addWatch(c)
			n++
			// The user's state, as a verification URL is: checked for
			// CORS as Config.Verify's URL is.
			sc.checkCORS(ctx, c)
		}
	}
	return nil
}

// jsonPath matches quoted URLs and paths in scripts, absolute ("/api/x",
// "https://host/api/x") or relative ("api/x"); jsonCandidates keeps
// those that look like JSON APIs, and prepareWatch the same-origin ones.
var jsonPath = regexp.MustCompile(`["'\x60]((?:https?://[A-Za-z0-9.\-:\[\]]+)?[A-Za-z0-9_\-./~%?=&]*)["'\x60]`)

// jsonCandidates are the JSON GET URLs a page names: quoted paths with
// /api/ or .json in inline scripts and in href, src and data- attributes.
func jsonCandidates(body []byte, base *url.URL) []*url.URL {
	var out []*url.URL
	add := func(s string) {
		s = strings.TrimSpace(s)
		if !strings.Contains(s, "/api") && !strings.HasPrefix(s, "api/") && !strings.Contains(s, ".json") {
			return
		}
		if r, err := url.Parse(s); err == nil {
			u := base.ResolveReference(r)
			u.Fragment = ""
			out = append(out, u)
		}
	}
	z := html.NewTokenizer(bytes.NewReader(body))
	inScript := false
	for len(out) < 4*maxWatchJSON {
		switch z.Next() {
		case html.ErrorToken:
			return out
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			inScript = t.Data == "script"
			for _, a := range t.Attr {
				if a.Key == "href" || a.Key == "src" && t.Data != "script" || strings.HasPrefix(a.Key, "data-") {
					add(a.Val)
				}
			}
		case html.TextToken:
			if inScript {
				for _, m := range jsonPath.FindAllSubmatch(z.Text(), -1) {
					add(string(m[1]))
				}
			}
		case html.EndTagToken:
			inScript = false
		}
	}
	return out
}

// jsonRequest is a same-origin fetch() of a JSON GET, as the page's
// script sends it.
func (sc *scanner) jsonRequest(u *url.URL) *request {
	r := &request{Method: "GET", URL: cloneURL(u), Header: http.Header{}}
	r.Header.Set("User-Agent", userAgent)
	ctxSameOriginFetch.headers(r.Header, sc.target)
	r.Header.Del("Origin") // a same-origin GET fetch sends none
	r.Header.Set("Accept", "application/json")
	r.Cookies = sc.victim.pick(cookiesAll)
	return r
}

// snapshot reads every URL in urls with the victim's cookies (pages as
// page loads, the rest as fetches) and keeps their values. Only the
// request limit and cancellation are errors.
func (sc *scanner) snapshot(ctx context.Context, urls []*url.URL) (snapshot, error) {
	out := snapshot{}
	for _, u := range urls {
		r := sc.jsonRequest(u)
		if _, page := sc.pages[u.String()]; page {
			r = sc.pageRequest(u, sc.victim, false)
		}
		resp, err := sc.send.send(ctx, r)
		if err != nil {
			if fatal(err) {
				return nil, err
			}
			continue
		}
		if resp.Status != http.StatusOK {
			continue
		}
		out[u.String()] = extractValues(resp.Body)
	}
	return out, nil
}

// countedTags are the elements whose number on a page tells that a list
// or a table grew or shrank.
var countedTags = map[string]bool{"tr": true, "li": true, "article": true, "option": true, "a": true, "form": true}

// extractValues takes the values of a JSON document (every scalar by its
// pointer, every array's length) or of an HTML page (the text of each
// element with an id, and the number of rows, items, links and forms).
func extractValues(body []byte) map[string]string {
	out := map[string]string{}
	var doc any
	if d := json.NewDecoder(bytes.NewReader(body)); json.Valid(body) {
		d.UseNumber()
		if d.Decode(&doc) == nil {
			walkJSON(doc, "", out)
			return out
		}
	}
	counts := map[string]int{}
	z := html.NewTokenizer(bytes.NewReader(body))
	type open struct {
		id   string
		text strings.Builder
	}
	var stack []*open
	for len(out) < maxValuesPerURL {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			for t, n := range counts {
				out["count("+t+")"] = strconv.Itoa(n)
			}
			return out
		case html.StartTagToken:
			t := z.Token()
			if countedTags[t.Data] {
				counts[t.Data]++
			}
			for _, a := range t.Attr {
				if a.Key == "id" && a.Val != "" && t.Data != "input" && t.Data != "script" && t.Data != "style" {
					stack = append(stack, &open{id: a.Val})
				}
			}
		case html.SelfClosingTagToken:
			if t := z.Token(); countedTags[t.Data] {
				counts[t.Data]++
			}
		case html.TextToken:
			for _, o := range stack {
				if o.text.Len() < maxValueLen {
					o.text.Write(z.Text())
				}
			}
		case html.EndTagToken:
			// Close the innermost element with an id (HTML's nesting is
			// loose; this is an approximation that errs on longer text).
			if n := len(stack); n > 0 {
				o := stack[n-1]
				stack = stack[:n-1]
				v := strings.Join(strings.Fields(o.text.String()), " ")
				if len(v) > maxValueLen {
					v = v[:maxValueLen]
				}
				out["#"+o.id] = v
			}
		}
	}
	return out
}

func walkJSON(v any, ptr string, out map[string]string) {
	if len(out) >= maxValuesPerURL {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			walkJSON(x, ptr+"/"+strings.ReplaceAll(strings.ReplaceAll(k, "~", "~0"), "/", "~1"), out)
		}
	case []any:
		out[ptr+"#length"] = strconv.Itoa(len(t))
		for i, x := range t {
			walkJSON(x, ptr+"/"+strconv.Itoa(i), out)
		}
	default:
		b, _ := json.Marshal(t) // decoded JSON re-encodes
		s := string(b)
		if len(s) > maxValueLen {
			s = s[:maxValueLen]
		}
		out[ptr] = s
	}
}

// discoverOracle reads the watched URLs twice after the legitimate
// request and returns the oracle made of the values that were steady
// over b1 and b2, changed with the request and are steady again; nil if
// there is none.
func (sc *scanner) discoverOracle(ctx context.Context, b1, b2 snapshot) (*discovered, error) {
	a1, err := sc.snapshot(ctx, sc.watch)
	if err != nil {
		return nil, err
	}
	a2, err := sc.snapshot(ctx, sc.watch)
	if err != nil {
		return nil, err
	}
	d := &discovered{dir: map[valueKey]int{}, last: a2}
	urls := map[string]bool{}
	for _, w := range sc.watch {
		u := w.String()
		for k, v2 := range b2[u] {
			v1, ok1 := b1[u][k]
			w1, ok3 := a1[u][k]
			w2, ok4 := a2[u][k]
			if !ok1 || !ok3 || !ok4 || v1 != v2 || w1 == v2 || w1 != w2 {
				continue
			}
			key := valueKey{u, k}
			d.keys = append(d.keys, key)
			d.dir[key] = direction(v2, w1)
			if !urls[u] {
				urls[u] = true
				d.urls = append(d.urls, w)
			}
		}
	}
	if len(d.keys) == 0 {
		return nil, nil
	}
	sort.Slice(d.keys, func(i, j int) bool {
		if d.keys[i].url != d.keys[j].url {
			return d.keys[i].url < d.keys[j].url
		}
		return d.keys[i].key < d.keys[j].key
	})
	return d, nil
}

// direction is the sign of b-a when both are numbers, else 0.
func direction(a, b string) int {
	x, err1 := strconv.ParseFloat(strings.Trim(a, `"`), 64)
	y, err2 := strconv.ParseFloat(strings.Trim(b, `"`), 64)
	switch {
	case err1 != nil || err2 != nil:
		return 0
	case y > x:
		return 1
	case y < x:
		return -1
	}
	return 0
}

// discoveredChanged re-reads the oracle's URLs and says whether one of
// its values changed since the latest read, the way the legitimate
// request changed it.
func (sc *scanner) discoveredChanged(ctx context.Context, d *discovered) (string, bool, error) {
	now, err := sc.snapshot(ctx, d.urls)
	if err != nil {
		return "", false, err
	}
	prev := d.last
	d.last = now
	for _, k := range d.keys {
		was, ok1 := prev[k.url][k.key]
		is, ok2 := now[k.url][k.key]
		if !ok1 || !ok2 || was == is {
			continue
		}
		if dir := d.dir[k]; dir != 0 && direction(was, is) != dir {
			continue
		}
		return fmt.Sprintf("the discovered verification value %s at GET %s changed from %s to %s, as with the legitimate request", k.key, redactedURL(k.url), shown(was), shown(is)), true, nil
	}
	return "", false, nil
}

// describe names the oracle's values for the endpoint's report.
func (d *discovered) describe() string {
	var parts []string
	for i, k := range d.keys {
		if i == 3 {
			parts = append(parts, fmt.Sprintf("and %d more", len(d.keys)-3))
			break
		}
		parts = append(parts, "GET "+redactedURL(k.url)+" "+k.key)
	}
	return strings.Join(parts, ", ")
}

func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return s
}

// shown quotes a value the service chose, for evidence: control
// characters never reach a terminal.
func shown(v string) string {
	if len(v) > 60 {
		v = v[:60] + "…"
	}
	return strconv.Quote(v)
}
