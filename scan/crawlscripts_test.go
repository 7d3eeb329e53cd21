package scan_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// TestCrawlScriptsDoNotUseUpPages: phpMyAdmin's start page loads 36
// scripts of its own. Discovery reads a page's scripts (for the
// WebSockets they name), but they are not pages: the form a link
// away is still found within the default page limit. Twin: the same
// site with a few scripts.
func TestCrawlScriptsDoNotUseUpPages(t *testing.T) {
	for _, n := range []int{3, scan.DefaultCrawlPages + 10} {
		t.Run(fmt.Sprintf("%d scripts", n), func(t *testing.T) {
			var scripts strings.Builder
			for i := range n {
				fmt.Fprintf(&scripts, `<script src="/js/s%d.js"></script>`, i)
			}
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case r.Method == "POST":
					fmt.Fprint(w, "done")
				case strings.HasPrefix(r.URL.Path, "/js/"):
					w.Header().Set("Content-Type", "text/javascript")
					fmt.Fprint(w, "var x = 1;")
				case r.URL.Path == "/":
					w.Header().Set("Content-Type", "text/html")
					fmt.Fprint(w, `<!doctype html><title>home</title>`+scripts.String()+`<a href="/server/databases">Databases</a>`)
				case r.URL.Path == "/server/databases":
					w.Header().Set("Content-Type", "text/html")
					fmt.Fprint(w, `<!doctype html><title>databases</title><form method="post" action="/create"><input name="new_db" value=""></form>`)
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(srv.Close)
			rep := (&site{srv: srv}).scan(t, scan.Config{})
			if got := endpointPaths(rep); len(got) != 1 || got[0] != "/create" {
				t.Errorf("endpoints %v, want [/create]; notes %q", got, rep.Notes)
			}
		})
	}
}
