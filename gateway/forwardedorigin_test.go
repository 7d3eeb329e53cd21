package gateway_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/internal/proctest"
)

// TestForwardedFromTrustedProxy: a trusted proxy's Forwarded is read on
// every request, not only on the unsafe ones with Origin or Referer the
// CSRF check works out an origin for. Caddy's default reverse_proxy and
// the usual nginx recipe replace X-Forwarded-* but pass the client's
// Forwarded on, and an upstream that reads Forwarded first (Rack 3, some
// Java stacks) builds its URLs, password-reset links included, with the
// host the client chose. So a Forwarded that names another origin than
// X-Forwarded-Proto/-Host is refused (400 forwarded-conflict), a
// malformed one too (400 forwarded-invalid), and of one that agrees only
// its last element, the one checked, goes on: Spring reads the first.
// Each refused case has its allowed twin; the negative control is
// TestForwardedFromTrustedProxyNegativeControl.
func TestForwardedFromTrustedProxy(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	host := strings.TrimPrefix(gw.base, "https://") // the Host the client sends
	xf := func(kv ...string) http.Header {
		h := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}}
		for i := 0; i+1 < len(kv); i += 2 {
			h[kv[i]] = append(h[kv[i]], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name, method, path string
		header             http.Header
		reason             gateway.Reason // refused with 400 and this code
		want               map[string]string
	}{
		{name: "a client's host passed on beside the proxy's X-Forwarded-*: GET without Origin", method: "GET", path: "/public/reset",
			header: xf("Forwarded", "host=evil.example"), reason: gateway.ReasonForwardedConflict},
		{name: "twin: the proxy's own Forwarded, agreeing", method: "GET", path: "/public/reset",
			header: xf("Forwarded", `for=192.0.2.1;proto=https;host="app.example:443"`),
			want:   map[string]string{"Forwarded": `for=192.0.2.1;proto=https;host="app.example:443"`, "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example:443"}},
		{name: "twin: no Forwarded", method: "GET", path: "/public/reset", header: xf(),
			want: map[string]string{"Forwarded": "", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "app.example"}},
		{name: "a client's proto beside the proxy's X-Forwarded-Proto", method: "GET", path: "/public/x",
			header: xf("Forwarded", "proto=http;host=app.example"), reason: gateway.ReasonForwardedConflict},
		{name: "a client's host beside X-Forwarded-Proto alone (the Host fills in)", method: "GET", path: "/public/x",
			header: http.Header{"X-Forwarded-Proto": {"https"}, "Forwarded": {"host=evil.example"}}, reason: gateway.ReasonForwardedConflict},
		{name: "twin: the Host named in Forwarded beside X-Forwarded-Proto alone", method: "GET", path: "/public/x",
			header: http.Header{"X-Forwarded-Proto": {"https"}, "Forwarded": {`host="` + host + `"`}},
			want:   map[string]string{"Forwarded": `host="` + host + `"`, "X-Forwarded-Proto": "https", "X-Forwarded-Host": host}},
		{name: "a client's elements before the proxy's: only the last goes on", method: "GET", path: "/public/x",
			header: xf("Forwarded", "host=evil.example;proto=http, for=192.0.2.1;host=app.example;proto=https"),
			want:   map[string]string{"Forwarded": "for=192.0.2.1;host=app.example;proto=https", "X-Forwarded-Host": "app.example"}},
		{name: "unsafe method with Origin: refused by the gateway, not by the CSRF check", method: "POST", path: "/api/x",
			header: xf("Forwarded", "host=evil.example", "Origin", "https://evil.example"), reason: gateway.ReasonForwardedConflict},
		{name: "twin: same-origin POST through the proxy", method: "POST", path: "/api/x",
			header: xf("Origin", "https://app.example"), want: map[string]string{"X-Forwarded-Host": "app.example"}},
		{name: "unterminated quote", method: "GET", path: "/public/x",
			header: xf("Forwarded", `for="_x, for=192.0.2.1;host=app.example`), reason: gateway.ReasonForwardedInvalid},
		{name: "twin: terminated", method: "GET", path: "/public/x",
			header: xf("Forwarded", `for="_x", for=192.0.2.1;host=app.example`),
			want:   map[string]string{"Forwarded": "for=192.0.2.1;host=app.example"}},
		{name: "a parameter twice in one element", method: "GET", path: "/public/x",
			header: xf("Forwarded", "host=evil.example;host=app.example"), reason: gateway.ReasonForwardedInvalid},
		{name: "an unknown X-Forwarded-Proto", method: "GET", path: "/public/x",
			header: http.Header{"X-Forwarded-Proto": {"gopher"}}, reason: gateway.ReasonForwardedInvalid},
		{name: "Forwarded alone names the origin both headers carry upstream", method: "GET", path: "/public/x",
			header: http.Header{"Forwarded": {"proto=http;host=app.example"}},
			want:   map[string]string{"Forwarded": "proto=http;host=app.example", "X-Forwarded-Proto": "http", "X-Forwarded-Host": "app.example"}},
	}
	c := gw.client(w.web)
	refused := 0
	for _, tt := range tests {
		before := w.upstream.count()
		status, body := do(t, c, tt.method, gw.base+tt.path, tt.header, "")
		if tt.reason != "" {
			refused++
			if status != http.StatusBadRequest || !strings.Contains(body, string(tt.reason)) {
				t.Errorf("%s: got %d %s, want 400 %s", tt.name, status, body, tt.reason)
			}
			if n := w.upstream.count(); n != before {
				t.Errorf("%s: the upstream got the refused request", tt.name)
			}
			continue
		}
		if status != 200 {
			t.Errorf("%s: got %d %s, want 200", tt.name, status, body)
			continue
		}
		seen := mustJSON(t, body)
		for header, want := range tt.want {
			if got := strings.Join(seen.Header[header], "|"); got != want {
				t.Errorf("%s: upstream %s: got %q, want %q", tt.name, header, got, want)
			}
		}
	}
	metrics := metricsText(t, gw)
	for reason, n := range map[gateway.Reason]int{gateway.ReasonForwardedConflict: 4, gateway.ReasonForwardedInvalid: 3} {
		if want := fmt.Sprintf("forgeproof_gateway_ambiguous_requests_total{reason=%q} %d", reason, n); !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if refused != 7 {
		t.Fatalf("%d refused cases, the metrics above count 7", refused)
	}
}

// TestForwardedUntrustedPeer: from a peer that is not a trusted proxy
// the forwarding headers are not read (they are dropped, whatever they
// hold), so a malformed Forwarded is no reason to refuse.
func TestForwardedUntrustedPeer(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	status, body := do(t, gw.client(w.web), "GET", gw.base+"/public/x", http.Header{"Forwarded": {`for="x`}, "X-Forwarded-Host": {"evil.example"}}, "")
	if status != 200 {
		t.Fatalf("got %d %s", status, body)
	}
	if seen := mustJSON(t, body); seen.Header["Forwarded"] != nil {
		t.Errorf("upstream got Forwarded %q", seen.Header["Forwarded"])
	}
}

// TestForwardedFromTrustedProxyNegativeControl: with the reading turned
// off, the client's Forwarded that a proxy passed on reaches the upstream
// whole, the client's element first: the attack the check stops.
func TestForwardedFromTrustedProxyNegativeControl(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	gateway.SetForwardedOriginCheck(gw.g, false)
	h := http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}, "Forwarded": {"host=evil.example"}}
	status, body := do(t, gw.client(w.web), "GET", gw.base+"/public/reset", h, "")
	if status != 200 {
		t.Fatalf("got %d %s", status, body)
	}
	if got := mustJSON(t, body).Header["Forwarded"]; len(got) != 1 || got[0] != "host=evil.example" {
		t.Fatalf("without the check the upstream should get the client's Forwarded: got %q", got)
	}
}

// TestForwardedCaddy puts real Caddy in front of the gateway, trusted,
// with reverse_proxy's defaults: it replaces X-Forwarded-* and passes
// the client's Forwarded on. A client's Forwarded naming another host is
// refused on a plain GET (what curl sends to get a poisoned
// password-reset link); the allowed twins: the same request without
// Forwarded, and through a Caddy that sets Forwarded itself (header_up),
// which replaces the client's. The negative control turns the check off
// and the client's Forwarded arrives.
func TestForwardedCaddy(t *testing.T) {
	bin, err := exec.LookPath("caddy")
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FORGEPROOF_E2E") == "require" {
			t.Fatalf("caddy is not installed (.ci/run installs it): %v", err)
		}
		t.Skip("caddy is not installed")
	}
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	gwAddr := strings.TrimPrefix(gw.base, "https://")

	plain := startCaddy(t, bin, w.path("ca.pem"), gwAddr, "")
	setting := startCaddy(t, bin, w.path("ca.pem"), gwAddr, "\t\theader_up Forwarded `for=\"{remote_host}\";proto={scheme};host=\"{hostport}\"`\n")
	spoof := http.Header{"Forwarded": {`host=evil.example`}}
	tests := []struct {
		name   string
		base   string
		header http.Header
		status int
		want   string // in the answer: the refusal's code, or the upstream's Forwarded
	}{
		{"default reverse_proxy passes the client's Forwarded on: refused", plain, spoof, 400, string(gateway.ReasonForwardedConflict)},
		{"twin: no Forwarded", plain, nil, 200, `"X-Forwarded-Proto":["http"]`},
		{"twin: a Caddy that sets Forwarded replaces the client's", setting, spoof, 200, `"Forwarded":["for=\"127.0.0.1\";proto=http;host=\"127.0.0.1:`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := w.upstream.count()
			status, body := do(t, http.DefaultClient, "GET", tt.base+"/public/reset", tt.header, "")
			if status != tt.status || !strings.Contains(body, tt.want) {
				t.Fatalf("got %d %s, want %d with %s", status, body, tt.status, tt.want)
			}
			if reached := w.upstream.count() > before; reached != (status == 200) {
				t.Errorf("upstream reached: %v", reached)
			}
		})
	}
	// The negative control: with the check off, the client's Forwarded
	// arrives through Caddy's defaults beside Caddy's X-Forwarded-*.
	gateway.SetForwardedOriginCheck(gw.g, false)
	status, body := do(t, http.DefaultClient, "GET", plain+"/public/reset", spoof, "")
	if seen := mustJSON(t, body); status != 200 || strings.Join(seen.Header["Forwarded"], "|") != "host=evil.example" || seen.Header["X-Forwarded-Host"] == nil {
		t.Fatalf("without the check the client's Forwarded should arrive through Caddy: got %d %s", status, body)
	}
}

// startCaddy runs Caddy as a plain-HTTP reverse proxy to the gateway at
// gwAddr (over TLS, HTTP/1.1, trusting caFile), with extra lines in its
// reverse_proxy block, and returns its base URL.
func startCaddy(t *testing.T, bin, caFile, gwAddr, extra string) string {
	t.Helper()
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir := t.TempDir()
	conf := "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n" +
		"http://" + addr + " {\n" +
		"\treverse_proxy https://" + gwAddr + " {\n" + extra +
		"\t\ttransport http {\n\t\t\ttls_trusted_ca_certs " + caFile + "\n\t\t\ttls_server_name localhost\n\t\t\tversions 1.1\n\t\t}\n" +
		"\t}\n}\n"
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--adapter", "caddyfile", "--config", path)
	cmd.Env = append(os.Environ(), "XDG_DATA_HOME="+dir, "XDG_CONFIG_HOME="+dir, "HOME="+dir)
	proctest.Start(t, addr, cmd)
	return "http://" + addr
}

// TestForwardedConflictNamesOrigins: a forwarded-conflict refusal's
// detail named neither origin, so an operator could not tell which
// proxy's header was wrong. It names both now, as compared (the
// connection filling in what a header leaves out), after the stable
// text. The twin: agreeing headers pass.
func TestForwardedConflictNamesOrigins(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	c := gw.client(w.web)
	const stable = "the trusted proxy's Forwarded header names another origin than X-Forwarded-Proto and X-Forwarded-Host"
	tests := []struct {
		name, forwarded string
		wantDetail      string // "" means allowed
	}{
		{"another host", "host=evil.example",
			stable + `: Forwarded names "https://evil.example", X-Forwarded-Proto/-Host "https://app.example"`},
		{"another scheme", "proto=http;host=app.example",
			stable + `: Forwarded names "http://app.example", X-Forwarded-Proto/-Host "https://app.example"`},
		{"twin: agreeing", "proto=https;host=app.example", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Forwarded": {tt.forwarded}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"},
				"Accept": {"application/json"}}
			status, body := do(t, c, "GET", gw.base+"/public/x", h, "")
			if tt.wantDetail == "" {
				if status != http.StatusOK {
					t.Fatalf("got %d %s, want 200", status, body)
				}
				return
			}
			var p struct{ Reason, Detail string }
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatalf("got %d %q: %v", status, body, err)
			}
			if status != http.StatusBadRequest || p.Reason != string(gateway.ReasonForwardedConflict) {
				t.Fatalf("got %d %s, want 400 forwarded-conflict", status, body)
			}
			if !strings.HasPrefix(p.Detail, tt.wantDetail+" (") {
				t.Errorf("got detail %q, want it to begin %q", p.Detail, tt.wantDetail)
			}
		})
	}
}
