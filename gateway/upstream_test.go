package gateway_test

import (
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// Port 1 (tcpmux) has nothing listening, and no test binds it: a
	// port bound, noted and closed may be any other test's listener by
	// the time the request is sent (CI saw a TLS server's 400 there).
	dead := "http://127.0.0.1:1"

	cfg := w.config()
	cfg.Routes = append(cfg.Routes,
		gateway.Route{Name: "dead", PathPrefix: "/dead", Upstream: dead, Allow: gateway.Allow{AnyVerified: true}},
	)
	// The answer in time must beat the timeout under a loaded -race run
	// (a second); the slow one never comes (the upstream waits until the
	// gateway gives up).
	cfg.Limits.UpstreamResponseHeaderTimeout = time.Second
	cfg.Limits.MaxBodyBytes = 1000
	logBuf := &logBuffer{}
	gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logBuf, nil))})
	c := gw.client(w.web)

	// wantDecision is the access log's: an upstream's failure is an
	// "error" (an outage), not a "deny" (a refusal to read as an attack).
	tests := []struct {
		name         string
		method       string
		path         string
		body         string
		wantStatus   int
		wantReason   string
		wantDecision string
	}{
		{"upstream down", "GET", "/dead/x", "", 502, "upstream-unavailable", "error"},
		{"upstream too slow", "GET", "/api/x?sleep=1h", "", 504, "upstream-timeout", "error"},
		{"upstream in time", "GET", "/api/x?sleep=1ms", "", 200, "", "allow"},
		{"body too large", "POST", "/api/x", strings.Repeat("a", 5000), 413, "body-too-large", "deny"},
		{"body within the limit", "POST", "/api/x", strings.Repeat("a", 500), 200, "", "allow"},
	}
	defer func() {
		gw.close() // every line written
		var lines []map[string]any
		for _, l := range logBuf.lines(t) {
			if l["msg"] == "request" {
				lines = append(lines, l)
			}
		}
		if len(lines) != len(tests) {
			t.Fatalf("got %d request lines, want %d: %v", len(lines), len(tests), lines)
		}
		for i, tt := range tests {
			if l := lines[i]; l["decision"] != tt.wantDecision || l["status"] != float64(tt.wantStatus) {
				t.Errorf("%s: log line %v, want decision %s status %d", tt.name, l, tt.wantDecision, tt.wantStatus)
			}
		}
	}()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, c, tt.method, gw.base+tt.path, http.Header{"Accept": {"application/json"}}, tt.body)
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantReason == "" {
				return
			}
			if !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
			// No internal details: not the upstream's address, not Go's
			// error text.
			for _, leak := range []string{"127.0.0.1", "dial", "refused", "timeout awaiting"} {
				if strings.Contains(body, leak) {
					t.Errorf("body %s leaks %q", body, leak)
				}
			}
		})
	}
}

// TestTrustedForwarder: a proxy in front of the gateway may vouch for a
// client certificate in a header; anyone else's header is ignored.
func TestTrustedForwarder(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	alice := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/admin")
	fwdCert := forwarded.FormatClientCert(alice.Cert)
	lb := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/lb")

	run := func(t *testing.T, fw []gateway.Forwarder, header string) (int, string) {
		cfg := w.config()
		cfg.TrustedForwarders = fw
		gw := w.start(cfg)
		h := http.Header{"Accept": {"application/json"}}
		if header != "" {
			h.Set("Client-Cert", header)
		}
		return do(t, gw.client(lb), "GET", gw.base+"/admin/x", h, "")
	}
	cases := []struct {
		name       string
		fw         []gateway.Forwarder
		header     string
		wantStatus int
		wantReason string
	}{
		{"forwarded admin from the trusted forwarder", []gateway.Forwarder{{Addresses: []string{"127.0.0.1"}, SPIFFEIDs: []string{"spiffe://test.example/lb"}, Header: new(forwarded.RFC9440)}}, fwdCert, 200, ""},
		{"same header from an untrusted peer", []gateway.Forwarder{{Addresses: []string{"10.9.9.9"}, Header: new(forwarded.RFC9440)}}, fwdCert, 403, "spiffe-id-denied"},
		{"same header with no forwarder configured", nil, fwdCert, 403, "spiffe-id-denied"},
		{"forwarder sending garbage", []gateway.Forwarder{{Addresses: []string{"127.0.0.1"}, Header: new(forwarded.RFC9440)}}, ":not base64:", 400, "forwarded-identity-invalid"},
		{"forwarder sending nothing: the client had no certificate", []gateway.Forwarder{{Addresses: []string{"127.0.0.1"}, Header: new(forwarded.RFC9440)}}, "", 403, "identity-missing"},
	}
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			status, body := run(t, tt.fw, tt.header)
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
			if tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
			if status == 200 {
				seen := mustJSON(t, body)
				if got := strings.Join(seen.Header["Client-Cert"], ","); got != fwdCert {
					t.Errorf("upstream got Client-Cert %q, want the forwarded client's", got)
				}
			}
		})
	}
}

// TestHTTPSUpstream: an https upstream with a private CA works when the
// route names the CA, and is refused (502) when it does not: the system
// roots do not trust it.
func TestHTTPSUpstream(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	upCert := pkitest.ServerWith(t, w.ca, pki.ServerOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "secure upstream") }))
	up.TLS = &tls.Config{Certificates: []tls.Certificate{upCert.TLSCertificate()}}
	up.StartTLS()
	t.Cleanup(up.Close)

	tests := []struct {
		name       string
		caFile     string
		wantStatus int
	}{
		{"upstream CA configured", w.path("ca.pem"), 200},
		{"negative control: system roots only", "", 502},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config()
			cfg.Routes[0].Upstream = up.URL
			cfg.Routes[0].UpstreamCAFile = tt.caFile
			gw := w.start(cfg)
			status, body := do(t, gw.client(w.web), "GET", gw.base+"/api/x", nil, "")
			if status != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", status, tt.wantStatus, body)
			}
		})
	}
}
