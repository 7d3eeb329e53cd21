package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// What a keep-alive connection remembers between its requests
// (authzmemo.go, setXForwardedConn, setForwardedHeaders) must never
// outlive what it was computed from. Each test sends several requests on
// one connection, so that the memo is warm, then changes one input and
// checks the next answer on the same connection: refused where it must
// be, and served (the allowed twin) where it may be.

// sendStatus is send with a check of the answer's status and reason,
// and that the request came on an open connection unless it is the
// client's first.
func sendStatus(t *testing.T, c *http.Client, url string, first bool, status int, reason string) {
	t.Helper()
	a := send(t, c, url)
	if a.err != nil || a.status != status || a.reason != reason || (!first && !a.reused) {
		t.Fatalf("GET %s: got status %d, reason %q, reused %v, error %v; want %d %q on the open connection", url, a.status, a.reason, a.reused, a.err, status, reason)
	}
}

// TestAuthorizationMemoRoutes: a connection's remembered authorization
// is one route's: alternating between a route that allows the client and
// one that does not, on one connection, gives each its own answer every
// time.
func TestAuthorizationMemoRoutes(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	web, admin := gw.client(w.web), gw.client(w.admin)
	for i := range 3 {
		sendStatus(t, web, gw.base+"/api/x", i == 0, http.StatusOK, "")
		sendStatus(t, web, gw.base+"/admin/x", false, http.StatusForbidden, "spiffe-id-denied")
		sendStatus(t, web, gw.base+"/public/x", false, http.StatusOK, "")
		sendStatus(t, admin, gw.base+"/admin/x", i == 0, http.StatusOK, "")
	}
}

// TestAuthorizationMemoReload: a reload that changes a route's allow
// list changes the answer on an open connection both ways: an allowed
// client is refused after a reload that drops it, and allowed again
// after one that restores it; a reload that changes nothing of the
// route keeps it served.
func TestAuthorizationMemoReload(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	gw := w.start(cfg)
	web := gw.client(w.web)
	allowed := cfg.Routes[0].Allow.SPIFFEIDs
	for i := range 3 {
		sendStatus(t, web, gw.base+"/api/x", i == 0, http.StatusOK, "")
	}
	reload := func(ids []string) {
		t.Helper()
		cfg.Routes[0].Allow.SPIFFEIDs = ids
		if err := gw.g.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	reload(allowed)
	sendStatus(t, web, gw.base+"/api/x", false, http.StatusOK, "")
	reload([]string{"spiffe://test.example/admin"})
	for range 2 {
		sendStatus(t, web, gw.base+"/api/x", false, http.StatusForbidden, "spiffe-id-denied")
	}
	reload(allowed)
	for range 2 {
		sendStatus(t, web, gw.base+"/api/x", false, http.StatusOK, "")
	}
}

// TestAuthorizationMemoRevoked: a client allowed on a warm connection is
// refused there once a reloaded CRL revokes it (the connection's
// certificate is checked again before the route's allow list is asked,
// remembered or not); another client's warm connection is served across
// the same reload.
func TestAuthorizationMemoRevoked(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("crl.pem", 1)}
	gw := w.start(cfg)
	web, admin := gw.client(w.web), gw.client(w.admin)
	for i := range 3 {
		sendStatus(t, web, gw.base+"/api/x", i == 0, http.StatusOK, "")
		sendStatus(t, admin, gw.base+"/api/x", i == 0, http.StatusOK, "")
	}
	w.crlNumbered("crl.pem", 2, w.web)
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "revoked web", send(t, web, gw.base+"/api/x"), "revoked")
	wantServed(t, "admin", send(t, admin, gw.base+"/api/x"))
}

// TestAuthorizationMemoForwarded: identities a trusted forwarder vouches
// for change from request to request on its one connection, and each is
// authorized on its own: the memo is for the connection's own identity
// only.
func TestAuthorizationMemoForwarded(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	lb := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/lb")
	cfg := w.config()
	cfg.TrustedForwarders = []gateway.Forwarder{{SPIFFEIDs: []string{"spiffe://test.example/lb"}, Header: new(forwarded.RFC9440)}}
	gw := w.start(cfg)
	c := gw.client(lb)
	for range 3 {
		for _, tt := range []struct {
			name       string
			header     string
			wantStatus int
			wantReason string
		}{
			{"admin", forwarded.FormatClientCert(w.admin.Cert), http.StatusOK, ""},
			{"web", forwarded.FormatClientCert(w.web.Cert), http.StatusForbidden, "spiffe-id-denied"},
		} {
			status, body := do(t, c, "GET", gw.base+"/admin/x", http.Header{"Accept": {"application/json"}, "Client-Cert": {tt.header}}, "")
			if status != tt.wantStatus || tt.wantReason != "" && !strings.Contains(body, `"reason":"`+tt.wantReason+`"`) {
				t.Fatalf("forwarded %s: got %d %s, want %d %q", tt.name, status, body, tt.wantStatus, tt.wantReason)
			}
		}
	}
}

// TestXForwardedPerConnection: the X-Forwarded-* values a connection's
// requests share follow each request's Host: alternating Host names on
// one connection, the upstream gets each request's own, and the same
// Host again gets the same values.
func TestXForwardedPerConnection(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gw := w.start(w.config())
	web := gw.client(w.web)
	for i := range 6 {
		host := []string{"a.example", "a.example", "b.example:8443"}[i%3]
		req, err := http.NewRequest("GET", gw.base+"/api/x", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Host = host
		resp, err := web.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("Host %s: got %d %s", host, resp.StatusCode, body)
		}
		seen := mustJSON(t, string(body))
		for name, want := range map[string]string{"X-Forwarded-Host": host, "X-Forwarded-Proto": "https", "X-Forwarded-For": "127.0.0.1"} {
			if got := strings.Join(seen.Header[name], ","); got != want {
				t.Errorf("request %d, Host %s: upstream got %s %q, want %q", i, host, name, got, want)
			}
		}
		if seen.Host != host {
			t.Errorf("request %d: upstream got Host %q, want %q", i, seen.Host, host)
		}
	}
}

// TestConnMemosHTTP2Concurrent: the requests of one HTTP/2 connection
// run at the same time and share its memos: concurrent streams that
// alternate between a route that allows the client and one that does
// not, and between two Host names (with the Host check off, so that both
// are served on one connection), each get their own answer and their own
// X-Forwarded-Host. Run with -race.
func TestConnMemosHTTP2Concurrent(t *testing.T) {
	t.Parallel()
	w, cfg := h2World(t)
	cfg.Listeners[0].HTTP2 = gateway.HTTP2InsecureOnWithoutCheckHost
	gw := w.start(cfg)
	cc := h2Conn(t, gw, "localhost", w.web)
	cases := []struct {
		host, path string
		status     int
		reason     string
	}{
		{"a.test", "/api/x", http.StatusOK, ""},
		{"b.test", "/admin/x", http.StatusForbidden, "spiffe-id-denied"},
		{"b.test", "/api/x", http.StatusOK, ""},
		{"a.test", "/admin/x", http.StatusForbidden, "spiffe-id-denied"},
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*12)
	for g := range 8 {
		wg.Go(func() {
			for i := range 12 {
				tt := cases[(g+i)%len(cases)]
				req, err := http.NewRequest("GET", "https://"+tt.host+tt.path, nil)
				if err != nil {
					errs <- err.Error()
					return
				}
				req.Header.Set("Accept", "application/json")
				resp, err := cc.RoundTrip(req)
				if err != nil {
					errs <- err.Error()
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode != tt.status:
					errs <- fmt.Sprintf("%s%s: got %d %s, want %d", tt.host, tt.path, resp.StatusCode, body, tt.status)
				case tt.reason != "" && !strings.Contains(string(body), `"reason":"`+tt.reason+`"`):
					errs <- fmt.Sprintf("%s%s: got %s, want reason %q", tt.host, tt.path, body, tt.reason)
				case tt.status == http.StatusOK:
					var seen seenRequest
					if err := json.Unmarshal(body, &seen); err != nil {
						errs <- err.Error()
					} else if got := strings.Join(seen.Header["X-Forwarded-Host"], ","); got != tt.host {
						errs <- fmt.Sprintf("%s%s: upstream got X-Forwarded-Host %q", tt.host, tt.path, got)
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
