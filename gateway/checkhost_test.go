package gateway_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
)

// TestCheckHost: with listeners[].tls.check-host, a request whose Host is
// not the SNI of its connection is refused (421) when the connection
// presented a client certificate; the matching Host passes, and so does a
// connection without a certificate (nothing to lend). Without the option
// (the negative control) the certificate asked for "localhost"
// authenticates a request for another host.
func TestCheckHost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	strict := w.config()
	strict.Listeners[0].TLS.CheckHost = true
	strictGW := w.start(strict)
	laxGW := w.start(w.config())

	tests := []struct {
		name       string
		gw         *running
		cert       *pki.Cert
		host       string // Host header; the SNI is always "localhost"
		path       string
		wantStatus int
		wantReason string
	}{
		{"Host matches SNI", strictGW, w.web, "localhost", "/api/x", 200, ""},
		{"Host matches SNI, with port and in upper case", strictGW, w.web, "LOCALHOST:8443", "/api/x", 200, ""},
		{"Host with a trailing dot matches SNI", strictGW, w.web, "localhost.:8443", "/api/x", 200, ""},
		{"Host with two trailing dots is invalid, not misdirected", strictGW, w.web, "localhost..", "/api/x", 400, "host-invalid"},
		{"Host differs from SNI", strictGW, w.web, "other.example", "/api/x", 421, "misdirected-request"},
		{"Host differs from SNI on a public route", strictGW, w.web, "other.example", "/public/x", 421, "misdirected-request"},
		{"no certificate, Host differs", strictGW, nil, "other.example", "/public/x", 200, ""},
		{"negative control: without check-host the certificate serves another Host", laxGW, w.web, "other.example", "/api/x", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", tt.gw.base+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Host = tt.host
			req.Header.Set("Accept", "application/json")
			resp, err := tt.gw.client(tt.cert).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("got status %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantReason != "" && !strings.Contains(string(body), `"reason":"`+tt.wantReason+`"`) {
				t.Errorf("got body %s, want reason %q", body, tt.wantReason)
			}
		})
	}
}
