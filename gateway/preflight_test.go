package gateway_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// corsUpstream answers every request, whatever its method, like a
// handler that serves OPTIONS with the code of another method would: the
// CORS headers, a secret header and a secret body. It remembers the
// headers of the last request.
type corsUpstream struct {
	*httptest.Server
	mu   sync.Mutex
	last http.Header
	n    int
}

func newCORSUpstream(t *testing.T) *corsUpstream {
	u := &corsUpstream{}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.last, u.n = r.Header.Clone(), u.n+1
		u.mu.Unlock()
		w.Header().Set("Access-Control-Allow-Origin", "https://app.example")
		w.Header().Set("Access-Control-Allow-Methods", "POST")
		w.Header().Set("Access-Control-Allow-Credentials", "true")
		w.Header().Set("Vary", "Origin")
		w.Header().Set("X-Account-Balance", "1000000")
		io.WriteString(w, "secret-body")
	}))
	t.Cleanup(u.Close)
	return u
}

func (u *corsUpstream) seen() (int, http.Header) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.n, u.last
}

// TestCORSPreflights: on a route with allow.cors-preflights, a genuine
// preflight passes without a certificate and reaches the upstream with
// no identity; every other request still needs one. The route without
// the option is the negative control (today's refusal), and the
// unauthenticated route shows what the trimming of the answer hides.
func TestCORSPreflights(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := newCORSUpstream(t)
	cfg := w.config()
	web := gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/web"}}
	withPreflights := web
	withPreflights.CORSPreflights = true
	cfg.Routes = []gateway.Route{
		{Name: "spa-api", PathPrefix: "/spa", Upstream: up.URL, Allow: withPreflights},
		{Name: "plain-api", PathPrefix: "/plain", Upstream: up.URL, Allow: web},
		{Name: "machines", PathPrefix: "/machines", Upstream: up.URL, Allow: web, Browsers: new(false)},
		{Name: "public", PathPrefix: "/public", Upstream: up.URL, Allow: gateway.Allow{Unauthenticated: true}},
	}
	gw := w.start(cfg)

	preflight := http.Header{
		"Origin":                         {"https://app.example"},
		"Access-Control-Request-Method":  {"POST"},
		"Access-Control-Request-Headers": {"content-type"},
		"Sec-Fetch-Mode":                 {"cors"},
		"Sec-Fetch-Site":                 {"cross-site"},
		"Accept":                         {"application/json"},
	}
	with := func(h http.Header, kv ...string) http.Header {
		h = h.Clone()
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == "" {
				h.Del(kv[i])
			} else {
				h.Set(kv[i], kv[i+1])
			}
		}
		return h
	}
	tests := []struct {
		name       string
		cert       *pki.Cert
		method     string
		path       string
		header     http.Header
		body       string
		wantStatus int
		wantReason string
		// wantTrimmed: the answer has the CORS headers but neither the
		// secret header nor the body.
		wantTrimmed bool
	}{
		{"preflight without certificate passes", nil, "OPTIONS", "/spa/transfers", preflight, "", 200, "", true},
		{"preflight with spoofed identity headers passes, stripped", nil, "OPTIONS", "/spa/transfers",
			with(preflight, "Client-Cert", ":MIIB:", "Forgeproof-Client-Identity", "spiffe://test.example/admin"), "", 200, "", true},
		{"preflight with a certificate forwards no identity", w.web, "OPTIONS", "/spa/transfers", preflight, "", 200, "", true},
		{"OPTIONS without Access-Control-Request-Method is refused", nil, "OPTIONS", "/spa/transfers",
			with(preflight, "Access-Control-Request-Method", ""), "", 403, "identity-missing", false},
		{"OPTIONS without Origin is refused", nil, "OPTIONS", "/spa/transfers", with(preflight, "Origin", ""), "", 403, "identity-missing", false},
		{"preflight-shaped OPTIONS with a body is refused", nil, "OPTIONS", "/spa/transfers", preflight, "amount=100", 403, "identity-missing", false},
		{"POST without certificate is refused", nil, "POST", "/spa/transfers", with(preflight, "Sec-Fetch-Mode", "", "Sec-Fetch-Site", ""), "{}", 403, "identity-missing", false},
		{"GET without certificate is refused", nil, "GET", "/spa/balance", http.Header{"Accept": {"application/json"}}, "", 403, "identity-missing", false},
		{"GET with certificate passes untrimmed", w.web, "GET", "/spa/balance", nil, "", 200, "", false},
		{"negative control: preflight on a route without the option", nil, "OPTIONS", "/plain/transfers", preflight, "", 403, "identity-missing", false},
		{"preflight on a route without browsers is refused", nil, "OPTIONS", "/machines/jobs", preflight, "", 403, "identity-missing", false},
		{"negative control: unauthenticated route answers in full", nil, "OPTIONS", "/public/x", preflight, "", 200, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := up.seen()
			req, err := http.NewRequest(tt.method, gw.base+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if tt.body == "" {
				req.Body = nil // no body, as browsers send preflights
			}
			for k, v := range tt.header {
				req.Header[k] = v
			}
			resp, err := gw.client(tt.cert).Do(req)
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
			n, seen := up.seen()
			if reached := n > before; reached != (tt.wantStatus == 200) {
				t.Fatalf("upstream reached: got %v, want %v", reached, tt.wantStatus == 200)
			}
			if tt.wantStatus != 200 {
				return
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
				t.Errorf("got Access-Control-Allow-Origin %q, want %q", got, "https://app.example")
			}
			secretGone := resp.Header.Get("X-Account-Balance") == "" && len(body) == 0
			if secretGone != tt.wantTrimmed {
				t.Errorf("answer trimmed: got %v, want %v (header %v, body %q)", secretGone, tt.wantTrimmed, resp.Header, body)
			}
			if tt.method != "OPTIONS" {
				// The twin: the same route forwards the identity of an
				// ordinary request.
				if got := seen.Get(gateway.HeaderClientIdentity); got != "spiffe://test.example/web" {
					t.Errorf("upstream got %s %q, want %q", gateway.HeaderClientIdentity, got, "spiffe://test.example/web")
				}
				return
			}
			if !tt.wantTrimmed {
				return
			}
			for _, h := range []string{"Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert", gateway.HeaderClientIdentity, gateway.HeaderCSRFToken} {
				if v := seen.Get(h); v != "" {
					t.Errorf("upstream got %s: %q, want none on a preflight", h, v)
				}
			}
			if got := seen.Get("Access-Control-Request-Method"); got != "POST" {
				t.Errorf("upstream got Access-Control-Request-Method %q, want %q", got, "POST")
			}
		})
	}
}

// TestAccessLogCORSPreflight: a preflight let through without identity is
// marked in the access log and names no identity, even on a connection
// with a certificate; the ordinary request on the same connection has
// its identity and no mark.
func TestAccessLogCORSPreflight(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Routes[0].Allow.CORSPreflights = true // api
	buf := &logBuffer{}
	g, err := gateway.New(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(buf, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := startHandler(t, w, g)
	c := srv.client(w.web)
	do(t, c, "OPTIONS", srv.base+"/api/x", http.Header{"Origin": {"https://app.example"}, "Access-Control-Request-Method": {"POST"}}, "")
	do(t, c, "GET", srv.base+"/api/x", nil, "")
	srv.close()

	var requests []map[string]any
	for _, l := range buf.lines(t) {
		if l["msg"] == "request" {
			requests = append(requests, l)
		}
	}
	if len(requests) != 2 {
		t.Fatalf("got %d request lines, want 2: %v", len(requests), requests)
	}
	tests := []struct {
		name          string
		line          map[string]any
		wantPreflight any
		wantIdentity  any
	}{
		{"preflight", requests[0], true, nil},
		{"GET", requests[1], nil, "spiffe://test.example/web"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.line["cors_preflight"]; got != tt.wantPreflight {
				t.Errorf("got cors_preflight %v, want %v", got, tt.wantPreflight)
			}
			if got := tt.line["identity"]; got != tt.wantIdentity {
				t.Errorf("got identity %v, want %v", got, tt.wantIdentity)
			}
			if tt.line["decision"] != "allow" || tt.line["status"] != float64(200) {
				t.Errorf("got %v, want decision allow, status 200", tt.line)
			}
		})
	}
}

// TestExchangePerKeepAliveRequest: each request on a keep-alive
// connection has an exchange of its own, carried in that request's own
// context (serveHTTP no longer copies the request to add it): a
// preflight's trimming never reaches the ordinary request after it on
// the same connection, nor that request's identity the next preflight.
func TestExchangePerKeepAliveRequest(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	up := newCORSUpstream(t)
	cfg := w.config()
	allow := gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/web"}, CORSPreflights: true}
	cfg.Routes = []gateway.Route{{Name: "spa-api", PathPrefix: "/spa", Upstream: up.URL, Allow: allow}}
	gw := w.start(cfg)
	c := gw.dialRaw(t, w.web)
	preflight := "OPTIONS /spa/transfers HTTP/1.1\r\nHost: localhost\r\nOrigin: https://app.example\r\n" +
		"Access-Control-Request-Method: POST\r\nSec-Fetch-Mode: cors\r\nSec-Fetch-Site: cross-site\r\n\r\n"
	get := "GET /spa/balance HTTP/1.1\r\nHost: localhost\r\nAccept: application/json\r\n\r\n"
	for round := range 3 {
		for _, isPreflight := range []bool{true, false, false, true} {
			raw := get
			if isPreflight {
				raw = preflight
			}
			c.send(raw)
			resp, body := c.read()
			if resp.StatusCode != http.StatusOK || resp.Close {
				t.Fatalf("round %d, preflight %v: got %s (close %v) %q, want 200 kept alive", round, isPreflight, resp.Status, resp.Close, body)
			}
			trimmed := resp.Header.Get("X-Account-Balance") == "" && body == ""
			if trimmed != isPreflight {
				t.Errorf("round %d, preflight %v: answer trimmed %v (header %v, body %q)", round, isPreflight, trimmed, resp.Header, body)
			}
			_, seen := up.seen()
			want := "spiffe://test.example/web"
			if isPreflight {
				want = ""
			}
			if got := seen.Get(gateway.HeaderClientIdentity); got != want {
				t.Errorf("round %d, preflight %v: upstream got identity %q, want %q", round, isPreflight, got, want)
			}
		}
	}
}
