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

// TestFormShownBackIsRefusal: MediaWiki's forms (Special:EditWatchlist/raw,
// Special:Upload) treat a POST without their wpEditToken as no
// submission at all and show the form again, fresh, with no error in it,
// inside the same skin that makes every page of the wiki more than 80%
// alike. The legitimate request's answer was a page without the form, so
// the probe that left the token out was refused, not accepted:
// token-not-required is not reported. Twin: the app that takes the POST
// without the token (answering the success page) is reported.
func TestFormShownBackIsRefusal(t *testing.T) {
	// The skin: far more words than either page's own.
	var skin strings.Builder
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&skin, `<li><a href="/wiki/Page_%c%c">Sidebar entry %c%c</a></li>`, 'a'+i%26, 'a'+i/26, 'a'+i%26, 'a'+i/26)
	}
	const token = "5f3c8a1e9b7d2f4a+\\"
	for _, tt := range []struct {
		name      string
		enforced  bool
		wantFound bool
	}{
		{"token enforced, form shown back", true, false},
		{"token ignored", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			form := `<form method="post" action="/index.php/Special:EditWatchlist/raw"><textarea name="wpTitles">Sandbox</textarea>` +
				`<input type="hidden" name="wpEditToken" value="` + token + `"><button type="submit">Update watchlist</button></form>`
			page := func(w http.ResponseWriter, content string) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprintf(w, `<!doctype html><title>Edit watchlist - Wiki</title><div id="content">%s</div><ul id="sidebar">%s</ul>`, content, skin.String())
			}
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method == "GET" {
					page(w, "Titles on your watchlist are shown below, one per line."+form)
					return
				}
				if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" || r.Header.Get("Origin") != "" && s == "" {
					http.Error(w, "forbidden", http.StatusForbidden)
					return
				}
				r.ParseForm()
				if tt.enforced && r.PostForm.Get("wpEditToken") != token {
					page(w, "Titles on your watchlist are shown below, one per line."+form)
					return
				}
				page(w, "Your watchlist has been updated. Return to Special:Watchlist.")
			}))
			t.Cleanup(srv.Close)
			rep := (&site{srv: srv}).scan(t, scan.Config{})
			if len(rep.Endpoints) != 1 {
				t.Fatalf("endpoints %+v, want the form; notes %q", rep.Endpoints, rep.Notes)
			}
			got := forgeries(rep, "/index.php/Special:EditWatchlist/raw")
			if slices.Contains(got, scan.RuleTokenNotRequired) != tt.wantFound {
				t.Errorf("findings %v: want %s reported: %v", got, scan.RuleTokenNotRequired, tt.wantFound)
			}
			if slices.Contains(got, scan.RuleCrossSiteForgery) {
				t.Errorf("findings %v: want no forgery", got)
			}
		})
	}
}
