package scan_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// screenOptions is WordPress's Screen Options form on /wp-admin/ as seen
// from outside (WordPress 6.x): the form posts to the page itself with
// the number of items per page and a screenoptionnonce; WordPress saves
// the option when the nonce is good and, good nonce, bad nonce or none,
// answers the same dashboard, 200. checks says whether the nonce is
// checked (WordPress); the twin does not check it but validates the
// value, and answers a POST without a valid one (the field is required)
// with an error page, as wp_die() renders it.
type screenOptions struct {
	checks bool
	saved  atomic.Int64
	nulls  atomic.Int64 // POSTs with every field empty (the null control)
}

const screenOptionsNonce = "3be2c71f0a"

func (s *screenOptions) page(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!doctype html><html><head><title>Dashboard &lsaquo; Site &mdash; WordPress</title></head><body class="wp-admin">
<ul id="adminmenu"><li>Dashboard</li><li>Posts</li><li>Media</li><li>Pages</li><li>Comments</li><li>Appearance</li><li>Plugins</li><li>Users</li><li>Tools</li><li>Settings</li></ul>
<div id="screen-meta"><form id="adv-settings" method="post">
<fieldset class="screen-options"><legend>Pagination</legend><label for="edit_post_per_page">Number of items per page:</label>
<input type="number" step="1" min="1" max="999" name="wp_screen_options[value]" id="edit_post_per_page" maxlength="3" value="20"></fieldset>
<input type="hidden" name="wp_screen_options[option]" value="edit_post_per_page">
<input type="hidden" id="screenoptionnonce" name="screenoptionnonce" value="%s">
<p class="submit"><input type="submit" name="screen-options-apply" id="screen-options-apply" class="button button-primary" value="Apply"></p></form></div>
<div id="wpbody"><h1>Dashboard</h1><div class="postbox"><h2>At a Glance</h2><ul><li>1 Post</li><li>1 Page</li></ul></div>
<div class="postbox"><h2>Activity</h2><p>Recently Published</p><ul><li>Hello world!</li></ul></div></div>
<div id="wpfooter"><p>Thank you for creating with WordPress.</p></div></body></html>`, screenOptionsNonce)
}

func (s *screenOptions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "no certificate", http.StatusForbidden)
		return
	}
	if r.URL.Path != "/wp-admin/" {
		http.NotFound(w, r)
		return
	}
	// WordPress's login cookie, without SameSite.
	http.SetCookie(w, &http.Cookie{Name: "wordpress_logged_in_1", Value: "admin%7C1", Path: "/", Secure: true, HttpOnly: true})
	if r.Method == "POST" {
		r.ParseForm()
		if v, ok := r.PostForm["wp_screen_options[value]"]; ok && v[0] == "" && r.PostForm.Get("screenoptionnonce") == "" {
			s.nulls.Add(1)
		}
		if s.checks {
			if r.PostForm.Get("screenoptionnonce") == screenOptionsNonce {
				s.saved.Add(1)
			}
		} else {
			if _, err := fmt.Sscanf(r.PostForm.Get("wp_screen_options[value]"), "%d", new(int)); err != nil || r.PostForm.Get("wp_screen_options[option]") != "edit_post_per_page" {
				fmt.Fprint(w, `<!doctype html><html><head><title>WordPress &rsaquo; Error</title></head><body id="error-page"><div class="wp-die-message">Please enter a valid number of items per page.</div></body></html>`)
				return
			}
			s.saved.Add(1)
		}
	}
	s.page(w)
}

// TestNullControl: some endpoints answer a refused POST exactly like an
// accepted one (WordPress's Screen Options, phpMyAdmin's forms, seen in
// scans of real installations that reported lax-post-window,
// same-site-forgery and token-not-required though nothing was saved).
// With no oracle, the scan sends the legitimate request once more with
// every field empty (the null control); answered alike, the endpoint's
// answers say nothing, and the families the baseline comparison would
// decide are inconclusive. Twin: a service that does not check its nonce
// but answers a POST missing its required field with an error page is
// still reported.
func TestNullControl(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name   string
		checks bool
		found  bool
	}{
		{"wordpress screen options (nonce checked, same page)", true, false},
		{"twin (nonce ignored, a missing value refused)", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			app := &screenOptions{checks: tt.checks}
			srv := httptest.NewUnstartedServer(app)
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			rep, err := scan.Run(context.Background(), scan.Config{Target: srv.URL + "/wp-admin/", TLS: p.clientTLS(), Rate: 1000, Discover: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Endpoints) != 1 || !rep.Endpoints[0].Assessed || rep.Endpoints[0].Oracle != scan.OracleBaseline {
				t.Fatalf("endpoints %+v, want POST /wp-admin/ assessed by the baseline; notes %q", rep.Endpoints, rep.Notes)
			}
			if got := app.nulls.Load(); got != 1 {
				t.Errorf("null controls sent: %d, want 1", got)
			}
			ep := rep.Endpoints[0]
			got := forgeries(rep, "/wp-admin/")
			var sb strings.Builder
			scan.WriteText(&sb, rep, scan.TextOptions{})
			if !tt.found {
				if len(got) > 0 {
					t.Fatalf("findings %v, want none (options saved: %d):\n%s", got, app.saved.Load(), sb.String())
				}
				for _, rule := range []string{scan.RuleCrossSiteForgery, scan.RuleLaxPostWindow, scan.RuleSameSiteForgery, scan.RuleTokenNotRequired, scan.RuleCertOnly} {
					f := familyOf(ep, rule)
					if f.Outcome != scan.OutcomeInconclusive || !strings.Contains(f.Reason, "null control") || !strings.Contains(f.Reason, "--verify-url") {
						t.Errorf("family %s: %s (%q), want inconclusive by the null control", rule, f.Outcome, f.Reason)
					}
				}
				if !strings.Contains(ep.Note, "null control") {
					t.Errorf("note %q, want the null control named", ep.Note)
				}
				return
			}
			if familyOf(ep, scan.RuleCrossSiteForgery).Outcome != scan.OutcomeFound {
				t.Fatalf("findings %v, want %s:\n%s", got, scan.RuleCrossSiteForgery, sb.String())
			}
			for _, f := range rep.Findings {
				if f.Rule == scan.RuleCrossSiteForgery && (f.Confidence != scan.Inferred || f.Oracle != scan.OracleBaseline) {
					t.Errorf("finding %s: %s by %s, want inferred by the baseline", f.Rule, f.Confidence, f.Oracle)
				}
			}
			if strings.Contains(ep.Note, "null control") {
				t.Errorf("note %q: the null control was answered differently", ep.Note)
			}
		})
	}
}

// TestNullControlNotSentWithOracle: a verification request that reacts
// to the baseline decides every probe, so the null control is not sent.
func TestNullControlNotSentWithOracle(t *testing.T) {
	p := newTestPKI(t)
	app := &screenOptions{checks: true}
	mux := http.NewServeMux()
	mux.Handle("/wp-admin/", app)
	mux.HandleFunc("/api/options", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"saved":%d}`, app.saved.Load())
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rep, err := scan.Run(context.Background(), scan.Config{Target: srv.URL + "/wp-admin/", TLS: p.clientTLS(), Rate: 1000, Discover: true,
		Verify: &scan.Verification{Path: "/api/options", Pointer: "/saved"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) != 1 || rep.Endpoints[0].Oracle != scan.OracleVerification {
		t.Fatalf("endpoints %+v, want POST /wp-admin/ judged by the verification request; notes %q", rep.Endpoints, rep.Notes)
	}
	if n := app.nulls.Load(); n != 0 {
		t.Errorf("null controls sent: %d, want none", n)
	}
	if got := forgeries(rep, "/wp-admin/"); len(got) > 0 {
		t.Errorf("findings %v, want none", got)
	}
	if f := familyOf(rep.Endpoints[0], scan.RuleCrossSiteForgery); f.Outcome != scan.OutcomeRefused {
		t.Errorf("cross-site-forgery: %s (%q), want refused", f.Outcome, f.Reason)
	}
}

// TestNullControlPhpMyAdmin: phpMyAdmin 5.2 (collation-connection,
// themes/set, server/databases/create) drops the whole POST when its
// token is wrong and renders the page it would have rendered anyway, so
// a forgery, garbage and the legitimate request get the same answer:
// inconclusive, never a finding. (phpMyAdmin lists the databases by
// Ajax, so no value on the page changes with a creation.)
func TestNullControlPhpMyAdmin(t *testing.T) {
	p := newTestPKI(t)
	const token = "4c5a2f7e3d1b9a08"
	var created atomic.Int64
	page := func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html><head><title>localhost / phpMyAdmin 5.2.1</title></head><body>
<div id="pma_navigation"><ul><li>New</li><li>information_schema</li><li>mysql</li><li>performance_schema</li></ul></div>
<div id="page_content"><h2>Databases</h2><form method="post" action="index.php?route=/server/databases/create" id="create_database_form" class="ajax">
<input type="hidden" name="token" value="%s"><input type="text" name="new_db" maxlength="64" placeholder="Database name" required>
<select name="db_collation"><option value="">Collation</option><option value="utf8mb4_general_ci" selected>utf8mb4_general_ci</option></select>
<input type="submit" id="buttonGo" value="Create"></form><p>Note: Enabling the database statistics here might cause heavy traffic.</p></div></body></html>`, token)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.URL.Path != "/index.php" {
			http.NotFound(w, r)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "phpMyAdmin", Value: "9f8e7d6c", Path: "/", Secure: true, HttpOnly: true})
		if r.Method == "POST" {
			r.ParseForm()
			if r.PostForm.Get("token") != token {
				r.PostForm = url.Values{} // phpMyAdmin's Core::checkTokenRequestParam: the POST is dropped
			}
			if r.PostForm.Get("new_db") != "" {
				created.Add(1)
			}
		}
		page(w)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rep, err := scan.Run(context.Background(), scan.Config{Target: srv.URL + "/index.php?route=/server/databases", TLS: p.clientTLS(), Rate: 1000, Discover: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) != 1 || !rep.Endpoints[0].Assessed {
		t.Fatalf("endpoints %+v, want the create form assessed; notes %q", rep.Endpoints, rep.Notes)
	}
	var sb strings.Builder
	scan.WriteText(&sb, rep, scan.TextOptions{})
	for _, f := range rep.Findings {
		if f.Rule != scan.RuleCertOnly && !strings.HasPrefix(f.Rule, "cookie-") {
			t.Errorf("finding %s, want none (databases created: %d, the baseline's included):\n%s", f.Rule, created.Load(), sb.String())
		}
	}
	for _, rule := range []string{scan.RuleCrossSiteForgery, scan.RuleLaxPostWindow, scan.RuleTokenNotRequired, scan.RuleTokenEmpty} {
		if f := familyOf(rep.Endpoints[0], rule); f.Outcome != scan.OutcomeInconclusive || !strings.Contains(f.Reason, "null control") {
			t.Errorf("family %s: %s (%q), want inconclusive by the null control", rule, f.Outcome, f.Reason)
		}
	}
}

// TestPlanNullControl: the dry run lists the null control, with every
// field empty and no token or cookie value.
func TestPlanNullControl(t *testing.T) {
	plan, err := scan.Plan(scan.Config{Target: "https://app.example.com/", Cookies: []*http.Cookie{{Name: "sid", Value: "victim-session"}},
		Endpoints: []scan.Endpoint{{Method: "POST", Path: "/settings", Form: map[string]string{"per_page": "20", "csrf_token": "s3cret-token"}, TokenField: "csrf_token"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range plan {
		if !strings.HasPrefix(p.Purpose, "null control") {
			continue
		}
		if !strings.Contains(p.Curl, "'csrf_token=&per_page='") || strings.Contains(p.Curl, "s3cret-token") || strings.Contains(p.Curl, "victim-session") {
			t.Errorf("null control %s: want every field empty and no secret", p.Curl)
		}
		return
	}
	t.Errorf("plan %+v: no null control", plan)
}
