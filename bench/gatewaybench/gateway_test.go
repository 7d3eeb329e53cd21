package gatewaybench_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

const clientCN = "bench client"

// fixture is the two proxies in front of one upstream, and the TLS state
// of a verified client connection to put on requests.
type fixture struct {
	forgeproof http.Handler
	bare       http.Handler
	verified   *tls.ConnectionState
	stranger   *tls.ConnectionState // verified, but a CN the route does not allow
}

func newFixture(tb testing.TB) *fixture {
	tb.Helper()
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok\n"))
	}))
	tb.Cleanup(upstream.Close)

	dir := tb.TempDir()
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		tb.Fatal(err)
	}
	if err := ca.Save(dir); err != nil {
		tb.Fatal(err)
	}
	if err := srv.Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
		tb.Fatal(err)
	}
	yaml := fmt.Sprintf(`listeners:
  - address: 127.0.0.1:0
    tls:
      cert-file: %s
      key-file: %s
      client-ca-files: [%s]
      client-auth: require
routes:
  - name: bench
    upstream: %s
    allow:
      common-names: [%q]
admin:
  address: "off"
`, filepath.Join(dir, pki.ServerFile), filepath.Join(dir, pki.ServerKeyFile), filepath.Join(dir, pki.CAFile), upstream.URL, clientCN)
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	cfg, err := gateway.LoadConfig(path)
	if err != nil {
		tb.Fatal(err)
	}
	g, err := gateway.New(cfg, gateway.Options{})
	if err != nil {
		tb.Fatal(err)
	}

	up, _ := url.Parse(upstream.URL)
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(up) },
		Transport: &http.Transport{MaxIdleConns: 64, MaxIdleConnsPerHost: 64},
	}

	state := func(cn string) *tls.ConnectionState {
		cl, err := ca.IssueClient(pki.ClientOptions{CommonName: cn})
		if err != nil {
			tb.Fatal(err)
		}
		return &tls.ConnectionState{
			Version: tls.VersionTLS13, HandshakeComplete: true, ServerName: "localhost",
			PeerCertificates: []*x509.Certificate{cl.Cert},
			VerifiedChains:   [][]*x509.Certificate{{cl.Cert, ca.Cert}},
		}
	}
	return &fixture{forgeproof: g.Handler(), bare: bare, verified: state(clientCN), stranger: state("someone else")}
}

// request builds a request as the gateway's server hands it over: over
// TLS from a verified client, r.URL without scheme and host.
func request(cs *tls.ConnectionState, method string, header ...string) *http.Request {
	r := httptest.NewRequest(method, "https://localhost/transfer", http.NoBody)
	r.URL.Scheme, r.URL.Host = "", ""
	r.RemoteAddr = "127.0.0.1:40000"
	r.TLS = cs
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

type tcase struct {
	name string
	req  func(f *fixture) *http.Request
	// want is the status through forgeproof; through the bare proxy every
	// request reaches the upstream (200).
	want int
}

var cases = []tcase{
	{name: "get", want: http.StatusOK, req: func(f *fixture) *http.Request { return request(f.verified, "GET") }},
	{name: "post-same-origin", want: http.StatusOK, req: func(f *fixture) *http.Request {
		return request(f.verified, "POST", "Sec-Fetch-Site", "same-origin", "Origin", "https://localhost")
	}},
	{name: "post-cross-site", want: http.StatusForbidden, req: func(f *fixture) *http.Request {
		return request(f.verified, "POST", "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	}},
	{name: "get-identity-not-allowed", want: http.StatusForbidden, req: func(f *fixture) *http.Request { return request(f.stranger, "GET") }},
}

// TestOutcomes: forgeproof answers each request as it must, and the bare
// proxy lets every one of them through to the upstream (the negative
// control: the refusals are forgeproof's doing).
func TestOutcomes(t *testing.T) {
	f := newFixture(t)
	for _, tc := range cases {
		t.Run(tc.name+"/forgeproof", func(t *testing.T) {
			w := httptest.NewRecorder()
			f.forgeproof.ServeHTTP(w, tc.req(f))
			if w.Code != tc.want {
				t.Errorf("status: got %d, want %d (%s)", w.Code, tc.want, w.Body)
			}
		})
		t.Run(tc.name+"/bare", func(t *testing.T) {
			w := httptest.NewRecorder()
			f.bare.ServeHTTP(w, tc.req(f))
			if w.Code != http.StatusOK {
				t.Errorf("status: got %d, want 200", w.Code)
			}
		})
	}
}

// BenchmarkProxy times one request through each proxy, upstream round
// trip included. Cases the gateway refuses are timed for forgeproof only.
func BenchmarkProxy(b *testing.B) {
	f := newFixture(b)
	for _, tc := range cases {
		libs := []struct {
			name string
			h    http.Handler
			want int
		}{{"forgeproof", f.forgeproof, tc.want}, {"reverseproxy", f.bare, http.StatusOK}}
		for _, l := range libs {
			if l.name == "reverseproxy" && tc.want != http.StatusOK {
				continue
			}
			b.Run("case="+tc.name+"/lib="+l.name, func(b *testing.B) {
				r := tc.req(f)
				w := &recorder{h: make(http.Header)}
				b.ReportAllocs()
				for b.Loop() {
					w.reset()
					l.h.ServeHTTP(w, r)
				}
				if w.code != l.want {
					b.Fatalf("status: got %d, want %d", w.code, l.want)
				}
			})
		}
	}
}

// recorder keeps the status only, so the benchmark measures the proxies.
type recorder struct {
	h    http.Header
	code int
}

func (w *recorder) Header() http.Header { return w.h }
func (w *recorder) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
}
func (w *recorder) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}
func (w *recorder) reset() { clear(w.h); w.code = 0 }
