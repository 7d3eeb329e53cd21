package scan_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// TestDiscoverFormsOfOneFrontController: a PHP application routes every
// form through one script by its query (phpMyAdmin's
// index.php?route=/server/databases/create, MediaWiki's
// index.php?title=Special:MovePage&action=submit), so its forms share a
// path. Discovery takes each of them: a form that accepts a cross-site
// POST is reported though another form of the same script, found
// first, refuses one. Twin: the same forms on scripts of their own.
func TestDiscoverFormsOfOneFrontController(t *testing.T) {
	for _, tt := range []struct {
		name          string
		guarded, open string // the forms' actions
	}{
		{"one script", "/index.php?route=/guarded", "/index.php?route=/open"},
		{"two scripts", "/guarded.php", "/open.php"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				switch {
				case r.Method == "GET":
					fmt.Fprintf(w, `<!doctype html><title>app</title>
<form method="post" action="%s"><input name="db" value="a"></form>
<form method="post" action="%s"><input name="db" value="b"></form>`, tt.guarded, tt.open)
				case strings.Contains(r.URL.RequestURI(), "guarded") && r.Header.Get("Sec-Fetch-Site") != "same-origin":
					http.Error(w, "cross-site", http.StatusForbidden)
				default:
					fmt.Fprint(w, "<!doctype html><title>app</title>done")
				}
			}))
			t.Cleanup(srv.Close)
			rep := (&site{srv: srv}).scan(t, scan.Config{})
			var urls []string
			for _, e := range rep.Endpoints {
				urls = append(urls, strings.TrimPrefix(e.URL, srv.URL))
			}
			for _, want := range []string{tt.guarded, tt.open} {
				if !slices.Contains(urls, want) {
					t.Errorf("endpoints %q: want %s among them; notes: %q", urls, want, rep.Notes)
				}
			}
			if got := forgeries(rep, tt.open); !slices.Contains(got, scan.RuleCrossSiteForgery) {
				t.Errorf("%s: findings %v, want %s", tt.open, got, scan.RuleCrossSiteForgery)
			}
			if got := forgeries(rep, tt.guarded); len(got) != 0 {
				t.Errorf("%s: findings %v, want none", tt.guarded, got)
			}
		})
	}
}

// TestCrawlScreensOfOneFrontController: a front controller's screens
// share its path and differ in a routing parameter
// (index.php?route=/server/sql, ?action=edit, ?page=settings), so each
// is crawled as a page of its own and its form found; a listing's pages
// (?page=2, ?id=7) on the same path still share five fetches.
func TestCrawlScreensOfOneFrontController(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	const screens = 8
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.RequestURI()]++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		q := r.URL.Query()
		switch {
		case r.Method != "GET":
			fmt.Fprint(w, "<!doctype html><title>app</title>done")
		case q.Get("route") != "" || q.Get("action") != "":
			fmt.Fprintf(w, `<!doctype html><title>app</title><form method="post" action="%s"><input name="x" value="1"></form>`, html.EscapeString(r.URL.RequestURI()))
		default:
			fmt.Fprint(w, "<!doctype html><title>app</title>")
			for i := range screens {
				fmt.Fprintf(w, `<a href="/index.php?route=/screen/%d">screen</a>`, i)
			}
			for i := range 3 {
				fmt.Fprintf(w, `<a href="/index.php?action=edit%d&amp;id=1">edit</a>`, i)
			}
			for i := range 9 {
				fmt.Fprintf(w, `<a href="/index.php?page=%d">page</a><a href="/index.php?id=%d">item</a>`, i+2, i+2)
			}
		}
	}))
	t.Cleanup(srv.Close)
	rep := (&site{srv: srv}).scan(t, scan.Config{CrawlPages: 100})
	var urls []string
	for _, e := range rep.Endpoints {
		urls = append(urls, strings.TrimPrefix(e.URL, srv.URL))
	}
	for i := range screens {
		if want := fmt.Sprintf("/index.php?route=/screen/%d", i); !slices.Contains(urls, want) {
			t.Errorf("endpoints %q: want %s among them", urls, want)
		}
	}
	for i := range 3 {
		if want := fmt.Sprintf("/index.php?action=edit%d&id=1", i); !slices.Contains(urls, want) {
			t.Errorf("endpoints %q: want %s among them", urls, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	pages, items := 0, 0
	for u, n := range hits {
		switch {
		case strings.HasPrefix(u, "/index.php?page="):
			pages += n
		case strings.HasPrefix(u, "/index.php?id="):
			items += n
		}
	}
	if pages != 5 || items != 5 {
		t.Errorf("listing pages fetched %d, items %d: want 5 each (one group each)", pages, items)
	}
}

// TestCrawlListingWithRoutedValuesKeepsBudget: values with a '/' route
// (?route=/server/sql), but a listing's may have one too (a file
// browser's ?dir=/a/b, a base64 cursor, a date 2026/12/04). However many
// such links one path has, it must not use up the crawl's page budget:
// a page linked after them is still crawled.
func TestCrawlListingWithRoutedValuesKeepsBudget(t *testing.T) {
	var mu sync.Mutex
	hits := map[string]int{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/":
			fmt.Fprint(w, `<!doctype html><title>app</title><form method="post" action="/save"><input name="x" value="1"></form>`)
			for i := range 80 {
				fmt.Fprintf(w, `<a href="/files?dir=/home/d%d">dir</a>`, i)
			}
			fmt.Fprint(w, `<a href="/settings">settings</a>`)
		default:
			fmt.Fprint(w, "<!doctype html><title>app</title>")
		}
	}))
	t.Cleanup(srv.Close)
	(&site{srv: srv}).scan(t, scan.Config{})
	mu.Lock()
	defer mu.Unlock()
	if hits["/settings"] == 0 {
		t.Errorf("/settings not crawled; /files fetched %d times: one path used up the page budget", hits["/files"])
	}
	if hits["/files"] < 6 {
		t.Errorf("/files fetched %d times: want more than maxPerPath (each dir is its own group)", hits["/files"])
	}
}
