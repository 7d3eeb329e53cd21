package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// TestRun drives a real mTLS server through the command line, with and
// without a client certificate.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srvCert, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	client, err := ca.IssueClient(pki.ClientOptions{CommonName: "loadgen"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		t.Fatal(err)
	}
	if err := client.Save(dir, pki.ClientFile, pki.ClientKeyFile); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = srvCert.ServerTLSConfig(ca)
	srv.StartTLS()
	defer srv.Close()

	base := []string{"-addr", srv.Listener.Addr().String(), "-ca", filepath.Join(dir, pki.CAFile),
		"-duration", "100ms", "-warmup", "0s", "-conns", "2"}
	// with returns a fresh slice each time: the cases must not share one.
	with := func(args ...string) []string {
		return append(append([]string(nil), base...), args...)
	}
	cert := []string{"-cert", filepath.Join(dir, pki.ClientFile), "-key", filepath.Join(dir, pki.ClientKeyFile)}
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "keepalive", args: with(append(cert, "-mode", "keepalive")...)},
		{name: "full", args: with(append(cert, "-mode", "full")...)},
		{name: "resumed", args: with(append(cert, "-mode", "resumed")...)},
		{name: "latency", args: with(append(cert, "-mode", "latency", "-rate", "50")...)},
		{name: "no client certificate: every request refused", args: with("-mode", "keepalive"), wantErr: "no request succeeded"},
		{name: "unknown mode", args: with(append(cert, "-mode", "soak")...), wantErr: `unknown mode "soak"`},
		{name: "no address", args: []string{"-ca", "x"}, wantErr: "-addr and -ca are required"},
		{name: "missing CA file", args: []string{"-addr", "127.0.0.1:1", "-ca", filepath.Join(dir, "nope.pem")}, wantErr: "nope.pem"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(context.Background(), tc.args)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tc.wantErr == "") != (err == nil) || !strings.Contains(got, tc.wantErr) {
				t.Errorf("error: got %q, want one containing %q", got, tc.wantErr)
			}
		})
	}
}
