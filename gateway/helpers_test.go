package gateway_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// world is the gateway tests' fixture: a PKI on disk (pkitest.Dir: ca.pem,
// server.pem, server-key.pem, crl.pem), an upstream on loopback and
// clients, for one test.
type world struct {
	t        testing.TB
	pki      *pkitest.Dir
	dir      string // pki.Path
	ca       *pki.CA
	upstream *upstream
	web      *pki.Cert // spiffe://test.example/web
	admin    *pki.Cert // spiffe://test.example/admin
}

func newWorld(t testing.TB) *world {
	t.Helper()
	d := pkitest.NewDir(t, nil)
	w := &world{t: t, pki: d, dir: d.Path, ca: d.CA}
	w.web = pkitest.SPIFFE(t, w.ca, "spiffe://test.example/web")
	w.admin = pkitest.SPIFFE(t, w.ca, "spiffe://test.example/admin")
	w.upstream = newUpstream(t)
	return w
}

func (w *world) path(name string) string { return filepath.Join(w.dir, name) }

// write replaces a file atomically (a new file renamed over the old), so
// that a watcher never reads it half-written, and returns its path.
func (w *world) write(name string, data []byte) string {
	w.t.Helper()
	return w.pki.Write(name, data)
}

// writeInPlace rewrites a file in place, as an operator's editor or a
// naive script does (truncate, then write).
func (w *world) writeInPlace(name string, data []byte) string {
	w.t.Helper()
	return w.pki.WriteInPlace(name, data)
}

// config is a gateway config with one verify-if-given listener and these
// routes: /api for web and admin, /admin for admin only, /public for
// anyone, /forms (token mode), /nocsrf (CSRF off: the negative control).
func (w *world) config() *gateway.Config {
	up := w.upstream.URL
	return &gateway.Config{
		Listeners: []gateway.Listener{{
			Address: "127.0.0.1:0",
			TLS: gateway.ListenerTLS{
				CertFile:      w.path("server.pem"),
				KeyFile:       w.path("server-key.pem"),
				ClientCAFiles: []string{w.path("ca.pem")},
				ClientAuth:    mtls.VerifyClientCertIfGiven,
			},
		}},
		Routes: []gateway.Route{
			{Name: "api", PathPrefix: "/api", Upstream: up, Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/web", "spiffe://test.example/admin"}}},
			{Name: "admin", PathPrefix: "/admin", Upstream: up, Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/admin"}}},
			{Name: "public", PathPrefix: "/public", Upstream: up, Allow: gateway.Allow{Unauthenticated: true}},
			{Name: "nocsrf", PathPrefix: "/nocsrf", Upstream: up, Allow: gateway.Allow{AnyVerified: true}, CSRF: gateway.RouteCSRF{InsecureOff: true}},
		},
		Admin:  gateway.Admin{Address: "127.0.0.1:0"},
		Limits: gateway.Limits{ShutdownGrace: 5 * time.Second},
	}
}

// start runs a gateway for cfg until the test ends.
func (w *world) start(cfg *gateway.Config) *running {
	w.t.Helper()
	return w.startWith(cfg, gateway.Options{})
}

// startWith is start with options.
func (w *world) startWith(cfg *gateway.Config, opts gateway.Options) *running {
	w.t.Helper()
	g, err := gateway.New(cfg, opts)
	if err != nil {
		w.t.Fatalf("New: %v", err)
	}
	return startHandler(w.t, w, g)
}

// startHandler runs g until the test ends or close is called.
func startHandler(t testing.TB, w *world, g *gateway.Gateway) *running {
	t.Helper()
	if err := g.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx) }()
	var once sync.Once
	stopAndWait := func() {
		once.Do(func() {
			cancel()
			done <- <-done // keep the result for whoever reads it next
		})
	}
	t.Cleanup(stopAndWait)
	r := &running{g: g, w: w, base: "https://" + g.Addrs()[0].String(), stop: cancel, done: done, close: stopAndWait}
	if a := g.AdminAddr(); a != nil {
		r.admin = "http://" + a.String()
	}
	return r
}

type running struct {
	g     *gateway.Gateway
	w     *world
	base  string
	admin string
	stop  context.CancelFunc // ends Serve's context: a graceful drain
	done  chan error         // Serve's result
	close func()             // stops and waits for Serve
	log   *logBuffer         // the gateway's JSON log, when the test keeps it
}

// client returns an HTTP client that trusts the test CA and presents
// cert (none when nil) whenever asked, with keep-alive.
func (r *running) client(cert *pki.Cert) *http.Client {
	cfg := &tls.Config{RootCAs: r.w.ca.Pool(), ServerName: "localhost"}
	if cert != nil {
		// Always send it, like curl does, whatever CA names the server
		// hints at: the server must do the refusing.
		tc := cert.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	tr := &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 64}
	r.w.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// do sends a request and returns the status and body.
func do(t testing.TB, c *http.Client, method, url string, header http.Header, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// upstream is a plain-HTTP service on loopback that answers with the
// request it received, as JSON, and remembers every request.
type upstream struct {
	*httptest.Server
	mu   sync.Mutex
	seen []seenRequest
	// sleeping receives a value when a ?sleep= request starts sleeping.
	sleeping chan struct{}
}

type seenRequest struct {
	Method string              `json:"method"`
	Path   string              `json:"path"`
	Host   string              `json:"host"`
	Header map[string][]string `json:"header"`
}

func newUpstream(t testing.TB) *upstream {
	u := &upstream{sleeping: make(chan struct{}, 100)}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if d := r.URL.Query().Get("sleep"); d != "" {
			dur, _ := time.ParseDuration(d)
			u.sleeping <- struct{}{}
			select {
			case <-time.After(dur):
			case <-r.Context().Done():
				return
			}
		}
		io.Copy(io.Discard, r.Body)
		if r.URL.Query().Has("quiet") {
			io.WriteString(w, "ok") // for benchmarks: same small answer for all
			return
		}
		s := seenRequest{Method: r.Method, Path: r.URL.Path, Host: r.Host, Header: r.Header}
		u.mu.Lock()
		u.seen = append(u.seen, s)
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(s)
	}))
	t.Cleanup(u.Close)
	return u
}

// count returns how many requests reached the upstream.
func (u *upstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.seen)
}

// crl writes a CRL revoking serials to name.
func (w *world) crl(name string, serials ...*big.Int) string {
	w.t.Helper()
	der, err := w.ca.Revoke(nil, serials...)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.write(name, pki.EncodeCRLPEM(der))
}

func mustJSON(t testing.TB, s string) seenRequest {
	t.Helper()
	var r seenRequest
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		t.Fatalf("upstream answer %q: %v", s, err)
	}
	return r
}

func chmod(t testing.TB, path string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

func serverOptions() pki.ServerOptions { return pki.ServerOptions{DNSNames: []string{"localhost"}} }

// clock is a clock a test moves (gateway.Options.Time), safe for
// concurrent use.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
