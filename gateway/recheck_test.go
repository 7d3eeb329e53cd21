package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// answer is what one request on a keep-alive client got.
type answer struct {
	status int
	reason string // the problem body's reason code, if any
	reused bool   // sent on a connection opened before
	closed bool   // the response says Connection: close
	err    error  // the request failed (a refused handshake)
}

// send sends GET url with c and says whether it reused a connection.
func send(t *testing.T, c *http.Client, url string) answer {
	t.Helper()
	var a answer
	trace := &httptrace.ClientTrace{GotConn: func(info httptrace.GotConnInfo) { a.reused = info.Reused }}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
	req.Header.Set("Accept", "application/problem+json")
	resp, err := c.Do(req)
	if err != nil {
		a.err = err
		return a
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	a.status, a.closed = resp.StatusCode, resp.Close
	var p struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(body, &p) == nil {
		a.reason = p.Reason
	}
	return a
}

// wantServed checks that a was served 200 on a reused connection.
func wantServed(t *testing.T, who string, a answer) {
	t.Helper()
	if a.err != nil || a.status != http.StatusOK || !a.reused || a.closed {
		t.Errorf("%s: got status %d, reused %v, closed %v, error %v; want 200 on the open connection", who, a.status, a.reused, a.closed, a.err)
	}
}

// wantRefused checks that a was refused on its reused connection with
// reason, and the connection closed.
func wantRefused(t *testing.T, who string, a answer, reason string) {
	t.Helper()
	if a.err != nil || a.status != http.StatusForbidden || a.reason != reason || !a.reused || !a.closed {
		t.Errorf("%s: got status %d, reason %q, reused %v, closed %v, error %v; want 403 %q on the open connection, closed", who, a.status, a.reason, a.reused, a.closed, a.err, reason)
	}
}

// TestRecheckRevokedByReload: a CRL that a reload brings in refuses the
// revoked client's next request on its open keep-alive connection (403
// revoked, Connection: close), and its new handshake; another client's
// open connection keeps working across the same reload without a new
// handshake. Before the re-check existed the revoked client got 200 on
// its open connection (the negative control shows it again).
func TestRecheckRevokedByReload(t *testing.T) {
	for _, recheck := range []bool{true, false} {
		name := "recheck"
		if !recheck {
			name = "negative control: recheck off"
		}
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			cfg := w.config()
			cfg.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("crl.pem", 1)}
			gw := w.start(cfg)
			gateway.SetRecheck(gw.g, recheck)
			web, admin := gw.client(w.web), gw.client(w.admin)
			if a := send(t, web, gw.base+"/api/x"); a.status != http.StatusOK {
				t.Fatalf("web before the reload: got %d, want 200", a.status)
			}
			if a := send(t, admin, gw.base+"/api/x"); a.status != http.StatusOK {
				t.Fatalf("admin before the reload: got %d, want 200", a.status)
			}

			w.crlNumbered("crl.pem", 2, w.web)
			if err := gw.g.Reload(cfg); err != nil {
				t.Fatal(err)
			}
			if !recheck {
				wantServed(t, "revoked web, recheck off", send(t, web, gw.base+"/api/x"))
				return
			}
			wantRefused(t, "revoked web", send(t, web, gw.base+"/api/x"), "revoked")
			if a := send(t, web, gw.base+"/api/x"); a.err == nil || a.reused {
				t.Errorf("revoked web on a new connection: got status %d, reused %v; want a refused handshake", a.status, a.reused)
			}
			wantServed(t, "admin", send(t, admin, gw.base+"/api/x"))
			wantServed(t, "admin again", send(t, admin, gw.base+"/public/x"))

			_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
			// One on the open connection, one at the new handshake.
			want := `forgeproof_gateway_tls_handshake_failures_total{listener="127.0.0.1:0",reason="revoked"} 2`
			if !strings.Contains(metrics, want) {
				t.Errorf("metrics lack %s", want)
			}
		})
	}
}

// TestRecheckCARemovedByReload: a reload that drops a client CA refuses
// the open connection of a client it issued (unknown-authority); a client
// of the CA that stays keeps its connection.
func TestRecheckCARemovedByReload(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	other := pkitest.CA(t)
	w.write("other-ca.pem", pki.EncodeCertsPEM(other.Cert))
	stranger := pkitest.SPIFFE(t, other, "spiffe://test.example/web")
	cfg := w.config()
	cfg.Listeners[0].TLS.ClientCAFiles = append(cfg.Listeners[0].TLS.ClientCAFiles, w.path("other-ca.pem"))
	gw := w.start(cfg)
	c, web := gw.client(stranger), gw.client(w.web)
	for who, cl := range map[string]*http.Client{"other CA's client": c, "web": web} {
		if a := send(t, cl, gw.base+"/api/x"); a.status != http.StatusOK {
			t.Fatalf("%s before the reload: got %d, want 200", who, a.status)
		}
	}
	cfg.Listeners[0].TLS.ClientCAFiles = cfg.Listeners[0].TLS.ClientCAFiles[:1]
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "other CA's client", send(t, c, gw.base+"/public/x"), "unknown-authority")
	wantServed(t, "web", send(t, web, gw.base+"/api/x"))
}

// TestRecheckAuthorizationWithdrawn: a reload that takes a client off a
// route's allow list refuses its next request on the open connection
// (routes authorize every request); the connection stays open for the
// routes it may still call, since its certificate is still good.
func TestRecheckAuthorizationWithdrawn(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	gw := w.start(cfg)
	web := gw.client(w.web)
	if a := send(t, web, gw.base+"/api/x"); a.status != http.StatusOK {
		t.Fatalf("before the reload: got %d, want 200", a.status)
	}
	cfg.Routes[0].Allow.SPIFFEIDs = []string{"spiffe://test.example/admin"}
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	a := send(t, web, gw.base+"/api/x")
	if a.status != http.StatusForbidden || a.reason != "spiffe-id-denied" || !a.reused || a.closed {
		t.Errorf("withdrawn: got status %d, reason %q, reused %v, closed %v; want 403 spiffe-id-denied on the open connection, kept open", a.status, a.reason, a.reused, a.closed)
	}
	wantServed(t, "public route", send(t, web, gw.base+"/public/x"))
}

// TestRecheckExpiredWhileConnected: a certificate that expires while its
// connection stays open is served before its NotAfter and refused
// (expired) after it, with no reload in between.
func TestRecheckExpiredWhileConnected(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	clk := newClock()
	gw := w.startWith(w.config(), gateway.Options{Time: clk.Now})
	notAfter := clk.Now().Add(time.Hour)
	short := pkitest.Client(t, w.ca, pki.ClientOptions{SPIFFEID: "spiffe://test.example/web", NotAfter: notAfter})
	long := gw.client(w.web)
	c := gw.client(short)
	if a := send(t, c, gw.base+"/api/x"); a.status != http.StatusOK {
		t.Fatalf("before expiry: got %d, %v, want 200", a.status, a.err)
	}
	if a := send(t, long, gw.base+"/api/x"); a.status != http.StatusOK {
		t.Fatalf("long-lived before: got %d, %v, want 200", a.status, a.err)
	}
	wantServed(t, "before expiry", send(t, c, gw.base+"/api/x"))
	clk.Advance(time.Hour + time.Minute)
	wantRefused(t, "after expiry", send(t, c, gw.base+"/api/x"), "expired")
	wantServed(t, "long-lived after", send(t, long, gw.base+"/api/x"))
}

// TestRecheckForwarderRevoked: a trusted forwarder's own certificate is
// its connection's certificate: revoked by a reload, its open connection
// is refused like any other.
func TestRecheckForwarderRevoked(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("crl.pem", 1)}
	cfg.TrustedForwarders = []gateway.Forwarder{{SPIFFEIDs: []string{"spiffe://test.example/admin"}, Header: new(forwarded.RFC9440)}}
	gw := w.start(cfg)
	fwd := gw.client(w.admin)
	if a := send(t, fwd, gw.base+"/public/x"); a.status != http.StatusOK {
		t.Fatalf("before the reload: got %d, %v, want 200", a.status, a.err)
	}
	w.crlNumbered("crl.pem", 2, w.admin)
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "revoked forwarder", send(t, fwd, gw.base+"/public/x"), "revoked")
}

// TestRecheckNoCertificate: a connection without a certificate on a
// verify-if-given listener has nothing to re-check and keeps working
// across a reload.
func TestRecheckNoCertificate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	gw := w.start(cfg)
	anon := gw.client(nil)
	if a := send(t, anon, gw.base+"/public/x"); a.status != http.StatusOK {
		t.Fatalf("before the reload: got %d, %v, want 200", a.status, a.err)
	}
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	wantServed(t, "anonymous", send(t, anon, gw.base+"/public/x"))
}
