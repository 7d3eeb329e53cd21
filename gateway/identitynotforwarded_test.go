package gateway_test

import (
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestIdentityNotForwardedLogged: a verified identity that XFCC cannot
// carry so that every reader splits it the same (a URI SAN with a
// backslash before a quote) reaches the upstream with no identity header
// at all, and the gateway says so in a warning, which names the route.
// Twin: a plain URI SAN is forwarded, and nothing is logged.
func TestIdentityNotForwardedLogged(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, uri string
		forwarded bool
	}{
		{"backslash before a quote", `https://client.example/?q=a\"b`, false},
		{"twin: a plain URI", `https://client.example/?q=ab`, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			u, err := url.Parse(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			w := newWorld(t)
			cfg := w.config()
			cfg.IdentityForwarding = new(forwarded.XFCC)
			logs := &logBuffer{}
			gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			cert := pkitest.Client(t, w.ca, pki.ClientOptions{CommonName: "client", URIs: []*url.URL{u}})
			status, body := do(t, gw.client(cert), "GET", gw.base+"/nocsrf/x", nil, "")
			if status != http.StatusOK {
				t.Fatalf("got %d %s, want 200", status, body)
			}
			seen := mustJSON(t, body).Header
			xfcc := strings.Join(seen["X-Forwarded-Client-Cert"], ",")
			if got := xfcc != "" && len(seen["Forgeproof-Client-Identity"]) == 1; got != tt.forwarded {
				t.Errorf("identity headers forwarded: %v (XFCC %q, identity %q), want %v", got, xfcc, seen["Forgeproof-Client-Identity"], tt.forwarded)
			}
			var warned []map[string]any
			for _, l := range logs.lines(t) {
				if l["msg"] == "identity not forwarded" {
					warned = append(warned, l)
				}
			}
			switch {
			case tt.forwarded && len(warned) != 0:
				t.Errorf("logged %v, want nothing", warned)
			case !tt.forwarded && (len(warned) != 1 || warned[0]["level"] != "WARN" || warned[0]["route"] != "nocsrf"):
				t.Errorf("logged %v, want one WARN for route nocsrf", warned)
			}
		})
	}
}
