package e2e_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestHTTP2MisdirectedInChromium proves in Chromium what the gateway's
// HTTP/2 default rests on. The gateway serves a.app.localhost and
// b.app.localhost with one certificate over HTTP/2; Chromium holds
// alice's client certificate for the first and bob's for the second.
// With the coalescing policy on (Chromium's HTTP2ClientCertCoalescingHosts,
// without which it never reuses a connection that carried a client
// certificate for another name), the navigation to b.app.localhost goes
// first on the HTTP/2 connection opened for a.app.localhost, where alice's
// certificate was presented; the gateway answers 421 misdirected-request,
// and Chromium retries on a new connection whose SNI is b.app.localhost,
// presenting bob's certificate, where the page is served to bob. The
// negative control (http2: insecure-on-without-check-host) serves the
// request for b.app.localhost on a.app.localhost's connection, as alice:
// the lent certificate. The third case records Chromium's default: no
// reuse, so no 421. A WebSocket opened next goes over HTTP/1.1.
func TestHTTP2MisdirectedInChromium(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	ca, _, dir := gatewayFiles(t, "a.app.localhost", "b.app.localhost", "localhost")
	// Chromium holds one certificate per site name: alice's for
	// a.app.localhost, bob's for b.app.localhost. A request for b served
	// on a's connection would carry alice's: the lent certificate.
	alice, err := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).PKCS12("")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "bob"}).PKCS12("")
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ws" {
			// Closed at once: the gateway's tunnel ends, its access-log
			// line is written.
			browsertest.AcceptWebSocket(w, r)
			return
		}
		fmt.Fprintf(w, "<!doctype html><title>%s</title>ok", r.Host)
	}))
	t.Cleanup(up.Close)

	for _, tc := range []struct {
		name     string
		mode     gateway.HTTP2Mode
		coalesce bool
		// want421: the request for b.app.localhost went first on a.app.localhost's
		// connection and got 421; reuse: it went there and was served.
		want421, reuse bool
	}{
		{"421 and retry", gateway.HTTP2On, true, true, false},
		{"negative control: check off", gateway.HTTP2InsecureOnWithoutCheckHost, true, false, true},
		{"Chromium default: no reuse", gateway.HTTP2On, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var log browser.AccessLog
			g, err := gateway.New(&gateway.Config{
				Listeners: []gateway.Listener{{
					Address: "127.0.0.1:0",
					HTTP2:   tc.mode,
					TLS: gateway.ListenerTLS{
						CertFile:      filepath.Join(dir, "server.pem"),
						KeyFile:       filepath.Join(dir, "server-key.pem"),
						ClientCAFiles: []string{filepath.Join(dir, "ca.pem")},
						ClientAuth:    mtls.VerifyClientCertIfGiven,
					},
				}},
				Routes: []gateway.Route{{Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}}},
				Admin:  gateway.Admin{Address: "127.0.0.1:0"},
			}, gateway.Options{Logger: slog.New(&log)})
			if err != nil {
				t.Fatal(err)
			}
			port := serveGateway(t, g)
			a, b := "https://a.app.localhost:"+port, "https://b.app.localhost:"+port

			p := browser.Profile{CACertsPEM: pki.EncodeCertsPEM(ca.Cert), Clients: []browser.Client{
				{P12: alice, CommonName: "alice", Origins: []string{a}},
				{P12: bob, CommonName: "bob", Origins: []string{b}},
			}}
			if tc.coalesce {
				p.H2ClientCertCoalescingHosts = []string{"localhost"}
			}
			br := startBrowser(t, tools, p)
			if status, err := br.Navigate(t.Context(), a+"/"); err != nil || status != http.StatusOK {
				t.Fatalf("navigate to a.app.localhost: %d %v", status, err)
			}
			first, err := log.Wait(waitCtx(t), 0, func(x browser.Access) bool { return x.Host == "a.app.localhost:"+port })
			if err != nil {
				t.Fatal(err)
			}
			if first.Proto != "HTTP/2.0" || first.ServerName != "a.app.localhost" || first.Identity != "CN=alice" {
				t.Fatalf("a.app.localhost: got %+v, want HTTP/2.0 with SNI a.app.localhost and alice's certificate", first)
			}
			mark := log.Mark()
			if status, err := br.Navigate(t.Context(), b+"/"); err != nil || status != http.StatusOK {
				t.Fatalf("navigate to b.app.localhost: %d %v", status, err)
			}
			served, err := log.Wait(waitCtx(t), mark, func(x browser.Access) bool { return x.Host == "b.app.localhost:"+port && x.Status == http.StatusOK })
			if err != nil {
				t.Fatal(err)
			}
			var misdirected []browser.Access
			for _, x := range log.Records()[mark:] {
				t.Logf("request %s %s: %d %s, %s on the connection of %s from %s, identity %q", x.Host, x.Path, x.Status, x.Reason, x.Proto, x.ServerName, x.Peer, x.Identity)
				if x.Status == http.StatusMisdirectedRequest {
					misdirected = append(misdirected, x)
				}
			}
			reused := served.Peer == first.Peer
			if reused != tc.reuse {
				t.Errorf("b.app.localhost served on a.app.localhost's connection: got %v, want %v (peers %s, %s)", reused, tc.reuse, first.Peer, served.Peer)
			}
			if tc.reuse && served.ServerName != "a.app.localhost" || !tc.reuse && served.ServerName != "b.app.localhost" {
				t.Errorf("b.app.localhost served on a connection with SNI %q", served.ServerName)
			}
			// Served on a's connection, the request for b carries alice's
			// certificate (lent); on its own, bob's.
			wantID := map[bool]string{true: "CN=alice", false: "CN=bob"}[tc.reuse]
			if served.Identity != wantID || served.Proto != "HTTP/2.0" {
				t.Errorf("b.app.localhost served: got %+v, want HTTP/2.0 with identity %s", served, wantID)
			}
			if tc.want421 {
				if len(misdirected) != 1 || misdirected[0].Peer != first.Peer || misdirected[0].ServerName != "a.app.localhost" || misdirected[0].Reason != "misdirected-request" {
					t.Errorf("421s: got %+v, want one misdirected-request on a.app.localhost's connection (%s)", misdirected, first.Peer)
				}
			} else if len(misdirected) != 0 {
				t.Errorf("421s: got %+v, want none", misdirected)
			}
			if tc.want421 {
				// WebSockets still work with HTTP/2 on: the gateway does not
				// announce extended CONNECT, so Chromium opens an HTTP/1.1
				// connection for the handshake, whose origin the gateway
				// checks as ever.
				mark := log.Mark()
				var opened string
				js := fmt.Sprintf(`new Promise(r => { const w = new WebSocket("wss://b.app.localhost:%s/ws"); w.onopen = () => { r("open"); w.close() }; w.onerror = () => r("error") })`, port)
				if err := br.Eval(t.Context(), js, &opened); err != nil || opened != "open" {
					t.Fatalf("WebSocket: %q %v", opened, err)
				}
				ws, err := log.Wait(waitCtx(t), mark, func(x browser.Access) bool { return x.Path == "/ws" })
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("WebSocket handshake: %d %s on the connection of %s, identity %q", ws.Status, ws.Proto, ws.ServerName, ws.Identity)
				if ws.Status != http.StatusSwitchingProtocols || ws.Proto != "HTTP/1.1" || ws.Identity != "CN=bob" {
					t.Errorf("WebSocket handshake: got %+v, want 101 over HTTP/1.1 with bob's certificate", ws)
				}
			}
			// The gateway's metrics agree.
			m := metrics(t, "http://"+g.AdminAddr().String()+"/metrics")
			wantConns := map[bool]string{true: "2", false: "1"}[!tc.reuse]
			if got := m[`forgeproof_gateway_connections_total{listener="127.0.0.1:0",protocol="h2"}`]; got != wantConns {
				t.Errorf("h2 connections: got %q, want %s", got, wantConns)
			}
			want421 := map[bool]string{true: "1", false: ""}[tc.want421]
			if got := m[`forgeproof_gateway_requests_total{code="421",route=""}`]; got != want421 {
				t.Errorf("421s counted: got %q, want %q", got, want421)
			}
		})
	}
}

// metrics reads a Prometheus text page into name{labels} → value.
func metrics(t *testing.T, url string) map[string]string {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	out := map[string]string{}
	for l := range strings.SplitSeq(string(b), "\n") {
		if i := strings.LastIndexByte(l, ' '); i > 0 && !strings.HasPrefix(l, "#") {
			out[l[:i]] = l[i+1:]
		}
	}
	return out
}
