package scan_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// site is a small linked site for the crawler, which counts the hits on
// every path:
//
//	/           form POST /top; links to /a, /logout, /Sign_Out, /items/1/delete,
//	            another origin, a fragment, mailto:, and /list?page=1..9
//	/a          links to /a/b; iframe /frame
//	/a/b        link to /a/b/c (relative: b/c)
//	/a/b/c      form POST /deep (three links away)
//	/frame      form POST /framed (two links away)
//	/redirect   302 to /a/b (linked from /list)
type site struct {
	mu   sync.Mutex
	hits map[string]int
	srv  *httptest.Server
	// other is another origin; it must never be reached.
	other *httptest.Server
}

func newSite(t *testing.T) *site {
	s := &site{hits: map[string]int{}}
	s.other = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits["other"+r.URL.Path]++
		s.mu.Unlock()
	}))
	t.Cleanup(s.other.Close)
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, "<!doctype html><title>site</title>"+body)
		}
	}
	mux := http.NewServeMux()
	var list strings.Builder
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&list, `<a href="/list?page=%d">%d</a>`, i, i)
	}
	mux.HandleFunc("GET /{$}", page(`<form method="post" action="/top"><input name="x" value="1"></form>
<a href="/a">a</a> <a href="/logout">log out</a> <a href="/Sign_Out">sign out</a>
<a href="/items/1/delete">delete</a> <a href="`+"OTHER"+`/page">elsewhere</a>
<a href="#top">top</a> <a href="mailto:a@example.com">mail</a> <a href="javascript:void(0)">js</a>`+list.String()))
	mux.HandleFunc("GET /a", page(`<a href="/a/b">b</a><iframe src="/frame"></iframe>`))
	mux.HandleFunc("GET /a/b", page(`<a href="b/c">c</a>`))
	mux.HandleFunc("GET /a/b/c", page(`<form method="post" action="/deep"><input name="y" value="2"></form>`))
	mux.HandleFunc("GET /frame", page(`<form method="post" action="/framed"><input name="z" value="3"></form>`))
	mux.HandleFunc("GET /list", page(`<a href="/redirect">more</a>`))
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/a/b", http.StatusFound) })
	mux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "done") })
	s.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		if r.URL.Path == "/" && r.Method == "GET" {
			// The other origin's URL is only known now.
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, r)
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, strings.Replace(rec.Body.String(), "OTHER", s.other.URL, 1))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *site) hit(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[path]
}

func (s *site) scan(t *testing.T, cfg scan.Config) *scan.Report {
	t.Helper()
	cfg.Target = s.srv.URL
	cfg.TLS = s.srv.Client().Transport.(*http.Transport).TLSClientConfig
	cfg.Discover, cfg.Rate = true, 1000
	rep, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func endpointPaths(rep *scan.Report) []string {
	var out []string
	for _, e := range rep.Endpoints {
		out = append(out, e.URL[strings.LastIndex(e.URL, "/"):])
	}
	slices.Sort(out)
	return out
}

// TestCrawl: discovery follows same-origin links and finds forms several
// links deep, within the depth and page limits, and never fetches what
// is excluded (the default logout patterns, the user's, links naming an
// action) or another origin.
func TestCrawl(t *testing.T) {
	tests := []struct {
		name    string
		cfg     scan.Config
		want    []string       // endpoints found
		fetched []string       // paths fetched at least once
		never   []string       // paths never fetched
		note    string         // a note that must be in the report
		hits    map[string]int // exact hit counts
	}{
		{name: "deep forms with depth 3", cfg: scan.Config{CrawlDepth: 3},
			want:    []string{"/deep", "/framed", "/top"},
			fetched: []string{"/a", "/a/b", "/a/b/c", "/frame", "/list", "/redirect"},
			never:   []string{"/logout", "/Sign_Out", "/items/1/delete", "other/page"},
			note:    "is excluded (--exclude or the default logout patterns): not fetched"},
		{name: "depth limit (default 2)", cfg: scan.Config{},
			want:    []string{"/framed", "/top"},
			fetched: []string{"/a", "/a/b", "/frame"},
			never:   []string{"/a/b/c", "/logout"}},
		{name: "start pages only", cfg: scan.Config{CrawlDepth: -1},
			want:  []string{"/top"},
			never: []string{"/a", "/frame"}},
		{name: "page limit", cfg: scan.Config{CrawlDepth: 3, CrawlPages: 2},
			want:    []string{"/top"},
			fetched: []string{"/a"},
			never:   []string{"/a/b", "/frame", "/list"},
			note:    "stopped after 2 pages"},
		{name: "user exclusion", cfg: scan.Config{CrawlDepth: 3, Exclude: []string{`^/a/b$`}},
			want:  []string{"/framed", "/top"},
			never: []string{"/a/b", "/a/b/c"}},
		{name: "action link noted", cfg: scan.Config{},
			want:  []string{"/framed", "/top"},
			never: []string{"/items/1/delete"},
			note:  "/items/1/delete on "},
		{name: "queries of one path bounded", cfg: scan.Config{},
			want: []string{"/framed", "/top"},
			hits: map[string]int{"/list": 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSite(t)
			rep := s.scan(t, tt.cfg)
			if got := endpointPaths(rep); !slices.Equal(got, tt.want) {
				t.Errorf("endpoints: got %v, want %v", got, tt.want)
			}
			for _, p := range tt.fetched {
				if s.hit(p) == 0 {
					t.Errorf("%s: never fetched, want it fetched", p)
				}
			}
			for _, p := range tt.never {
				if n := s.hit(p); n != 0 {
					t.Errorf("%s: fetched %d times, want never", p, n)
				}
			}
			for p, n := range tt.hits {
				if got := s.hit(p); got != n {
					t.Errorf("%s: fetched %d times, want %d", p, got, n)
				}
			}
			if tt.note != "" && !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, tt.note) }) {
				t.Errorf("notes: got %q, want one containing %q", rep.Notes, tt.note)
			}
		})
	}
}

// TestCrawlPatterns: the default exclusions cover the spellings of
// logout, and an invalid user pattern is a configuration error.
func TestCrawlPatterns(t *testing.T) {
	for _, p := range []string{"/logout", "/log-out", "/LogOut", "/log_off", "/signout", "/sign-out", "/accounts/sign_off/", "/session/end-session", "/a?next=%2Flogout"} {
		s := newSite(t)
		s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.mu.Lock()
			s.hits[r.URL.Path]++
			s.mu.Unlock()
			if r.Method == "POST" {
				return
			}
			fmt.Fprintf(w, `<a href="%s">bye</a><form method="post" action="/x"></form>`, p)
		})
		rep := s.scan(t, scan.Config{})
		if n := s.hit(strings.Split(p, "?")[0]); n != 0 && p != "/a?next=%2Flogout" {
			t.Errorf("%s: fetched %d times, want never", p, n)
		}
		if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "is excluded") }) {
			t.Errorf("%s: notes %q, want it excluded", p, rep.Notes)
		}
	}
	// The twin: a path that only looks alike is followed.
	s := newSite(t)
	s.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.mu.Unlock()
		fmt.Fprint(w, `<a href="/login-help">help</a><form method="post" action="/x"></form>`)
	})
	s.scan(t, scan.Config{})
	if s.hit("/login-help") != 1 {
		t.Errorf("/login-help: fetched %d times, want once", s.hit("/login-help"))
	}

	_, err := scan.Run(context.Background(), scan.Config{Target: "https://localhost/", Exclude: []string{"(unclosed"}})
	if err == nil || !strings.Contains(err.Error(), `invalid pattern "(unclosed"`) {
		t.Errorf("invalid pattern: got %v, want an error naming it", err)
	}
}
