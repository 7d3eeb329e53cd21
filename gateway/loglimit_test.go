package gateway_test

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestHandshakeFloodLogLimited: a client that loops refused handshakes
// gets the first gateway.LogBurst of their kind (message, listener,
// reason) in an interval logged in full, then one line with the exact
// count left out; the metric counts every one. A single refusal of
// another kind is logged at once, with its certificate, during the flood
// (the allowed twin), and the count of a flood cut off by shutdown is
// logged too. The negative control, with the limit off, logs a line per
// handshake. Time is the gateway's injected clock: no sleeps. Before, a
// line per handshake: about 400 a second from one client (2,500 for
// failed negotiations).
func TestHandshakeFloodLogLimited(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	stranger := pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://test.example/web").TLSCertificate()
	const flood = 50
	for _, limited := range []bool{true, false} {
		t.Run(fmt.Sprintf("limited=%v", limited), func(t *testing.T) {
			t.Parallel()
			cfg := w.config()
			cfg.Listeners[0].TLS.ClientAuth = mtls.RequireClientCert
			clock := newClock()
			logs := &logBuffer{}
			g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil)), Time: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			gateway.SetLogLimit(g, limited)
			gw := startHandler(t, w, g)
			addr := strings.TrimPrefix(gw.base, "https://")
			refused := func(cert *tls.Certificate) {
				t.Helper()
				c, err := net.Dial("tcp", addr)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
				cfg := &tls.Config{RootCAs: w.ca.Pool(), ServerName: "localhost"}
				if cert != nil { // sent even though no CA of the listener issued it
					cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
				}
				tc := tls.Client(c, cfg)
				// TLS 1.3 refuses after the client's Finished: read
				// until the gateway closes.
				err = tc.Handshake()
				if err == nil {
					_, err = tc.Read(make([]byte, 1))
				}
				if err == nil {
					t.Fatal("handshake not refused")
				}
			}
			lines := func(reason string) (n int, summaries []map[string]any) {
				for _, l := range logs.lines(t) {
					switch {
					case l["msg"] == "TLS handshake refused" && l["reason"] == reason:
						n++
					case l["msg"] == "log lines suppressed" && l["reason"] == reason:
						summaries = append(summaries, l)
					}
				}
				return n, summaries
			}
			counted := func(reason string, want int) {
				t.Helper()
				prefix := fmt.Sprintf(`forgeproof_gateway_tls_handshake_failures_total{listener="127.0.0.1:0",reason=%q}`, reason)
				eventually(t, fmt.Sprintf("%d %s counted", want, reason), func() (bool, string) {
					got := metricValue(t, gw, prefix)
					return got == float64(want), fmt.Sprint(got)
				})
			}

			for range flood {
				refused(nil)
			}
			counted("no-certificate", flood)
			wantLines := flood
			if limited {
				wantLines = gateway.LogBurst
			}
			if n, s := lines("no-certificate"); n != wantLines || len(s) != 0 {
				t.Errorf("after %d refusals: %d lines and summaries %v, want %d lines and none yet", flood, n, s, wantLines)
			}

			// The allowed twin: another kind is logged at once, in full.
			refused(&stranger)
			counted("unknown-authority", 1)
			var twin map[string]any
			for _, l := range logs.lines(t) {
				if l["reason"] == "unknown-authority" {
					twin = l
				}
			}
			if twin == nil || twin["subject"] != stranger.Leaf.Subject.String() || twin["peer"] == "" || twin["serial"] == "" {
				t.Errorf("a single refusal during the flood: got %v, want its line with subject, serial and peer", twin)
			}

			// The next interval: the count left out, then the line.
			clock.Advance(gateway.LogInterval)
			refused(nil)
			counted("no-certificate", flood+1)
			n, s := lines("no-certificate")
			if !limited {
				if n != flood+1 || len(s) != 0 {
					t.Errorf("negative control: %d lines and summaries %v, want %d lines and none", n, s, flood+1)
				}
				return
			}
			if n != gateway.LogBurst+1 || len(s) != 1 || s[0]["suppressed"] != float64(flood-gateway.LogBurst) ||
				s[0]["suppressed_msg"] != "TLS handshake refused" || s[0]["listener"] != "127.0.0.1:0" || s[0]["level"] != "WARN" {
				t.Fatalf("next interval: %d lines and summaries %v, want %d lines and one summary of %d", n, s, gateway.LogBurst+1, flood-gateway.LogBurst)
			}

			// A flood cut off by shutdown: its count is logged then.
			for range gateway.LogBurst + 5 {
				refused(nil)
			}
			counted("no-certificate", flood+1+gateway.LogBurst+5)
			gw.close()
			n, s = lines("no-certificate")
			if n != 2*gateway.LogBurst || len(s) != 2 || s[1]["suppressed"] != float64(6) {
				t.Errorf("at shutdown: %d lines and summaries %v, want %d lines and a second summary of 6", n, s, 2*gateway.LogBurst)
			}
		})
	}
}

// TestProxyProtocolFloodLogLimited: connections from a peer that is not a
// trusted balancer, which anyone who reaches the port can open, are
// logged under the same limit as handshakes; the metric counts each.
// The negative control, with the limit off, logs a line per connection.
func TestProxyProtocolFloodLogLimited(t *testing.T) {
	t.Parallel()
	const flood = 30
	for _, limited := range []bool{true, false} {
		t.Run(fmt.Sprintf("limited=%v", limited), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			cfg := w.config()
			cfg.Listeners[0].ProxyProtocol = &gateway.ProxyProtocol{Trusted: []string{"192.0.2.0/24"}}
			buf := &logBuffer{}
			clock := newClock() // stands still: one interval, however slow the machine
			g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil)), Time: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			gateway.SetLogLimit(g, limited)
			gw := startHandler(t, w, g)
			for range flood {
				c, err := net.Dial("tcp", strings.TrimPrefix(gw.base, "https://"))
				if err != nil {
					t.Fatal(err)
				}
				c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
				c.Read(make([]byte, 1))                    // until the refusal closes it
				c.Close()
			}
			const prefix = `forgeproof_gateway_proxy_protocol_refusals_total{listener="127.0.0.1:0",reason="proxy-untrusted-peer"}`
			eventually(t, "every refusal counted", func() (bool, string) {
				got := metricValue(t, gw, prefix)
				return got == flood, fmt.Sprint(got)
			})
			gw.close() // logs the count left out
			want, wantLeftOut := flood, 0
			if limited {
				want, wantLeftOut = gateway.LogBurst, flood-gateway.LogBurst
			}
			leftOut := 0
			for _, l := range buf.lines(t) {
				if l["msg"] == "log lines suppressed" && l["suppressed_msg"] == "connection refused: PROXY protocol" && l["reason"] == "proxy-untrusted-peer" {
					leftOut += int(l["suppressed"].(float64))
				}
			}
			if got := len(refusals(t, buf)); got != want || leftOut != wantLeftOut {
				t.Errorf("%d connections: %d lines, %d left out; want %d and %d", flood, got, leftOut, want, wantLeftOut)
			}
		})
	}
}
