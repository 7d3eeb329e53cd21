package scan_test

import (
	"context"
	"crypto/tls"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

var (
	transferForm  = scan.Endpoint{Method: "POST", Path: "/transfer", Form: map[string]string{"to": "mallory", "amount": "1"}, TokenField: "csrf_token", TokenPage: "/"}
	transferNoTok = scan.Endpoint{Method: "POST", Path: "/transfer", Form: map[string]string{"to": "mallory", "amount": "1"}}
	transferJSON  = scan.Endpoint{Method: "POST", Path: "/api/transfers", JSON: []byte(`{"to":"mallory","amount":1}`)}
	balance       = &scan.Verification{Path: "/api/balance", Pointer: "/balance"}
)

func rulesOf(r *scan.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Rule)
	}
	sort.Strings(out)
	return out
}

func runScan(t *testing.T, p *testPKI, b *bank, eps []scan.Endpoint, verify *scan.Verification) *scan.Report {
	t.Helper()
	srv := b.start(t, p)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target:    srv.URL + "/",
		TLS:       p.clientTLS(),
		Endpoints: eps,
		Verify:    verify,
		Rate:      1000,
	})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	for _, e := range rep.Endpoints {
		if !e.Assessed {
			t.Fatalf("endpoint %s %s not assessed: %s", e.Method, e.URL, e.Note)
		}
	}
	return rep
}

// TestBrokenServers: each deliberately broken defence is found with the
// right rule, and its correct twin (the same bank with that one defect
// fixed) does not produce that rule.
func TestBrokenServers(t *testing.T) {
	p := newTestPKI(t)
	noSameSite := "Path=/; Secure; HttpOnly"
	none := "Path=/; Secure; HttpOnly; SameSite=None"
	tests := []struct {
		name      string
		broken    bankOptions
		twin      bankOptions
		endpoints []scan.Endpoint
		want      string
	}{
		{"no origin check", bankOptions{origin: "none", cookie: "Path=/; Secure; HttpOnly; SameSite=None"},
			bankOptions{origin: "full", cookie: "Path=/; Secure; HttpOnly; SameSite=None"},
			[]scan.Endpoint{transferNoTok}, scan.RuleCrossSiteForgery},
		{"host-only origin check (CrossOriginProtection)", bankOptions{origin: "host-only"},
			bankOptions{origin: "full"}, []scan.Endpoint{transferNoTok}, scan.RuleOriginScheme},
		{"fetch metadata only", bankOptions{origin: "fetch-only", cookie: none},
			bankOptions{origin: "full", cookie: none}, []scan.Endpoint{transferNoTok}, scan.RuleLegacyOrigin},
		{"same-site allowed", bankOptions{origin: "same-site"},
			bankOptions{origin: "full"}, []scan.Endpoint{transferNoTok}, scan.RuleSameSiteForgery},
		{"Origin null allowed", bankOptions{origin: "null-ok", cookie: none},
			bankOptions{origin: "full", cookie: none}, []scan.Endpoint{transferNoTok}, scan.RuleOriginNull},
		{"token not bound to the session", bankOptions{origin: "none", token: "unbound", cookie: noSameSite},
			bankOptions{origin: "none", token: "bound", cookie: noSameSite}, []scan.Endpoint{transferForm}, scan.RuleTokenUnbound},
		{"token served but not checked", bankOptions{origin: "full", token: "unchecked"},
			bankOptions{origin: "full", token: "bound"}, []scan.Endpoint{transferForm}, scan.RuleTokenNotRequired},
		{"CORS reflection with credentials", bankOptions{origin: "full", corsReflect: true},
			bankOptions{origin: "full"}, []scan.Endpoint{transferNoTok}, scan.RuleCORSCredentials},
		{"GET state change", bankOptions{origin: "full", getTransfer: true},
			bankOptions{origin: "full"}, []scan.Endpoint{transferNoTok}, scan.RuleMethodDowngrade},
		{"GET state change declared", bankOptions{origin: "full", getTransfer: true},
			bankOptions{origin: "full", getTransfer: true, getChecksSite: true},
			[]scan.Endpoint{{Method: "GET", Path: "/transfer?to=mallory&amount=1"}}, scan.RuleGetStateChange},
		{"method override", bankOptions{origin: "full", put: true, methodOverride: true, cookie: none},
			bankOptions{origin: "full", put: true, cookie: none},
			[]scan.Endpoint{{Method: "PUT", Path: "/transfer", Form: map[string]string{"to": "mallory", "amount": "1"}}}, scan.RuleMethodOverride},
		{"Lax+POST window cookie", bankOptions{origin: "none", cookie: noSameSite},
			bankOptions{origin: "none"}, []scan.Endpoint{transferNoTok}, scan.RuleLaxPostWindow},
		{"JSON parsed from text/plain", bankOptions{origin: "none", textPlainJSON: true, cookie: "Path=/; Secure; HttpOnly; SameSite=None"},
			bankOptions{origin: "none", cookie: "Path=/; Secure; HttpOnly; SameSite=None"}, []scan.Endpoint{transferJSON}, scan.RuleTextPlainJSON},
		{"certificate-only authorization", bankOptions{origin: "full", certOnly: true},
			bankOptions{origin: "full"}, []scan.Endpoint{transferNoTok}, scan.RuleCertOnly},
	}
	for _, tt := range tests {
		for _, verify := range []*scan.Verification{nil, balance} {
			oracle := "baseline"
			if verify != nil {
				oracle = "verification"
			}
			t.Run(tt.name+"/"+oracle, func(t *testing.T) {
				rep := runScan(t, p, newBank(tt.broken), tt.endpoints, verify)
				got := rulesOf(rep)
				if !slices.Contains(got, tt.want) {
					t.Fatalf("broken: got %v, want %s among them", got, tt.want)
				}
				for _, f := range rep.Findings {
					if f.Rule == tt.want && verify != nil && f.Rule != scan.RuleCORSCredentials && f.Confidence != scan.Confirmed {
						t.Errorf("broken: %s confidence got %s, want %s", f.Rule, f.Confidence, scan.Confirmed)
					}
				}
				twin := runScan(t, p, newBank(tt.twin), tt.endpoints, verify)
				if got := rulesOf(twin); slices.Contains(got, tt.want) {
					t.Errorf("correct twin: got %v, want no %s", got, tt.want)
				}
			})
		}
	}
}

// TestCorrectServer: a bank with every defence right yields no finding
// at all, with either oracle, and the same bank with the origin check off
// (the negative control) is caught.
func TestCorrectServer(t *testing.T) {
	p := newTestPKI(t)
	eps := []scan.Endpoint{transferForm, transferJSON}
	for _, verify := range []*scan.Verification{nil, balance} {
		rep := runScan(t, p, newBank(bankOptions{origin: "full", token: "bound"}), eps, verify)
		if len(rep.Findings) != 0 {
			t.Errorf("correct bank: got %v, want no findings", rulesOf(rep))
		}
	}
	eps = []scan.Endpoint{transferNoTok, transferJSON}
	rep := runScan(t, p, newBank(bankOptions{origin: "none", token: "none", cookie: "Path=/; Secure; HttpOnly; SameSite=None"}), eps, balance)
	got := rulesOf(rep)
	for _, want := range []string{scan.RuleCrossSiteForgery, scan.RuleCookieSameSiteNone} {
		if !slices.Contains(got, want) {
			t.Errorf("negative control: got %v, want %s among them", got, want)
		}
	}
}

// TestFindingShape: one finding per endpoint and rule, with a curl command
// that carries the certificate flags and no secret.
func TestFindingShape(t *testing.T) {
	p := newTestPKI(t)
	b := newBank(bankOptions{origin: "none", token: "unbound", cookie: "Path=/; Secure; HttpOnly; SameSite=None"})
	srv := b.start(t, p)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target:      srv.URL,
		TLS:         p.clientTLS(),
		Endpoints:   []scan.Endpoint{transferForm},
		Verify:      balance,
		Rate:        1000,
		CurlTLSArgs: []string{"--cert", "client.pem", "--key", "client-key.pem", "--cacert", "ca.pem"},
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range rep.Findings {
		key := f.Rule + " " + f.Method + " " + f.URL + " " + f.Cookie
		if seen[key] {
			t.Errorf("duplicate finding %s", key)
		}
		seen[key] = true
		if f.Reproduce == "" {
			continue
		}
		if !strings.Contains(f.Reproduce, "--cert client.pem --key client-key.pem") {
			t.Errorf("%s: reproduce got %q, want the certificate flags", f.Rule, f.Reproduce)
		}
		for _, c := range srvCookies(b) {
			if strings.Contains(f.Reproduce, c) {
				t.Errorf("%s: reproduce leaks the session %q", f.Rule, c)
			}
		}
		if strings.Contains(f.Reproduce, "csrf_token=") && !strings.Contains(f.Reproduce, "csrf_token=REDACTED") {
			t.Errorf("%s: reproduce got %q, want the token redacted", f.Rule, f.Reproduce)
		}
	}
	if !seen[scan.RuleTokenUnbound+" POST "+srv.URL+"/transfer "] {
		t.Errorf("got %v, want token-unbound on POST /transfer", rulesOf(rep))
	}
}

func srvCookies(b *bank) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for id := range b.balances {
		out = append(out, id)
	}
	return out
}

// TestCouldNotScan: a scan that cannot run returns an *scan.Error with
// the right reason, never a clean report.
func TestCouldNotScan(t *testing.T) {
	p := newTestPKI(t)
	other := newTestPKI(t)
	srv := newBank(bankOptions{origin: "full"}).startStrict(t, p)
	noCert := &tls.Config{RootCAs: p.pool}
	foreignCert := &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{other.client}}

	tests := []struct {
		name   string
		cfg    scan.Config
		reason string
	}{
		{"no client certificate on a listener that requires one", scan.Config{Target: srv.URL, TLS: noCert, Endpoints: []scan.Endpoint{transferNoTok}}, scan.ReasonTLS},
		{"client certificate from another CA", scan.Config{Target: srv.URL, TLS: foreignCert, Endpoints: []scan.Endpoint{transferNoTok}}, scan.ReasonTLS},
		{"server certificate not trusted", scan.Config{Target: srv.URL, TLS: other.clientTLS(), Endpoints: []scan.Endpoint{transferNoTok}}, scan.ReasonTLS},
		{"nothing listening", scan.Config{Target: "https://127.0.0.1:1/", TLS: p.clientTLS(), Endpoints: []scan.Endpoint{transferNoTok}}, scan.ReasonUnreachable},
		{"no endpoints", scan.Config{Target: srv.URL, TLS: p.clientTLS()}, scan.ReasonNoEndpoints},
		{"baseline refused", scan.Config{Target: srv.URL, TLS: p.clientTLS(), Endpoints: []scan.Endpoint{{Method: "POST", Path: "/nowhere"}}}, scan.ReasonNoBaseline},
		{"bad target", scan.Config{Target: "ftp://example.com/"}, scan.ReasonConfig},
		{"endpoint off the target", scan.Config{Target: srv.URL, Endpoints: []scan.Endpoint{{Method: "POST", Path: "https://example.com/x"}}}, scan.ReasonConfig},
		{"request limit", scan.Config{Target: srv.URL, TLS: p.clientTLS(), Endpoints: []scan.Endpoint{transferNoTok}, MaxRequests: 2}, scan.ReasonLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Rate = 1000
			_, err := scan.Run(context.Background(), tt.cfg)
			var se *scan.Error
			if !errors.As(err, &se) {
				t.Fatalf("got %v, want a *scan.Error", err)
			}
			if se.Reason != tt.reason {
				t.Errorf("got reason %q (%v), want %q", se.Reason, err, tt.reason)
			}
		})
	}
	// The allowed twin: the same strict listener with the certificate.
	if _, err := scan.Run(context.Background(), scan.Config{Target: srv.URL, TLS: p.clientTLS(), Endpoints: []scan.Endpoint{transferNoTok}, Rate: 1000}); err != nil {
		t.Errorf("with the client certificate: got %v, want no error", err)
	}
}

// TestLogin: the login step gives the session; login CSRF is found when
// the login form takes cross-site posts and not when it checks the origin.
func TestLogin(t *testing.T) {
	p := newTestPKI(t)
	login := &scan.Login{Path: "/login", Form: map[string]string{"user": "alice", "password": "wonderland"}}
	tests := []struct {
		name   string
		origin string
		want   bool
	}{
		{"login without origin check", "none", true},
		{"login with origin check", "full", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newBank(bankOptions{origin: tt.origin}).start(t, p)
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Login: login,
				Endpoints: []scan.Endpoint{transferNoTok}, Verify: balance,
				CurlTLSArgs: []string{"--cert", "c.pem", "--key", "k.pem"},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(rulesOf(rep), scan.RuleLoginCSRF); got != tt.want {
				t.Errorf("login-csrf: got %v (%v), want %v", got, rulesOf(rep), tt.want)
			}
			for _, f := range rep.Findings {
				if strings.Contains(f.Reproduce, "wonderland") {
					t.Errorf("%s: reproduce leaks the password: %s", f.Rule, f.Reproduce)
				}
			}
			if rep.Endpoints[0].Oracle != scan.OracleVerification {
				t.Errorf("oracle: got %v, want %v (the login session should reach the balance)", rep.Endpoints[0].Oracle, scan.OracleVerification)
			}
		})
	}
	srv := newBank(bankOptions{origin: "full"}).start(t, p)
	_, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL, TLS: p.clientTLS(), Rate: 1000, Endpoints: []scan.Endpoint{transferNoTok},
		Login: &scan.Login{Path: "/login", Form: map[string]string{"user": "alice", "password": "wrong"}},
	})
	var se *scan.Error
	if !errors.As(err, &se) || se.Reason != scan.ReasonLogin {
		t.Errorf("wrong password: got %v, want reason %q", err, scan.ReasonLogin)
	}
}

// TestAttackerCertificate: when the token page needs a certificate, the
// attacker's own token can only be had with another certificate; without
// one the probe is skipped (and said so), never guessed.
func TestAttackerCertificate(t *testing.T) {
	p := newTestPKI(t)
	srv := newBank(bankOptions{origin: "none", token: "unbound", pageNeedsCert: true, cookie: "Path=/; Secure; HttpOnly"}).start(t, p)
	tests := []struct {
		name     string
		attacker *tls.Config
		want     bool
	}{
		{"no attacker certificate", nil, false},
		{"attacker certificate", &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.attacker}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := scan.Run(context.Background(), scan.Config{
				Target: srv.URL, TLS: p.clientTLS(), AttackerTLS: tt.attacker, Rate: 1000,
				Endpoints: []scan.Endpoint{transferForm}, Verify: balance,
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := slices.Contains(rulesOf(rep), scan.RuleTokenUnbound); got != tt.want {
				t.Errorf("token-unbound: got %v (%v), want %v", got, rulesOf(rep), tt.want)
			}
			noted := slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, "token-unbound not tested") })
			if noted == tt.want {
				t.Errorf("note that the probe was skipped: got %v, want %v (%q)", noted, !tt.want, rep.Notes)
			}
		})
	}
}

// A caller's own *scan.Error without a cause prints its reason, where
// Error() dereferenced the nil Err; with one, the cause follows.
func TestErrorWithoutCause(t *testing.T) {
	if got := (&scan.Error{Reason: scan.ReasonCanceled}).Error(); got != "scan: canceled" {
		t.Errorf("without Err: got %q", got)
	}
	if got := (&scan.Error{Reason: scan.ReasonCanceled, Err: errors.New("stop")}).Error(); got != "scan: canceled: stop" {
		t.Errorf("with Err: got %q", got)
	}
}
