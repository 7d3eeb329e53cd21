package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
	"github.com/forgeproof/forgeproof/scan"
)

// TestScanWebSocketBehindServe: an upstream that upgrades any WebSocket
// handshake, whatever its Origin, reached through "forgeproof serve":
// the gateway's WebSocket origin check refuses the cross-site handshake,
// so a scan reports nothing; its negative control, the same upstream on a
// route with CSRF off, is reported as websocket-cross-site.
func TestScanWebSocketBehindServe(t *testing.T) {
	d := pkitest.NewDir(t, nil)
	dir, ca := d.Path, d.CA
	cli, err := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.Save(dir, "client.pem", "client-key.pem"); err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.NotFound(w, r)
			return
		}
		browsertest.AcceptWebSocket(w, r)
	}))
	defer up.Close()
	cfg := strings.Replace(serveTestConfig, "UPSTREAM", up.URL, 1)
	cfg = strings.Replace(cfg, "admin:", "  - {name: open, path-prefix: /open, upstream: \""+up.URL+"\", allow: {any-verified: true}, csrf: {mode: insecure-off}}\nadmin:", 1)
	cfgPath := filepath.Join(dir, "gw.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	sv := startServe(t, "--config", cfgPath, "--watch=false")
	base := "https://localhost" + sv.addrs.Listener[strings.LastIndex(sv.addrs.Listener, ":"):]

	for _, tt := range []struct {
		name, path string
		want       bool
	}{
		{"behind the origin check", "/api/socket", false},
		{"negative control: CSRF off on the route", "/open/socket", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := runScan(context.Background(), []string{"--target", base + "/api/", "--no-discover", "--quiet", "--format", "json",
				"--cert", filepath.Join(dir, "client.pem"), "--key", filepath.Join(dir, "client-key.pem"), "--ca", filepath.Join(dir, "ca.pem"),
				"--endpoint", "WS " + tt.path, "--fail-on", "none"}, &stdout, &stderr)
			if err != nil {
				t.Fatalf("scan: %v\n%s", err, stderr.String())
			}
			var rep scan.Report
			if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
				t.Fatal(err)
			}
			if len(rep.Endpoints) != 1 || !rep.Endpoints[0].Assessed || rep.Endpoints[0].Method != "WS" {
				t.Fatalf("endpoints: got %+v, want the WebSocket assessed (the same-origin handshake upgraded)", rep.Endpoints)
			}
			found := false
			for _, f := range rep.Findings {
				found = found || f.Rule == scan.RuleWebSocketCrossSite
			}
			if found != tt.want {
				t.Errorf("websocket-cross-site reported: got %v, want %v; findings %+v", found, tt.want, rep.Findings)
			}
		})
	}
}
