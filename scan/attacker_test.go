package scan_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// attackerTLS presents the attacker's own certificate (same CA).
func (p *testPKI) attackerTLS() *tls.Config {
	return &tls.Config{RootCAs: p.pool, Certificates: []tls.Certificate{p.attacker}}
}

// TestAttackerLogin (issue 16 item 3): on a service that shows the form,
// and so its token, to logged-in users only, token-unbound is skipped
// with its cause (the token page redirects the attacker to the login
// page) unless the attacker logs in by the same form flow as the victim;
// then an unbound token is found and a bound one (the twin) is not.
func TestAttackerLogin(t *testing.T) {
	p := newTestPKI(t)
	victim := &scan.Login{Path: "/login/", Form: map[string]string{"username": "alice", "password": "wonderland"}}
	mallory := &scan.Login{Form: map[string]string{"username": "mallory", "password": "hunter2"}}
	tests := []struct {
		name     string
		token    string
		attacker *scan.Login
		want     scan.Outcome
		reason   string
	}{
		{"unbound token, attacker not logged in", "unbound", nil, scan.OutcomeSkipped, "redirect to /login/: a login page"},
		{"unbound token, attacker logged in", "unbound", mallory, scan.OutcomeFound, ""},
		{"bound token, attacker logged in", "bound", mallory, scan.OutcomeRefused, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGroups(groupsOptions{token: tt.token, loginRequired: true, noSameSite: true})
			rep := scanGroups(t, p, g.start(t, p).URL, scan.Config{Login: victim, AttackerLogin: tt.attacker, AttackerTLS: p.attackerTLS(), Verify: groupsCount})
			e := endpointOf(t, rep, "/add/")
			if e.Oracle != scan.OracleVerification {
				t.Fatalf("oracle: got %q (%s), want verification", e.Oracle, e.Note)
			}
			f := familyOf(e, scan.RuleTokenUnbound)
			if f.Outcome != tt.want || !strings.Contains(f.Reason, tt.reason) {
				t.Errorf("token-unbound: got %s (%q), want %s with %q", f.Outcome, f.Reason, tt.want, tt.reason)
			}
			if _, found := findingOf(rep, scan.RuleTokenUnbound); found != (tt.want == scan.OutcomeFound) {
				t.Errorf("token-unbound finding: got %v (%v)", found, rulesOf(rep))
			}
			for _, f := range rep.Findings {
				if strings.Contains(f.Reproduce, "hunter2") {
					t.Errorf("%s: reproduce leaks the attacker's password", f.Rule)
				}
			}
		})
	}

	// A wrong attacker password stops the scan with login-failed, and says
	// it was the attacker's login.
	g := newGroups(groupsOptions{token: "unbound", loginRequired: true})
	srv := g.start(t, p)
	_, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL, TLS: p.clientTLS(), AttackerTLS: p.attackerTLS(), Rate: 1000, Discover: true, Login: victim,
		AttackerLogin: &scan.Login{Form: map[string]string{"username": "mallory", "password": "wrong"}},
	})
	var se *scan.Error
	if !errors.As(err, &se) || se.Reason != scan.ReasonLogin || !strings.Contains(err.Error(), "attacker login") {
		t.Errorf("wrong attacker password: got %v, want reason %q naming the attacker login", err, scan.ReasonLogin)
	}
}
