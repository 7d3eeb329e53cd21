package scan_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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
