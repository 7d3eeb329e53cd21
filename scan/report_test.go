package scan_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// sampleReport scans a bank with several defects, so that every output
// format has findings of several kinds (endpoint, cookie, CORS).
func sampleReport(t *testing.T) *scan.Report {
	t.Helper()
	p := newTestPKI(t)
	b := newBank(bankOptions{origin: "none", corsReflect: true, cookieName: "session", cookie: "Path=/"})
	srv := b.start(t, p)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Discover: true, Verify: balance,
		CurlTLSArgs: []string{"--cert", "c.pem", "--key", "k.pem", "--cacert", "ca.pem"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) < 5 {
		t.Fatalf("sample report: got %d findings, want at least 5", len(rep.Findings))
	}
	return rep
}

// TestSARIFSchema validates the SARIF output against the SARIF 2.1.0
// JSON schema shipped in testdata (with format assertions on). The file is
// the 2.1.0-rtm.5 schema (the one OASIS approved as 2.1.0; its version
// enum is "2.1.0"), as shipped in the MIT-licensed npm package
// @microsoft/jest-sarif 1.0.0-beta.0.
func TestSARIFSchema(t *testing.T) {
	f, err := os.Open("testdata/sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	valid := func(t *testing.T, b []byte) error {
		inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		return schema.Validate(inst)
	}

	rep := sampleReport(t)
	// An endpoint whose families were inconclusive and skipped: a result
	// of kind "open" and a notification (issue 16: nothing dropped).
	rep.Endpoints = append(rep.Endpoints, scan.EndpointResult{Method: "POST", URL: "https://127.0.0.1:1/x", Source: "flag", Assessed: true, Oracle: scan.OracleBaseline,
		Families: []scan.FamilyResult{
			{Rule: scan.RuleMethodDowngrade, Outcome: scan.OutcomeInconclusive, Reason: "the GET answered 200 like the legitimate request, but so did the same GET without the fields"},
			{Rule: scan.RuleTokenUnbound, Outcome: scan.OutcomeSkipped, Reason: "no token of another session: token page answered 302, a redirect to /login/"},
		}})
	var out bytes.Buffer
	if err := scan.WriteSARIF(&out, rep, "test"); err != nil {
		t.Fatal(err)
	}
	if err := valid(t, out.Bytes()); err != nil {
		t.Fatalf("SARIF output does not validate: %v\n%s", err, out.Bytes())
	}
	var empty bytes.Buffer
	if err := scan.WriteSARIF(&empty, &scan.Report{Findings: []scan.Finding{}}, ""); err != nil {
		t.Fatal(err)
	}
	if err := valid(t, empty.Bytes()); err != nil {
		t.Fatalf("empty SARIF output does not validate: %v", err)
	}
	// Negative control: the validator does reject a broken log.
	broken := bytes.Replace(out.Bytes(), []byte(`"version": "2.1.0"`), []byte(`"version": "2.0.0"`), 1)
	if err := valid(t, broken); err == nil {
		t.Errorf("a log with version 2.0.0 validated: the schema check is toothless")
	}

	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string
						Help       struct{ Text string }
						Properties map[string]any
					}
				}
			}
			Invocations []struct {
				ToolExecutionNotifications []struct {
					Message        struct{ Text string }
					AssociatedRule struct{ ID string }
				}
			}
			Results []struct {
				RuleID     string
				Properties map[string]any
				Kind       string
				Level      string
				Message    struct{ Text string }
				Locations  []struct {
					PhysicalLocation struct{ ArtifactLocation struct{ URI string } }
				}
			}
		}
	}
	if err := json.Unmarshal(out.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	rules := log.Runs[0].Tool.Driver.Rules
	if len(rules) != len(scan.Rules) {
		t.Errorf("rules: got %d, want %d", len(rules), len(scan.Rules))
	}
	for _, r := range rules {
		if r.Help.Text == "" || r.Properties["security-severity"] == nil {
			t.Errorf("rule %s: got help %q, security-severity %v, want both", r.ID, r.Help.Text, r.Properties["security-severity"])
		}
	}
	open, notified := 0, false
	for _, n := range log.Runs[0].Invocations[0].ToolExecutionNotifications {
		if n.AssociatedRule.ID == scan.RuleTokenUnbound && strings.Contains(n.Message.Text, "redirect to /login/") {
			notified = true
		}
	}
	if !notified {
		t.Errorf("no notification for the skipped token-unbound family")
	}
	for _, res := range log.Runs[0].Results {
		if res.Kind == "open" {
			open++
			if res.Level != "none" || res.RuleID != scan.RuleMethodDowngrade || res.Properties["security-severity"] != nil {
				t.Errorf("open result: got %s level %q, %v, want method-downgrade level none without security-severity", res.RuleID, res.Level, res.Properties)
			}
			continue
		}
		if !strings.Contains(res.Message.Text, "Fix: ") {
			t.Errorf("result %s: message %q carries no fix", res.RuleID, res.Message.Text)
		}
		if uri := res.Locations[0].PhysicalLocation.ArtifactLocation.URI; !strings.HasPrefix(uri, "https://127.0.0.1:") {
			t.Errorf("result %s: location got %q, want the URL", res.RuleID, uri)
		}
	}
	if open != 1 {
		t.Errorf("open results: got %d, want 1", open)
	}
}

// TestReportsCarryFixes (issue 16, "done when" 4): text and JSON findings
// carry fix advice written for the framework the scan recognised (the
// groups service sets Django's cookies), and skipped families say why in
// both.
func TestReportsCarryFixes(t *testing.T) {
	p := newTestPKI(t)
	g := newGroups(groupsOptions{})
	rep := scanGroups(t, p, g.start(t, p).URL, scan.Config{})
	if rep.Framework == nil || rep.Framework.Name != scan.FrameworkDjango {
		t.Fatalf("framework: got %+v, want django", rep.Framework)
	}
	f, ok := findingOf(rep, scan.RuleCrossSiteForgery)
	if !ok || !strings.Contains(f.Fix, "CsrfViewMiddleware") || !strings.Contains(f.Fix, "forgeproof serve") {
		t.Fatalf("cross-site-forgery fix: got %q (found %v)", f.Fix, ok)
	}
	var text, js bytes.Buffer
	if err := scan.WriteText(&text, rep, scan.TextOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := scan.WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"framework: django (", "  fix:        Check the origin", "CsrfViewMiddleware",
		"skipped token-not-required, token-empty, token-unbound: the form has no anti-CSRF token field", "assessed by verification (discovered)", "verification (discovered): GET "} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report: want %q in\n%s", want, text.String())
		}
	}
	for _, want := range []string{`"fix": "Check the origin`, `"framework": {`, `"name": "django"`, `"family": "token-unbound"`, `"outcome": "skipped"`, `"oracle": "verification-discovered"`} {
		if !strings.Contains(js.String(), want) {
			t.Errorf("JSON report: want %q in\n%s", want, js.String())
		}
	}
	for _, f := range rep.Findings {
		if f.Fix == "" {
			t.Errorf("%s: no fix", f.Rule)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	rep := sampleReport(t)
	var out bytes.Buffer
	if err := scan.WriteJSON(&out, rep); err != nil {
		t.Fatal(err)
	}
	var back scan.Report
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Findings) != len(rep.Findings) || back.Findings[0].Severity != rep.Findings[0].Severity {
		t.Errorf("round trip: got %d findings (first %v), want %d (first %v)", len(back.Findings), back.Findings[0].Severity, len(rep.Findings), rep.Findings[0].Severity)
	}
	if !strings.Contains(out.String(), `"severity": "high"`) {
		t.Errorf("JSON: want severities by name, got\n%s", out.String())
	}
}

func TestWriteText(t *testing.T) {
	rep := sampleReport(t)
	for _, tt := range []struct {
		name  string
		color bool
	}{{"plain", false}, {"color", true}} {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := scan.WriteText(&out, rep, scan.TextOptions{Color: tt.color}); err != nil {
				t.Fatal(err)
			}
			if got := strings.Contains(out.String(), "\x1b["); got != tt.color {
				t.Errorf("escape codes: got %v, want %v", got, tt.color)
			}
			for _, want := range []string{"[lax-post-window]", "reproduce:  curl", "--cert c.pem", "cookie session"} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("text report: want %q in\n%s", want, out.String())
				}
			}
		})
	}
}

// TestFrameworkAdviceLive: the same broken bank behind the headers of
// Express, Rails or nothing gets the advice of that framework, or the
// generic one; no advice names a framework the service did not show.
func TestFrameworkAdviceLive(t *testing.T) {
	p := newTestPKI(t)
	tests := []struct {
		name   string
		header string
		value  string
		want   scan.Framework
		advice string
	}{
		{"Express", "X-Powered-By", "Express", scan.FrameworkExpress, "csurf is deprecated"},
		{"Rails", "X-Runtime", "0.004", scan.FrameworkRails, "protect_from_forgery"},
		{"none", "Server", "example", scan.FrameworkUnknown, "forgeproof serve"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBank(bankOptions{origin: "none", cookie: "Path=/; Secure; HttpOnly; SameSite=None"})
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set(tt.header, tt.value)
				b.ServeHTTP(w, r)
			}))
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			rep, err := scan.Run(context.Background(), scan.Config{Target: srv.URL, TLS: p.clientTLS(), Rate: 1000,
				Endpoints: []scan.Endpoint{transferNoTok}, Verify: balance})
			if err != nil {
				t.Fatal(err)
			}
			got := scan.FrameworkUnknown
			if rep.Framework != nil {
				got = rep.Framework.Name
			}
			if got != tt.want {
				t.Fatalf("framework: got %q, want %q", got, tt.want)
			}
			f, ok := findingOf(rep, scan.RuleCrossSiteForgery)
			if !ok || !strings.Contains(f.Fix, tt.advice) {
				t.Errorf("fix: got %q, want %q in it", f.Fix, tt.advice)
			}
			for _, other := range []string{"CsrfViewMiddleware", "protect_from_forgery", "csurf", "csrf.New().Handler"} {
				if !strings.Contains(tt.advice, other) && strings.Contains(f.Fix, other) && !(tt.want == scan.FrameworkExpress && other == "csurf") {
					t.Errorf("fix %q names %s", f.Fix, other)
				}
			}
		})
	}
}
