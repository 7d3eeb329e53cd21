package scan_test

import (
	"context"
	"slices"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/scan"
)

// demoConfig is how an operator would scan the demo bank: log in with
// the credentials only (the login form's token is taken from the page,
// as a browser takes it), let discovery find the transfer form, add the
// JSON API, and confirm with the balance.
func demoConfig(r *demo.Running) scan.Config {
	return scan.Config{
		Target:    r.URL + "/",
		TLS:       r.TLSConfig(true),
		Discover:  true,
		Login:     &scan.Login{Path: "/login", Form: map[string]string{"username": demo.ClientName, "password": demo.Password}},
		Endpoints: []scan.Endpoint{{Method: "POST", Path: "/api/transfers", JSON: []byte(`{"to":"bob","amount":1}`)}},
		Verify:    &scan.Verification{Path: "/api/balance", Pointer: "/balance"},
		Rate:      1000,
	}
}

func startDemo(t *testing.T, insecure bool) *demo.Running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r, err := demo.Start(ctx, demo.Options{Dir: t.TempDir(), Listen: "localhost:0", AttackerAddr: "127.0.0.1:0", SiblingAddr: "localhost:0", InsecureNoCSRF: insecure})
	if err != nil {
		cancel()
		t.Fatalf("demo.Start: %v", err)
	}
	t.Cleanup(func() { r.Close(); cancel() })
	return r
}

// TestDemo: with the guard off (the negative control) the scanner finds
// the forgeries, confirmed by the balance; with it on it finds none of
// them, and still reports the bank's honest posture findings.
func TestDemo(t *testing.T) {
	forgeries := []string{scan.RuleCrossSiteForgery, scan.RuleTextPlainJSON, scan.RuleLoginCSRF}
	t.Run("insecure", func(t *testing.T) {
		r := startDemo(t, true)
		rep, err := scan.Run(context.Background(), demoConfig(r))
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		got := rulesOf(rep)
		for _, want := range forgeries {
			if !slices.Contains(got, want) {
				t.Errorf("got %v, want %s among them", got, want)
			}
		}
		for _, f := range rep.Findings {
			if (f.Rule == scan.RuleCrossSiteForgery || f.Rule == scan.RuleTextPlainJSON) && f.Confidence != scan.Confirmed {
				t.Errorf("%s on %s: got confidence %s, want %s (by the balance)", f.Rule, f.URL, f.Confidence, scan.Confirmed)
			}
		}
		if len(rep.Endpoints) != 2 {
			t.Errorf("endpoints: got %+v, want the discovered form and the JSON API", rep.Endpoints)
		}
		if !slices.ContainsFunc(rep.Findings, func(f scan.Finding) bool {
			return f.Rule == scan.RuleCrossSiteForgery && f.URL == r.URL+"/transfer" && f.Confidence == scan.Confirmed
		}) {
			t.Errorf("got %+v, want %s on /transfer confirmed by the balance", rep.Findings, scan.RuleCrossSiteForgery)
		}
	})
	t.Run("protected", func(t *testing.T) {
		r := startDemo(t, false)
		rep, err := scan.Run(context.Background(), demoConfig(r))
		if err != nil {
			t.Fatalf("Run: %v (endpoints %+v, notes %q)", err, rep.Endpoints, rep.Notes)
		}
		for _, e := range rep.Endpoints {
			if !e.Assessed || e.Oracle != scan.OracleVerification {
				t.Errorf("endpoint %s %s: got assessed %v by %s (%s), want assessed by verification", e.Method, e.URL, e.Assessed, e.Oracle, e.Note)
			}
		}
		for _, f := range rep.Findings {
			if f.Severity >= scan.SeverityMedium {
				t.Errorf("false positive: %s (%s) at %s %s: %s", f.Rule, f.Severity, f.Method, f.URL, f.Evidence)
			}
		}
		// Honest posture: the session cookie has no SameSite attribute.
		if got := rulesOf(rep); !slices.Contains(got, scan.RuleCookieNoSameSite) {
			t.Errorf("got %v, want %s among them", got, scan.RuleCookieNoSameSite)
		}
		// The gateway requires the token it puts in the transfer form.
		if got := rulesOf(rep); slices.Contains(got, scan.RuleTokenNotRequired) {
			t.Errorf("got %v, want no %s", got, scan.RuleTokenNotRequired)
		}
		if !slices.ContainsFunc(rep.Endpoints, func(e scan.EndpointResult) bool { return e.URL == r.URL+"/transfer" && e.Assessed }) {
			t.Errorf("endpoints: got %+v, want /transfer (the session-cookie form) assessed", rep.Endpoints)
		}
	})
	// Without a client certificate the gateway binds the login form's
	// token to its pre-session __Host- cookie: the scanner keeps that
	// cookie from the page, logs in and tests the transfer form with the
	// session alone (the balance API needs a certificate, so the oracle
	// is the baseline).
	t.Run("protected, no client certificate", func(t *testing.T) {
		r := startDemo(t, false)
		cfg := demoConfig(r)
		cfg.TLS, cfg.Endpoints, cfg.Verify = r.TLSConfig(false), nil, nil
		rep, err := scan.Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
		if len(rep.Endpoints) != 1 || !rep.Endpoints[0].Assessed || rep.Endpoints[0].URL != r.URL+"/transfer" {
			t.Errorf("endpoints: got %+v, want /transfer assessed", rep.Endpoints)
		}
		for _, f := range rep.Findings {
			if f.Severity >= scan.SeverityMedium {
				t.Errorf("false positive: %s (%s) at %s %s: %s", f.Rule, f.Severity, f.Method, f.URL, f.Evidence)
			}
		}
	})
}
