package scan_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

var (
	groupsCount = &scan.Verification{Path: "/api/groups", Pointer: "/count"}
	// addGiven is the add form given by hand, with a name of its own (the
	// service accepts duplicates unless told otherwise).
	addGiven = []scan.Endpoint{{Method: "POST", Path: "/add/", Form: map[string]string{"name": "given"}}}
)

func scanGroups(t *testing.T, p *testPKI, url string, cfg scan.Config) *scan.Report {
	t.Helper()
	cfg.Target, cfg.TLS, cfg.Rate = url+"/", p.clientTLS(), 1000
	if cfg.Endpoints == nil {
		cfg.Discover = true
	}
	rep, err := scan.Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rep
}

func findingOf(r *scan.Report, rule string) (scan.Finding, bool) {
	for _, f := range r.Findings {
		if f.Rule == rule {
			return f, true
		}
	}
	return scan.Finding{}, false
}

func endpointOf(t *testing.T, r *scan.Report, path string) scan.EndpointResult {
	t.Helper()
	for _, e := range r.Endpoints {
		if strings.HasSuffix(e.URL, path) {
			return e
		}
	}
	t.Fatalf("no endpoint %s in %+v", path, r.Endpoints)
	return scan.EndpointResult{}
}

func familyOf(e scan.EndpointResult, rule string) scan.FamilyResult {
	for _, f := range e.Families {
		if f.Rule == rule {
			return f
		}
	}
	return scan.FamilyResult{}
}

// TestGetStateChangeInferred (issue 16, "done when" 1): a service where a
// GET to the form's action adds a group and answers with the POST's
// success page is reported without any oracle (inferred), confirmed with
// --verify-url, and confirmed by the discovered oracle when a page shows
// the state. Its twins (GET answers 405; GET shows the form page) are
// not, and the 405 twin's family is "refused", never dropped.
func TestGetStateChangeInferred(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name     string
		opts     groupsOptions
		verify   *scan.Verification
		eps      []scan.Endpoint
		want     bool
		conf     scan.Confidence
		oracle   scan.Oracle
		families scan.Outcome
	}{
		{"GET adds, no oracle", groupsOptions{originCheck: true, getAdds: true, hideState: true}, nil, nil, true, scan.Inferred, scan.OracleBaseline, scan.OutcomeFound},
		{"GET adds, given endpoint, no oracle", groupsOptions{originCheck: true, getAdds: true, hideState: true}, nil, addGiven, true, scan.Inferred, scan.OracleBaseline, scan.OutcomeFound},
		{"GET adds, verification", groupsOptions{originCheck: true, getAdds: true, hideState: true}, groupsCount, nil, true, scan.Confirmed, scan.OracleVerification, scan.OutcomeFound},
		{"GET adds, discovered verification", groupsOptions{originCheck: true, getAdds: true}, nil, nil, true, scan.Confirmed, scan.OracleDiscovered, scan.OutcomeFound},
		{"GET answers 405", groupsOptions{originCheck: true, hideState: true}, nil, nil, false, "", "", scan.OutcomeRefused},
		{"GET answers 405, given endpoint", groupsOptions{originCheck: true, hideState: true}, nil, addGiven, false, "", "", scan.OutcomeRefused},
		{"GET shows the form page", groupsOptions{originCheck: true, getForm: true, hideState: true}, nil, nil, false, "", "", scan.OutcomeRefused},
		{"GET shows the form page, verification", groupsOptions{originCheck: true, getForm: true, hideState: true}, groupsCount, nil, false, "", "", scan.OutcomeRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroups(tt.opts)
			rep := scanGroups(t, p, g.start(t, p).URL, scan.Config{Verify: tt.verify, Endpoints: tt.eps})
			f, got := findingOf(rep, scan.RuleMethodDowngrade)
			if got != tt.want {
				t.Fatalf("method-downgrade: got %v (%v), want %v; endpoints %+v", got, rulesOf(rep), tt.want, rep.Endpoints)
			}
			if got && (f.Confidence != tt.conf || f.Oracle != tt.oracle) {
				t.Errorf("got %s by %s, want %s by %s (%s)", f.Confidence, f.Oracle, tt.conf, tt.oracle, f.Evidence)
			}
			if o := familyOf(endpointOf(t, rep, "/add/"), scan.RuleMethodDowngrade).Outcome; o != tt.families {
				t.Errorf("family outcome: got %q, want %q", o, tt.families)
			}
			if slices.Contains(rulesOf(rep), scan.RuleCrossSiteForgery) {
				t.Errorf("got %v: the origin check is on", rulesOf(rep))
			}
		})
	}
}

// TestRescanDuplicateNames (issue 16, "done when" 2): a service that
// refuses a name that exists (the form again, 200, with an errorlist)
// is judged by the oracle in a second scan as in the first, because every
// field the scanner fills gets a value of its own. The negative control:
// an endpoint whose name is given (so not the scanner's to change) is
// created by the first scan and, in the second, recognised as refused
// (the form shown again), not as accepted.
func TestRescanDuplicateNames(t *testing.T) {
	p := newTestPKI(t)
	for _, check := range []bool{false, true} {
		g := newGroups(groupsOptions{originCheck: check, unique: true})
		url := g.start(t, p).URL
		for i, verify := range []*scan.Verification{groupsCount, groupsCount, nil, nil} {
			rep := scanGroups(t, p, url, scan.Config{Verify: verify})
			e := endpointOf(t, rep, "/add/")
			want := scan.OracleVerification
			if verify == nil {
				want = scan.OracleDiscovered
			}
			if !e.Assessed || e.Oracle != want {
				t.Fatalf("origin check %v, scan %d: got assessed %v by %q (%s), want assessed by %s", check, i+1, e.Assessed, e.Oracle, e.Note, want)
			}
			f, found := findingOf(rep, scan.RuleCrossSiteForgery)
			if found == check {
				t.Errorf("origin check %v, scan %d: cross-site-forgery got %v, want %v", check, i+1, found, !check)
			}
			if found && f.Confidence != scan.Confirmed {
				t.Errorf("scan %d: got %s, want confirmed", i+1, f.Confidence)
			}
		}
	}

	g := newGroups(groupsOptions{unique: true})
	url := g.start(t, p).URL
	fixed := []scan.Endpoint{{Method: "POST", Path: "/add/", Form: map[string]string{"name": "forgeproof"}, TokenPage: "/"}}
	first := scanGroups(t, p, url, scan.Config{Endpoints: fixed, Verify: groupsCount})
	if e := endpointOf(t, first, "/add/"); !e.Assessed {
		t.Fatalf("first scan with a fixed name: not assessed: %s", e.Note)
	}
	_, err := scan.Run(context.Background(), scan.Config{Target: url, TLS: p.clientTLS(), Rate: 1000, Endpoints: fixed, Verify: groupsCount})
	if err == nil {
		t.Fatalf("second scan with a fixed name: got no error, want no-baseline (the form shown again is a refusal)")
	}
	rep, _ := scan.Run(context.Background(), scan.Config{Target: url, TLS: p.clientTLS(), Rate: 1000, Endpoints: fixed})
	e := endpointOf(t, rep, "/add/")
	if e.Assessed || !strings.Contains(e.Note, "form again") {
		t.Errorf("second scan with a fixed name, no oracle: got assessed %v (%q), want refused: the form shown again", e.Assessed, e.Note)
	}
}

// TestDiscoveredOracle: with no --verify-url, a value that changes with
// the legitimate request and not with a reload (a count on the page, a
// JSON GET its script names) becomes the oracle; a clock on the page and
// a flash message do not, and a page with no state leaves the baseline.
func TestDiscoveredOracle(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name   string
		opts   groupsOptions
		oracle scan.Oracle
		found  bool
	}{
		{"state shown, no origin check", groupsOptions{}, scan.OracleDiscovered, true},
		{"state shown, origin check", groupsOptions{originCheck: true}, scan.OracleDiscovered, false},
		{"no state shown, no origin check", groupsOptions{hideState: true}, scan.OracleBaseline, true},
		{"no state shown, origin check", groupsOptions{originCheck: true, hideState: true}, scan.OracleBaseline, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroups(tt.opts)
			rep := scanGroups(t, p, g.start(t, p).URL, scan.Config{})
			e := endpointOf(t, rep, "/add/")
			if e.Oracle != tt.oracle {
				t.Fatalf("oracle: got %q (%s), want %q", e.Oracle, e.Note, tt.oracle)
			}
			if tt.oracle == scan.OracleDiscovered {
				if strings.Contains(e.Verification, "#served") || strings.Contains(e.Verification, "/served") || strings.Contains(e.Verification, "count(li)") {
					t.Errorf("verification %q: takes a value that changes by itself", e.Verification)
				}
				if !strings.Contains(e.Verification, "/count") {
					t.Errorf("verification %q: want the JSON count among them", e.Verification)
				}
			}
			f, found := findingOf(rep, scan.RuleCrossSiteForgery)
			if found != tt.found {
				t.Fatalf("cross-site-forgery: got %v (%v), want %v", found, rulesOf(rep), tt.found)
			}
			if found && tt.oracle == scan.OracleDiscovered && (f.Confidence != scan.Confirmed || f.Oracle != scan.OracleDiscovered) {
				t.Errorf("got %s by %s, want confirmed by the discovered verification", f.Confidence, f.Oracle)
			}
		})
	}
}

// TestRefusedWithTheFormAgain: a service that refuses a forgery by
// showing the form again with 200 and an error (as Symfony's forms do),
// while a success also shows a page with the form, is judged refused
// without any oracle; its twin with the origin check off is found.
func TestRefusedWithTheFormAgain(t *testing.T) {
	p := newTestPKI(t)
	for _, check := range []bool{true, false} {
		g := newGroups(groupsOptions{originCheck: check, symfony: true, hideState: true})
		rep := scanGroups(t, p, g.start(t, p).URL, scan.Config{})
		e := endpointOf(t, rep, "/add/")
		if !e.Assessed || e.Oracle != scan.OracleBaseline {
			t.Fatalf("origin check %v: got assessed %v by %q (%s), want by the baseline", check, e.Assessed, e.Oracle, e.Note)
		}
		if _, found := findingOf(rep, scan.RuleCrossSiteForgery); found == check {
			t.Errorf("origin check %v: cross-site-forgery got %v (%v), want %v", check, found, rulesOf(rep), !check)
		}
	}
}

// fetchingBrowser is a scan.Browser that saw the pages' scripts fetch
// the given paths and recorded no state-changing request.
type fetchingBrowser []string

func (b fetchingBrowser) Explore(_ context.Context, x scan.Exploration) (*scan.Explored, error) {
	out := &scan.Explored{}
	for _, p := range b {
		out.Fetches = append(out.Fetches, x.Target.JoinPath(p).String())
	}
	return out, nil
}

// TestBrowserFetchWatched: in browser mode, a JSON GET that the page's
// script sends but does not name in a way HTML discovery can read (a
// single-page app builds its URLs at run time) is watched for the
// discovered oracle. The twin whose browser saw no fetch has nothing to
// watch and is judged by the baseline.
func TestBrowserFetchWatched(t *testing.T) {
	p := newTestPKI(t)
	for _, tt := range []struct {
		name    string
		fetches fetchingBrowser
		oracle  scan.Oracle
	}{
		{"the script fetched /api/groups", fetchingBrowser{"api/groups"}, scan.OracleDiscovered},
		{"no fetch seen", fetchingBrowser{}, scan.OracleBaseline},
	} {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroups(groupsOptions{hideState: true})
			rep := scanGroups(t, p, g.start(t, p).URL, scan.Config{Browser: tt.fetches})
			e := endpointOf(t, rep, "/add/")
			if e.Oracle != tt.oracle {
				t.Fatalf("oracle: got %q (%s), want %q", e.Oracle, e.Note, tt.oracle)
			}
			if tt.oracle == scan.OracleDiscovered && !strings.Contains(e.Verification, "/api/groups") {
				t.Errorf("verification %q: want the fetched JSON GET", e.Verification)
			}
			if f, found := findingOf(rep, scan.RuleCrossSiteForgery); !found || f.Oracle != tt.oracle {
				t.Errorf("cross-site-forgery: got %v by %q, want found by %q", found, f.Oracle, tt.oracle)
			}
		})
	}
}
