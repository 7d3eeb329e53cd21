package scan_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// TestScope: the scanner sends nothing to any host but the target (a form
// that posts elsewhere is skipped, redirects are not followed), and a
// dry run sends nothing at all.
func TestScope(t *testing.T) {
	var elsewhere, target atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form method="post" action="%s/collect"><input name="a" value="1"></form>
<form method="post" action="/go"><input name="b" value="2"></form>`, other.URL)
	})
	mux.HandleFunc("POST /go", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
	})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target.Add(1)
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()
	cfg := scan.Config{
		Target: srv.URL, TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig, Discover: true, Rate: 1000,
		Endpoints: []scan.Endpoint{{Method: "POST", Path: "/go", Form: map[string]string{"b": "2"}}},
	}

	if _, err := scan.Plan(cfg); err != nil {
		t.Fatal(err)
	}
	if n := target.Load() + elsewhere.Load(); n != 0 {
		t.Fatalf("dry run: got %d requests, want none", n)
	}

	rep, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("got %d requests to another host, want none", n)
	}
	if target.Load() == 0 || int64(rep.Requests) != target.Load() {
		t.Errorf("requests: report says %d, the target saw %d", rep.Requests, target.Load())
	}
	found := false
	for _, n := range rep.Notes {
		if n == fmt.Sprintf("discovery: form on %s/ posts to another origin (%s): not tested", srv.URL, other.URL) {
			found = true
		}
	}
	if !found {
		t.Errorf("notes: got %q, want the skipped form listed", rep.Notes)
	}
	if len(rep.Endpoints) != 1 {
		t.Errorf("endpoints: got %+v, want /go once (configured and discovered)", rep.Endpoints)
	}
}

// TestScopeLogin: finding the login form sends nothing elsewhere either:
// a redirect to another origin is not followed, and a login form that
// posts to another origin is not used (the login fails instead).
func TestScopeLogin(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { elsewhere.Add(1) }))
	defer other.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/login", http.StatusFound)
	})
	mux.HandleFunc("GET /signin", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `<form id="sso" method="post" action="%s/login"><input type="hidden" name="csrf" value="t"><input type="password" name="password"></form>`, other.URL)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	tests := []struct {
		name  string
		login *scan.Login
		want  string
	}{
		{"form given, posts elsewhere", &scan.Login{Page: "/signin", Form: map[string]string{"password": "x"}}, "has no login form"},
		{"form looked for: a redirect elsewhere, a form posting elsewhere", &scan.Login{Path: "/login", Form: map[string]string{"password": "x"}}, "login fields (no login form found): POST " + srv.URL + "/login answered 404"},
		{"action looked for", &scan.Login{Path: "/signin", Form: map[string]string{"password": "x"}}, "answered 405"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL, TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig, Rate: 1000,
				Login: tt.login, StartPages: []string{"/signin"},
				Endpoints: []scan.Endpoint{{Method: "POST", Path: "/x"}},
			})
			var se *scan.Error
			if !errors.As(err, &se) || se.Reason != scan.ReasonLogin || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want reason %q and %q", err, scan.ReasonLogin, tt.want)
			}
			if n := elsewhere.Load(); n != 0 {
				t.Errorf("got %d requests to another host, want none", n)
			}
		})
	}
}

// TestDiscoveryErrorPage: forms on a start page that answers with an error
// status are not taken as endpoints, and the report says why; the same
// form on a page that answers 200 is found.
func TestDiscoveryErrorPage(t *testing.T) {
	form := `<form method="post" action="/act"><input name="a" value="1"></form>`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /good", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, form) })
	mux.HandleFunc("GET /gone", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, form)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	tests := []struct {
		name      string
		page      string
		wantFound bool
	}{
		{"form on a 200 page", "/good", true},
		{"form on a 404 page", "/gone", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := scan.Config{
				Target: srv.URL, TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig,
				Discover: true, StartPages: []string{tt.page}, Rate: 1000,
			}
			rep, err := scan.Run(context.Background(), cfg)
			if tt.wantFound {
				if err != nil {
					t.Fatalf("got error %v, want the form found", err)
				}
				return
			}
			var se *scan.Error
			if !errors.As(err, &se) || se.Reason != scan.ReasonNoEndpoints {
				t.Fatalf("got error %v, want %s", err, scan.ReasonNoEndpoints)
			}
			noted := rep != nil && slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "answered 404") })
			if !noted {
				t.Errorf("got notes %v, want one saying the page answered 404", rep.Notes)
			}
		})
	}
}

// TestDiscoveryNotesPrintable: the notes name skipped forms by their
// action, and the evidence names a redirect's target, which the service
// chose; a percent-encoded control character in them stays encoded
// (never a raw terminal escape in the report), and a plain action is
// shown as it is.
func TestDiscoveryNotesPrintable(t *testing.T) {
	page := `<form method="post" action="/logout"></form>` +
		`<form method="post" action="/logout%1b[2J"></form>` +
		`<form method="post" action="/sign%1b]0;x%07in"><input type="password" name="p"></form>` +
		`<form method="post" action="/act"><input name="a" value="1"></form>`
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, page) })
	mux.HandleFunc("POST /act", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "/done%1b[2J")
		w.WriteHeader(http.StatusSeeOther)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL, TLS: srv.Client().Transport.(*http.Transport).TLSClientConfig, Discover: true, Rate: 1000,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, want := range []string{
		"discovery: POST /logout looks like a logout",
		"discovery: POST /logout%1b[2J looks like a logout",
		"discovery: POST /sign%1b]0;x%07in has a password field",
	} {
		if !slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.HasPrefix(n, want) }) {
			t.Errorf("got notes %q, want one starting %q", rep.Notes, want)
		}
	}
	if len(rep.Findings) == 0 || !strings.Contains(rep.Findings[0].Evidence, "(redirect to /done%1b[2J)") {
		t.Errorf("got findings %+v, want the forgery's evidence to name the redirect /done%%1b[2J", rep.Findings)
	}
	var text strings.Builder
	scan.WriteText(&text, rep, scan.TextOptions{})
	if strings.ContainsFunc(text.String(), func(r rune) bool { return r < 0x20 && r != '\n' || r == 0x7f }) {
		t.Errorf("got a control character in the report:\n%q", text.String())
	}
}
