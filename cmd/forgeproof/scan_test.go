package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// scanPKI writes a CA, a client certificate (PEM and PKCS#12) and a second,
// unrelated CA into a temporary folder, and returns the server TLS config.
func scanPKI(t *testing.T) (dir string, server *tls.Config) {
	t.Helper()
	dir = t.TempDir()
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://test.example/alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Save(dir, "client.pem", "client-key.pem"); err != nil {
		t.Fatal(err)
	}
	p12, err := client.PKCS12("p12-secret")
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("client.p12", p12)
	write("ca.pem", pki.EncodeCertsPEM(ca.Cert))
	write("other-ca.pem", pki.EncodeCertsPEM(other.Cert))
	return dir, srv.ServerTLSConfig(ca)
}

// tinyBank: GET / sets the session and shows the transfer form; POST
// /transfer needs the client certificate and the session, and checks the
// origin unless vulnerable.
func tinyBank(vulnerable bool) http.Handler {
	balance := 100
	sameSite := http.SameSiteLaxMode
	if vulnerable {
		sameSite = http.SameSiteNoneMode
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "__Host-sid", Value: "victim-session-value", Path: "/", Secure: true, HttpOnly: true, SameSite: sameSite})
		fmt.Fprint(w, `<form method="post" action="/transfer"><input name="amount" value="1"></form>`)
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "certificate required", http.StatusUnauthorized)
			return
		}
		if c, err := r.Cookie("__Host-sid"); err != nil || c.Value != "victim-session-value" {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		site := r.Header.Get("Sec-Fetch-Site")
		originOK := site == "same-origin" || site == "none" || site == "" && (r.Header.Get("Origin") == "" || r.Header.Get("Origin") == "https://"+r.Host)
		if !vulnerable && !originOK {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		balance--
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /balance", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"balance": %d}`, balance)
	})
	return mux
}

func startTiny(t *testing.T, h http.Handler, cfg *tls.Config, auth tls.ClientAuthType) string {
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = cfg.Clone()
	srv.TLS.ClientAuth = auth
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
}

// TestScanExitCodes runs the scan command against live mTLS servers: 0
// clean, 1 findings at or above --fail-on, 2 usage error, 3 could not
// scan (never 0 when the scan did not run).
func TestScanExitCodes(t *testing.T) {
	dir, serverTLS := scanPKI(t)
	f := func(name string) string { return filepath.Join(dir, name) }
	vulnerable := startTiny(t, tinyBank(true), serverTLS, tls.VerifyClientCertIfGiven)
	protected := startTiny(t, tinyBank(false), serverTLS, tls.VerifyClientCertIfGiven)
	strict := startTiny(t, tinyBank(false), serverTLS, tls.RequireAndVerifyClientCert)
	pem := []string{"--cert", f("client.pem"), "--key", f("client-key.pem"), "--ca", f("ca.pem"), "--rate", "1000", "--quiet"}
	verify := []string{"--verify-url", "/balance", "--verify-pointer", "/balance"}
	t.Setenv("FORGEPROOF_P12_PASSWORD", "p12-secret")

	tests := []struct {
		name   string
		args   []string
		want   int
		stdout string // a substring of stdout, if set
		stderr string // a substring of stderr, if set
	}{
		{"vulnerable: findings", append([]string{"--target", vulnerable}, append(pem, verify...)...), 1, "[cross-site-forgery]", "at or above medium"},
		{"vulnerable with --fail-on none", append([]string{"--target", vulnerable, "--fail-on", "none"}, pem...), 0, "[cross-site-forgery]", ""},
		{"vulnerable with --fail-on critical", append([]string{"--target", vulnerable, "--fail-on", "critical"}, pem...), 0, "HIGH", ""},
		{"protected: clean", append([]string{"--target", protected}, append(pem, verify...)...), 0, "No findings.", ""},
		{"protected through PKCS#12", []string{"--target", protected, "--p12", f("client.p12"), "--ca", f("ca.pem"), "--rate", "1000", "--quiet"}, 0, "No findings.", ""},
		{"vulnerable through PKCS#12, text", []string{"--target", vulnerable, "--p12", f("client.p12"), "--ca", f("ca.pem"), "--rate", "1000"}, 1, "client.p12:REDACTED", ""},
		{"vulnerable through PKCS#12, json", []string{"--target", vulnerable, "--p12", f("client.p12"), "--ca", f("ca.pem"), "--rate", "1000", "--format", "json"}, 1, "client.p12:REDACTED", ""},
		{"vulnerable through PKCS#12, sarif", []string{"--target", vulnerable, "--p12", f("client.p12"), "--ca", f("ca.pem"), "--rate", "1000", "--format", "sarif"}, 1, "client.p12:REDACTED", ""},
		{"vulnerable, dry run", []string{"--target", vulnerable, "--p12", f("client.p12"), "--ca", f("ca.pem"), "--dry-run", "--cookie", "__Host-sid=s3cret"}, 0, "client.p12:REDACTED", ""},
		{"strict listener, no client certificate", []string{"--target", strict, "--ca", f("ca.pem"), "--quiet"}, 3, "", "reason: tls-handshake"},
		{"strict listener, certificate accepted", append([]string{"--target", strict}, pem...), 0, "No findings.", ""},
		{"server not trusted", []string{"--target", protected, "--cert", f("client.pem"), "--key", f("client-key.pem"), "--ca", f("other-ca.pem")}, 3, "", "reason: tls-handshake"},
		{"nothing listening", []string{"--target", "https://127.0.0.1:1/", "--ca", f("ca.pem")}, 3, "", "reason: unreachable"},
		{"no endpoint", append([]string{"--target", protected, "--no-discover"}, pem...), 3, "", "reason: no-endpoints"},
		{"no target", nil, 2, "", "--target is required"},
		{"bad format", []string{"--target", protected, "--format", "xml"}, 2, "", `invalid --format "xml"`},
		{"bad fail-on", []string{"--target", protected, "--fail-on", "severe"}, 2, "", `invalid --fail-on "severe": want info, low, medium, high, critical or none`},
		{"vulnerable with --fail-on NONE", append([]string{"--target", vulnerable, "--fail-on", "NONE"}, pem...), 0, "[cross-site-forgery]", ""},
		{"vulnerable with --fail-on HIGH", append([]string{"--target", vulnerable, "--fail-on", "HIGH"}, pem...), 1, "[cross-site-forgery]", "at or above high"},
		{"cert without key", []string{"--target", protected, "--cert", f("client.pem")}, 2, "", "--cert and --key go together"},
		{"p12 and cert", []string{"--target", protected, "--p12", f("client.p12"), "--cert", f("client.pem"), "--key", f("client-key.pem")}, 2, "", "exclusive"},
		{"ca and insecure", []string{"--target", protected, "--ca", f("ca.pem"), "--insecure-skip-verify"}, 2, "", "exclusive"},
		{"bad ca file", []string{"--target", protected, "--ca", f("client-key.pem")}, 2, "", "no PEM certificate"},
		{"bad endpoint", []string{"--target", protected, "--endpoint", "FETCH /x"}, 2, "", `invalid method "FETCH"`},
		{"bad cookie keeps its value secret", []string{"--target", protected, "--cookie", "bad name=s3cret"}, 2, "", "REDACTED"},
		{"endpoint off target", []string{"--target", protected, "--endpoint", "POST https://example.com/x"}, 2, "", "not on the target"},
		{"ftp target", []string{"--target", "ftp://example.com/"}, 2, "", "scheme must be https"},
		{"verify half given", []string{"--target", protected, "--verify-url", "/balance"}, 2, "", "go together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			got := run(context.Background(), append([]string{"scan"}, tt.args...), &stdout, &stderr)
			if got != tt.want {
				t.Errorf("exit status: got %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.want, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.stdout) {
				t.Errorf("stdout: want %q in\n%s", tt.stdout, stdout.String())
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stderr: want %q in\n%s", tt.stderr, stderr.String())
			}
			all := stdout.String() + stderr.String()
			if strings.Contains(all, "s3cret") || strings.Contains(all, "victim-session-value") || strings.Contains(all, "p12-secret") {
				t.Errorf("a secret leaked:\n%s\n%s", stdout.String(), stderr.String())
			}
			if got == 3 && stdout.Len() > 0 {
				t.Errorf("exit 3 with a report on stdout: %s", stdout.String())
			}
		})
	}
}

// TestScanOutputFormats: JSON and SARIF go to --output with mode 0600.
func TestScanOutputFormats(t *testing.T) {
	dir, serverTLS := scanPKI(t)
	target := startTiny(t, tinyBank(true), serverTLS, tls.VerifyClientCertIfGiven)
	for _, format := range []string{"json", "sarif"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "report."+format)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"scan", "--target", target, "--cert", filepath.Join(dir, "client.pem"),
				"--key", filepath.Join(dir, "client-key.pem"), "--ca", filepath.Join(dir, "ca.pem"), "--rate", "1000",
				"--format", format, "--output", out}, &stdout, &stderr)
			if code != 1 {
				t.Fatalf("exit status: got %d, want 1\n%s", code, stderr.String())
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: got %q, want nothing (the report went to --output)", stdout.String())
			}
			if !strings.Contains(stderr.String(), "forgeproof scan: testing POST") {
				t.Errorf("stderr: want progress, got\n%s", stderr.String())
			}
			st, err := os.Stat(out)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Errorf("mode: got %v, want 0600", st.Mode().Perm())
			}
			data, _ := os.ReadFile(out)
			var doc map[string]any
			if err := json.Unmarshal(data, &doc); err != nil {
				t.Fatalf("not JSON: %v", err)
			}
			key := map[string]string{"json": "findings", "sarif": "runs"}[format]
			if doc[key] == nil {
				t.Errorf("%s output has no %q", format, key)
			}
		})
	}
}
