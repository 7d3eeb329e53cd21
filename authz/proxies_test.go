package authz_test

// Real proxies in front of "forgeproof authz": nginx (auth_request) and
// Caddy (forward_auth) terminate mTLS on loopback and ask the decision
// service, configured with the files of docs/integrations/ (read from
// the Markdown pages; only paths, ports and the host name are replaced).
// The proxies are Debian's nginx-light and caddy, which .ci/run
// installs; without them the tests skip, except under CI.

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/internal/mdtest"
	"github.com/forgeproof/forgeproof/internal/proctest"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// needBinary returns the path of a proxy binary, skipping the test when
// it is missing outside CI.
func needBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" || os.Getenv("FORGEPROOF_E2E") == "require" {
			t.Fatalf("%s is not installed (.ci/run installs it): %v", name, err)
		}
		t.Skipf("%s is not installed", name)
	}
	return p
}

func freePort(t *testing.T) string {
	t.Helper()
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port)
}

// recorder is the upstream: it answers 200 and remembers the headers of
// every request it receives.
type recorder struct {
	*httptest.Server
	mu    sync.Mutex
	seen  []http.Header
	lines []string // "METHOD /path" of each
}

// countOf is how many requests "METHOD /path" the upstream received.
func (r *recorder) countOf(line string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range r.lines {
		if l == line {
			n++
		}
	}
	return n
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		h := r.Header.Clone()
		h.Set("X-Test-Body", string(body)) // what arrived, for the tests
		rec.seen = append(rec.seen, h)
		rec.lines = append(rec.lines, r.Method+" "+r.URL.Path)
		rec.mu.Unlock()
		if r.Method == "GET" && strings.HasSuffix(r.URL.Path, "/form") {
			// The service's own page: a form that posts to it.
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, `<!doctype html><title>transfer</title>
<form id="f" method="POST" action="/api/transfer"><input name="to" value="bob"><input name="amount" value="1"></form>
<script>document.getElementById("f").submit()</script>`)
			return
		}
		io.WriteString(w, "upstream ok")
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.seen)
}

func (r *recorder) last() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.seen[len(r.seen)-1]
}

// rig is a proxy in front of forgeproof authz and an upstream.
type rig struct {
	t        *testing.T
	pki      *pkitest.Dir
	up       *recorder
	authz    string // the decision service's address
	base     string // https://localhost:PORT, the proxy
	client   *pki.Cert
	revoked  *pki.Cert
	stranger *pki.Cert // of another CA
	// upstream is the address the proxy forwards to; "" is up's.
	upstream string
	// upgradesUnseen says why the proxy's question never carries a
	// non-WebSocket Upgrade, which checkNotForwarded then skips (a
	// limit its page documents); "" for proxies that send it.
	upgradesUnseen string
}

// upstreamAddr is the address the proxy forwards to.
func (r *rig) upstreamAddr() string {
	if r.upstream != "" {
		return r.upstream
	}
	return strings.TrimPrefix(r.up.URL, "http://")
}

func newRig(t *testing.T) *rig { return newRigCA(t, nil) }

// newRigCA is newRig with a CA of the test's (nil: a new one).
func newRigCA(t *testing.T, ca *pki.CA) *rig {
	d := pkitest.NewDir(t, ca)
	r := &rig{t: t, pki: d, up: newRecorder(t), authz: freePort(t)}
	r.client = pkitest.SPIFFE(t, d.CA, "spiffe://bank.test/teller")
	r.revoked = pkitest.SPIFFE(t, d.CA, "spiffe://bank.test/former")
	d.Revoke(r.revoked.Cert.SerialNumber)
	r.stranger = pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://bank.test/teller")
	return r
}

// startAuthz runs forgeproof authz in this process with the config of
// the doc page, as "forgeproof authz --config" builds it; edits are more
// fill pairs.
func (r *rig) startAuthz(page string, edits ...string) {
	t := r.t
	cfg := mdtest.Fill(t, mdtest.OneBlock(t, page, "yaml"), edits...)
	cfg = mdtest.Fill(t, cfg,
		"127.0.0.1:9191", r.authz,
		"/etc/forgeproof/", r.pki.Path+"/",
		"127.0.0.1:9090", "off")
	serveConfig(t, r.pki.Path, cfg)
}

// run starts a proxy process and waits until addr accepts connections.
func run(t *testing.T, addr string, name string, args ...string) {
	t.Helper()
	proctest.Start(t, addr, exec.Command(name, args...))
}

// startNginx runs nginx with the docs' server block; without auth, the
// auth_request lines are removed (the negative control); edits are more
// fill pairs.
func (r *rig) startNginx(withAuth bool, edits ...string) {
	t := r.t
	bin := needBinary(t, "nginx")
	addr := freePort(t)
	server := mdtest.Fill(t, nginxBlocks(t, "../docs/integrations/nginx.md"),
		"listen 443 ssl;", "listen "+addr+" ssl;",
		"bank.example.com", "localhost",
		"/etc/forgeproof/", r.pki.Path+"/",
		"127.0.0.1:9191", r.authz,
		"127.0.0.1:8080", r.upstreamAddr())
	if !withAuth {
		server = mdtest.Fill(t, server, "auth_request /_forgeproof;", "", "error_page 403 = @forgeproof_refused;", "")
	}
	server = mdtest.Fill(t, server, edits...)
	dir := t.TempDir()
	conf := proctest.NginxConf(dir, server)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, addr, bin, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	r.base = "https://localhost:" + addr[strings.LastIndexByte(addr, ':')+1:]
}

// nginxBlocks is the page's nginx configuration: its nginx blocks in
// order (the http block's maps, then the server block), all of which go
// in nginx's http context.
func nginxBlocks(t *testing.T, page string) string {
	t.Helper()
	b, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	for _, blk := range mdtest.Blocks(string(b)) {
		if blk.Lang == "nginx" {
			blocks = append(blocks, blk.Text())
		}
	}
	if len(blocks) != 2 {
		t.Fatalf("%s: %d nginx blocks, want the http block's and the server block", page, len(blocks))
	}
	return strings.Join(blocks, "\n")
}

// tlsConfig is a client's TLS configuration for the proxy, presenting
// cert (none when nil).
func (r *rig) tlsConfig(cert *pki.Cert) *tls.Config {
	cfg := &tls.Config{RootCAs: r.pki.CA.Pool(), ServerName: "localhost"}
	cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
		if cert == nil {
			return &tls.Certificate{}, nil
		}
		c := cert.TLSCertificate()
		return &c, nil
	}
	return cfg
}

// httpClient talks to the proxy over TLS, presenting cert (none when
// nil).
func (r *rig) httpClient(cert *pki.Cert) *http.Client {
	tr := &http.Transport{TLSClientConfig: r.tlsConfig(cert)}
	r.t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type answer struct {
	status int
	reason string
	body   string
}

func (r *rig) send(cert *pki.Cert, method, path string, hdr http.Header, body string) answer {
	r.t.Helper()
	req, err := http.NewRequest(method, r.base+path, strings.NewReader(body))
	if err != nil {
		r.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := r.httpClient(cert).Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var p struct{ Reason string }
	json.Unmarshal(b, &p)
	return answer{resp.StatusCode, p.Reason, string(b)}
}

func hdr(kv ...string) http.Header {
	h := http.Header{"Accept": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// forgeryCases are the requests every proxy must decide as serve does:
// each refused one has its allowed twin right before it.
func (r *rig) checkForgeries() {
	t := r.t
	self := r.base
	form := "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name   string
		cert   *pki.Cert
		method string
		path   string
		h      http.Header
		body   string
		status int
		reason string
	}{
		{"service client", r.client, "POST", "/api/pay", hdr("Content-Type", "application/json"), `{"amount":1}`, 200, ""},
		{"same-origin form POST", r.client, "POST", "/api/pay", hdr("Sec-Fetch-Site", "same-origin", "Origin", self, "Content-Type", form), "amount=1", 200, ""},
		{"cross-site form POST", r.client, "POST", "/api/pay", hdr("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test", "Content-Type", form), "amount=1000", 403, "cross-site"},
		{"text/plain JSON forgery", r.client, "POST", "/api/pay", hdr("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test", "Content-Type", "text/plain"), `{"amount":1000,"x":"="}`, 403, "cross-site"},
		{"Origin null", r.client, "POST", "/api/pay", hdr("Origin", "null", "Content-Type", form), "amount=1000", 403, "origin-null"},
		{"legacy same-origin (Referer only)", r.client, "POST", "/api/pay", hdr("Referer", self+"/form", "Content-Type", form), "amount=1", 200, ""},
		{"legacy cross-origin (Referer only)", r.client, "POST", "/api/pay", hdr("Referer", "https://evil.test/page", "Content-Type", form), "amount=1000", 403, "referer-mismatch"},
		{"legacy same-origin (Origin only)", r.client, "POST", "/api/pay", hdr("Origin", self, "Content-Type", form), "amount=1", 200, ""},
		{"legacy cross-origin (Origin only)", r.client, "POST", "/api/pay", hdr("Origin", "https://evil.test", "Content-Type", form), "amount=1000", 403, "origin-mismatch"},
		{"cross-site with neither Origin nor Referer", r.client, "POST", "/api/pay", hdr("Sec-Fetch-Site", "cross-site", "Content-Type", form), "amount=1000", 403, "cross-site"},
		{"user navigation (Sec-Fetch-Site none)", r.client, "POST", "/api/pay", hdr("Sec-Fetch-Site", "none", "Content-Type", form), "amount=1", 200, ""},
		{"certificate of this CA", r.client, "GET", "/api/balance", hdr(), "", 200, ""},
		{"revoked certificate", r.revoked, "GET", "/api/balance", hdr(), "", 403, "revoked"},
		{"certificate of another CA", r.stranger, "GET", "/api/balance", hdr(), "", 403, "unknown-authority"},
		{"no certificate, public route", nil, "GET", "/public/rates", hdr(), "", 200, ""},
		{"no certificate, private route", nil, "GET", "/api/balance", hdr(), "", 403, "identity-missing"},
		{"cross-site POST described as a GET by the client", r.client, "POST", "/api/pay", hdr("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test", "Content-Type", form,
			"X-Forwarded-Method", "GET", "X-Forwarded-Uri", "/public/rates", "X-Forwarded-Host", "evil.test", "X-Forwarded-Proto", "http"), "amount=1000", 403, "cross-site"},
		{"same-origin WebSocket handshake", r.client, "GET", "/api/ws", hdr("Connection", "Upgrade", "Upgrade", "websocket", "Sec-Websocket-Version", "13", "Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Origin", self, "Sec-Fetch-Site", "same-origin"), "", 200, ""},
		{"cross-site WebSocket handshake", r.client, "GET", "/api/ws", hdr("Connection", "Upgrade", "Upgrade", "websocket", "Sec-Websocket-Version", "13", "Sec-Websocket-Key", "dGhlIHNhbXBsZSBub25jZQ==", "Origin", "https://evil.test", "Sec-Fetch-Site", "cross-site"), "", 403, "cross-site"},
		{"ambiguous path (serve's 400)", r.client, "GET", "/public/..;/api/balance", hdr(), "", 400, "path-ambiguous"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := r.up.count()
			got := r.send(tc.cert, tc.method, tc.path, tc.h, tc.body)
			if got.status != tc.status || got.reason != tc.reason {
				t.Fatalf("got %d %q (%q), want %d %q", got.status, got.reason, got.body, tc.status, tc.reason)
			}
			reached := r.up.count() - before
			if tc.status == 200 && reached != 1 {
				t.Fatalf("allowed, but the upstream received %d requests", reached)
			}
			if tc.status == 200 && r.up.last().Get("X-Test-Body") != tc.body {
				t.Fatalf("allowed, but the upstream received the body %q, want %q", r.up.last().Get("X-Test-Body"), tc.body)
			}
			if tc.status != 200 && reached != 0 {
				t.Fatalf("refused, but the upstream received %d requests", reached)
			}
		})
	}
}

// checkSpoofedIdentity: identity headers a client sends never reach the
// upstream as identity, with or without a certificate of its own; and a
// certificate passed in the proxy's own question header by the client is
// not believed.
func (r *rig) checkSpoofedIdentity() {
	t := r.t
	other := pkitest.SPIFFE(t, r.pki.CA, "spiffe://bank.test/admin")
	otherPEM := string(pki.EncodeCertsPEM(other.Cert))
	spoof := hdr(
		"Client-Cert", ":"+strings.TrimSpace(pemBody(otherPEM))+":",
		"X-Forwarded-Client-Cert", "By=spiffe://bank.test/app;URI=spiffe://bank.test/admin",
		"X-Forwarded-Tls-Client-Cert", url.QueryEscape(otherPEM),
		"Forgeproof-Client-Identity", "spiffe://bank.test/admin",
	)
	// Other products' identity headers (X-Ssl-Client-Cert, …): checkNotForwarded.
	identityHeaders := []string{"Client-Cert", "X-Forwarded-Client-Cert", "X-Forwarded-Tls-Client-Cert", "Forgeproof-Client-Identity"}

	t.Run("spoofed identity without a certificate, private route", func(t *testing.T) {
		before := r.up.count()
		if got := r.send(nil, "GET", "/api/balance", spoof, ""); got.status != 403 || got.reason != "identity-missing" {
			t.Fatalf("got %d %q, want 403 identity-missing: a client-sent certificate header was believed", got.status, got.reason)
		}
		if r.up.count() != before {
			t.Fatal("the upstream received the refused request")
		}
	})
	t.Run("spoofed identity without a certificate, public route", func(t *testing.T) {
		if got := r.send(nil, "GET", "/public/rates", spoof, ""); got.status != 200 {
			t.Fatalf("got %d %q, want 200", got.status, got.body)
		}
		for _, name := range identityHeaders {
			// Caddy 2.6 copies unset answer headers as empty ones.
			if v := r.up.last().Values(name); len(v) > 0 && !(len(v) == 1 && v[0] == "") {
				t.Errorf("the upstream received the client's %s: %q", name, v)
			}
		}
	})
	t.Run("spoofed identity with a certificate", func(t *testing.T) {
		if got := r.send(r.client, "GET", "/api/balance", spoof, ""); got.status != 200 {
			t.Fatalf("got %d %q, want 200", got.status, got.body)
		}
		up := r.up.last()
		want := ":" + pemBody(string(pki.EncodeCertsPEM(r.client.Cert))) + ":"
		if got := up.Get("Client-Cert"); got != want {
			t.Errorf("Client-Cert upstream: got %q, want the client's own certificate %q", got, want)
		}
		if got := up.Get("Forgeproof-Client-Identity"); got != "spiffe://bank.test/teller" {
			t.Errorf("Forgeproof-Client-Identity upstream: got %q", got)
		}
		for _, name := range []string{"X-Forwarded-Client-Cert", "X-Forwarded-Tls-Client-Cert"} {
			if v := up.Values(name); len(v) > 0 && !(len(v) == 1 && v[0] == "") {
				t.Errorf("the upstream received the client's %s: %q", name, v)
			}
		}
	})
}

// pemBody is the base64 of a one-certificate PEM, without lines.
func pemBody(p string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(p, "\n") {
		if !strings.HasPrefix(line, "-----") {
			b.WriteString(strings.TrimSpace(line))
		}
	}
	return b.String()
}

// checkCallers: the decision service answers the proxy's address only.
// A question from 127.0.0.2 (another loopback address) claiming a
// certificate is refused; the same question from 127.0.0.1 is answered.
func (r *rig) checkCallers(path string) {
	t := r.t
	ask := func(local string) int {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
		c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
		defer c.CloseIdleConnections()
		req, _ := http.NewRequest("GET", "http://"+r.authz+path, nil)
		req.Header.Set("X-Forwarded-Method", "POST")
		req.Header.Set("X-Forwarded-Uri", "/api/pay")
		req.Header.Set("X-Forwarded-Host", "localhost")
		req.Header.Set("X-Forwarded-Proto", "https")
		req.Header.Set("X-Forwarded-Tls-Client-Cert", url.QueryEscape(string(pki.EncodeCertsPEM(r.client.Cert))))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 && resp.Header.Get(authz.HeaderReason) != "caller-untrusted" {
			t.Errorf("from %s: reason %q, want caller-untrusted", local, resp.Header.Get(authz.HeaderReason))
		}
		return resp.StatusCode
	}
	t.Run("caller not the proxy", func(t *testing.T) {
		if got := ask("127.0.0.2"); got != 403 {
			t.Fatalf("from 127.0.0.2: got %d, want 403", got)
		}
	})
	t.Run("caller the proxy's address", func(t *testing.T) {
		if got := ask("127.0.0.1"); got != 200 {
			t.Fatalf("from 127.0.0.1: got %d, want 200", got)
		}
	})
}

func TestNginx(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	r.startNginx(true)
	r.checkForgeries()
	r.checkSpoofedIdentity()
	r.checkNotForwarded()
	r.checkForwardingHeaders()
	r.checkCallers("/nginx")
}

// TestNginxForwardingHeaderMissing is checkForwardingHeaders' negative
// control with a real proxy: the docs' block without its
// X-Forwarded-Proto line sends the upstream none for a request that
// carried none, and the check reports exactly that (it once passed such a
// block); the twin, the block as documented, is TestNginx's.
func TestNginxForwardingHeaderMissing(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md")
	const line = "proxy_set_header X-Forwarded-Proto $scheme;\n        proxy_set_header X-Forwarded-Uri \"\";"
	r.startNginx(true, line, `proxy_set_header X-Forwarded-Uri "";`)
	if got := r.send(nil, "GET", "/public/rates", hdr(), ""); got.status != 200 {
		t.Fatalf("got %d %q, want 200", got.status, got.body)
	}
	host := strings.TrimPrefix(r.base, "https://")
	got := forwardingProblems(r.up.received, map[string]string{"X-Forwarded-For": "127.0.0.1", "X-Forwarded-Host": host, "X-Forwarded-Proto": "https"})
	if len(got) != 1 || !strings.Contains(got[0], "X-Forwarded-Proto: [], want exactly \"https\"") {
		t.Fatalf("got %q, want the missing X-Forwarded-Proto reported", got)
	}
}

// TestNginxVerifiedByProxy: the alternative nginx.md describes, nginx
// verifying the certificate (ssl_verify_client optional, ssl_crl) and
// forgeproof trusting it (verified-by-proxy): a valid certificate passes
// with its identity and forgeries are still refused; a revoked one or
// one of another CA is nginx's own 400, and nothing reaches the upstream.
func TestNginxVerifiedByProxy(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md",
		"client-certificates:\n    ca-files: [/etc/forgeproof/ca.pem]\n    crl-files: [/etc/forgeproof/crl.pem]", "client-certificates: {verified-by-proxy: true}")
	r.startNginx(true, "ssl_verify_client      optional_no_ca;", "ssl_verify_client optional; ssl_crl "+r.pki.Path+"/crl.pem;")
	before := r.up.count()
	for _, tc := range []struct {
		name   string
		cert   *pki.Cert
		h      http.Header
		status int
	}{
		{"valid", r.client, hdr(), 200},
		{"valid, cross-site", r.client, hdr("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test"), 403},
		{"revoked", r.revoked, hdr(), 400},
		{"another CA", r.stranger, hdr(), 400},
	} {
		got := r.send(tc.cert, "POST", "/api/pay", tc.h, "amount=1")
		if got.status != tc.status {
			t.Errorf("%s: got %d %q, want %d", tc.name, got.status, got.reason, tc.status)
		}
	}
	if got := r.up.count() - before; got != 1 {
		t.Fatalf("the upstream received %d requests, want 1 (the valid one)", got)
	}
	if got := r.up.last().Get("Forgeproof-Client-Identity"); got != "spiffe://bank.test/teller" {
		t.Fatalf("identity upstream: %q", got)
	}
}

// TestNginxWithoutAuthz is the negative control: the same nginx block
// without auth_request lets the forgeries through.
func TestNginxWithoutAuthz(t *testing.T) {
	r := newRig(t)
	// Without the line that deletes it, too, the client's X-Forwarded-Uri
	// (a path override to some upstreams) reaches the upstream.
	r.startNginx(false, `proxy_set_header X-Forwarded-Uri "";`, "")
	r.checkForgeriesThrough("without auth_request")
	r.checkHeadersThrough("without auth_request", "Remote-User", "X-Original-Url", "X-Amzn-Mtls-Clientcert-Subject", "X-Forwarded-Uri")
}

// checkForgeriesThrough is the negative control of checkForgeries: the
// proxy without forgeproof (what) lets forgeries reach the upstream.
func (r *rig) checkForgeriesThrough(what string) {
	r.t.Helper()
	for _, h := range []http.Header{
		hdr("Sec-Fetch-Site", "cross-site", "Origin", "https://evil.test", "Content-Type", "application/x-www-form-urlencoded"),
		hdr("Origin", "null", "Content-Type", "text/plain"),
	} {
		before := r.up.count()
		if got := r.send(r.client, "POST", "/api/pay", h, "amount=1000"); got.status != 200 || r.up.count() != before+1 {
			r.t.Fatalf("%s: got %d, upstream +%d; want the forgery through", what, got.status, r.up.count()-before)
		}
	}
}

// startCaddy runs Caddy with the docs' site block; without auth, the
// forward_auth block is removed (the negative control); edits are more
// fill pairs.
func (r *rig) startCaddy(withAuth bool, edits ...string) {
	t := r.t
	bin := needBinary(t, "caddy")
	addr := freePort(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	site := mdtest.Fill(t, mdtest.OneBlock(t, "../docs/integrations/caddy.md", "caddyfile"),
		"bank.example.com:443", "https://localhost:"+port,
		"/etc/forgeproof/", r.pki.Path+"/",
		"127.0.0.1:9191", r.authz,
		"127.0.0.1:8080", r.upstreamAddr())
	if !withAuth {
		i := strings.Index(site, "\t\tforward_auth")
		j := strings.Index(site[i:], "\t\t}\n")
		site = site[:i] + site[i+j+len("\t\t}\n"):]
	}
	site = mdtest.Fill(t, site, edits...)
	dir := t.TempDir()
	conf := "{\n\tadmin off\n\tauto_https off\n\tdefault_bind 127.0.0.1\n}\n" + site + "\n"
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("XDG_DATA_HOME", dir)
	t.Setenv("XDG_CONFIG_HOME", dir)
	t.Setenv("HOME", dir)
	run(t, addr, bin, "run", "--adapter", "caddyfile", "--config", path)
	r.base = "https://localhost:" + port
}

func TestCaddy(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/caddy.md")
	r.startCaddy(true)
	r.checkForgeries()
	r.checkSpoofedIdentity()
	r.checkNotForwarded()
	r.checkForwardingHeaders()
	r.checkCallers("/caddy")
}

// TestCaddyWithoutAuthz is the negative control: the same site without
// forward_auth lets the forgeries through.
func TestCaddyWithoutAuthz(t *testing.T) {
	r := newRig(t)
	r.startCaddy(false)
	r.checkForgeriesThrough("without forward_auth")
	r.checkHeadersThrough("without forward_auth", "Client_Cert", "X_Http_Method_Override", "Remote-User", "X-Original-Url")
}
