package scan_test

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// TestRailsForgeryProtection: a Rails 6.1 service
// (testdata/rails/config.ru, Debian's ruby-rails under rackup and
// WEBrick, behind an mTLS front; .ci/run installs ruby-rails). The
// default protect_from_forgery with: :exception (/transfer) is forged by
// no probe. skip_forgery_protection behind the SameSite=Lax session
// cookie (/skip/transfer) is reachable from a same-site sibling and an
// http:// page of the host only. protect_from_forgery with: :null_session
// empties the session of a forged request and runs the action anyway:
// harmless where the session authenticates (/api/session/transfers), a
// plain cross-site forgery where the client certificate does
// (/api/cert/transfers), and through Rack::MethodOverride's _method
// field for its PUT route (/api/cert/items). Without rackup the test
// skips, except under CI.
func TestRailsForgeryProtection(t *testing.T) {
	p, target := startRails(t)
	rep := djangoScan(t, p, target, withToken("/transfer"), djangoForm("/skip/transfer"), withToken("/api/session/transfers"),
		djangoForm("/api/cert/transfers"), scan.Endpoint{Method: "PUT", Path: "/api/cert/items", Form: map[string]string{"amount": "1"}})
	for path, want := range map[string][]string{
		"/transfer":              nil,
		"/skip/transfer":         {scan.RuleOriginScheme, scan.RuleSameSiteForgery},
		"/api/session/transfers": nil,
		"/api/cert/transfers":    {scan.RuleCrossSiteForgery},
		"/api/cert/items":        {scan.RuleMethodOverride},
	} {
		got := forgeries(rep, path)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s: findings %v, want %v", path, got, want)
		}
	}
	for _, f := range rep.Findings {
		if f.Rule == scan.RuleCrossSiteForgery && !strings.Contains(f.Fix, ":null_session") {
			t.Errorf("%s: fix %q does not say that :null_session runs the action", f.URL, f.Fix)
		}
	}
	for _, e := range rep.Endpoints {
		if !e.Assessed {
			t.Errorf("%s %s not assessed: %s", e.Method, e.URL, e.Note)
		}
	}
	if rep.Framework == nil || rep.Framework.Name != scan.FrameworkRails {
		t.Errorf("framework %+v, want rails", rep.Framework)
	}
}

// TestRailsFormatJSONSkip: protect_from_forgery with: :exception,
// unless: -> { request.format.json? } (testdata/rails/config.ru,
// /format/transfer, authorised by the client certificate). Rails takes
// the format from the path's extension (every route ends in an optional
// (.:format)), and a cross-site form can post to /format/transfer.json:
// the check is skipped, the urlencoded body fills params, the action
// runs (ActionController::RequestForgeryProtection#verify_authenticity_token
// is a before_action whose :unless is read per request). The scan must
// report that forgery, and behind a SameSite=Lax session cookie
// (/format/session/transfer) the same-site ones. Twin: the default
// protect_from_forgery's /transfer is forged by no probe.
func TestRailsFormatJSONSkip(t *testing.T) {
	p, target := startRails(t)
	rep := djangoScan(t, p, target, withToken("/format/transfer"), withToken("/transfer"), withToken("/format/session/transfer"))
	got := append(forgeries(rep, "/format/transfer"), forgeries(rep, "/format/transfer.json")...)
	if !slices.Contains(got, scan.RuleCrossSiteForgery) {
		t.Errorf("/format/transfer: findings %v, want %s (a cross-site form posted to /format/transfer.json skips the check)", got, scan.RuleCrossSiteForgery)
	}
	// Behind the SameSite=Lax session cookie, as /skip/transfer in
	// TestRailsForgeryProtection: from a same-site sibling and an
	// http:// page of the host.
	got = append(forgeries(rep, "/format/session/transfer"), forgeries(rep, "/format/session/transfer.json")...)
	slices.Sort(got)
	if want := []string{scan.RuleOriginScheme, scan.RuleSameSiteForgery}; !slices.Equal(got, want) {
		t.Errorf("/format/session/transfer: findings %v, want %v", got, want)
	}
	if got := forgeries(rep, "/transfer"); len(got) > 0 {
		t.Errorf("/transfer: findings %v, want none", got)
	}
	for _, e := range rep.Endpoints {
		if !e.Assessed {
			t.Errorf("%s %s not assessed: %s", e.Method, e.URL, e.Note)
		}
	}
}

// startRails runs testdata/rails/config.ru under rackup and WEBrick
// behind an mTLS front, or skips the test without Rails (fails under CI,
// whose .ci/run installs ruby-rails).
func startRails(t *testing.T) (*testPKI, string) {
	rackup, err := exec.LookPath("rackup")
	if err == nil {
		err = exec.Command("ruby", "-e", `require "action_controller/railtie"; require "webrick"`).Run()
	}
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FORGEPROOF_E2E") == "require" {
			t.Fatalf("Rails is not installed (.ci/run installs ruby-rails): %v", err)
		}
		t.Skipf("Rails is not installed (apt-get install ruby-rails): %v", err)
	}
	p := newTestPKI(t)
	return p, startApp(t, p, "testdata/rails", nil, rackup, "-s", "webrick", "-o", "127.0.0.1", "-p", "{port}", "config.ru")
}

// withToken is a Rails form endpoint whose token, authenticity_token,
// comes from the start page.
func withToken(path string) scan.Endpoint {
	e := djangoForm(path)
	e.TokenField, e.TokenPage = "authenticity_token", "/"
	return e
}
