package gateway_test

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestTrustDomainCAs: a partner's CA under trust-domain-cas issues only
// its own trust domain's IDs. Its certificate for the gateway's own
// admin (spiffe://test.example/admin) is refused at the handshake, when
// a trusted forwarder passes it on, and by the decision service; its
// own workloads are served on a route that allows their trust domain.
// Negative control: the same partner CA listed in client-ca-files (one
// pool) lets its admin certificate through each of the three.
func TestTrustDomainCAs(t *testing.T) {
	t.Parallel()
	w, partner := newPartnerWorld(t)
	partnerCA, forgedAdmin, billing, lb := partner.caFile, partner.forgedAdmin, partner.billing, partner.lb
	// An SVID of the partner's own trust domain that also says CN=admin,
	// and the gateway's own CN=admin.
	namedAdmin := pkitest.Client(t, partner.ca, pki.ClientOptions{CommonName: "admin", SPIFFEID: "spiffe://partner.example/billing"})
	ownNamedAdmin := pkitest.Client(t, w.ca, pki.ClientOptions{CommonName: "admin"})

	for _, bound := range []bool{true, false} {
		name := map[bool]string{true: "bound", false: "one pool (negative control)"}[bound]
		t.Run(name, func(t *testing.T) {
			cfg := w.config()
			if bound {
				cfg.Listeners[0].TLS.TrustDomainCAs = []gateway.TrustDomainCAs{{TrustDomain: "partner.example", CAFiles: []string{partnerCA}}}
			} else {
				cfg.Listeners[0].TLS.ClientCAFiles = append(cfg.Listeners[0].TLS.ClientCAFiles, partnerCA)
			}
			cfg.Routes = append(cfg.Routes, gateway.Route{Name: "partner", PathPrefix: "/partner", Upstream: w.upstream.URL,
				Allow: gateway.Allow{TrustDomains: []string{"partner.example"}}},
				gateway.Route{Name: "cn", PathPrefix: "/cn", Upstream: w.upstream.URL, Allow: gateway.Allow{CommonNames: []string{"admin"}}})
			cfg.TrustedForwarders = []gateway.Forwarder{{Addresses: []string{"127.0.0.1"}, SPIFFEIDs: []string{"spiffe://test.example/lb"}, Header: new(forwarded.RFC9440)}}
			gw := w.start(cfg)

			// A bound CA vouches for the SPIFFE ID alone: its SVID's
			// CN=admin is not the gateway's admin, on the connection or
			// forwarded. Twin: the own CA's CN=admin.
			h := http.Header{"Accept": {"application/json"}}
			if status, body := do(t, gw.client(ownNamedAdmin), "GET", gw.base+"/cn/x", h, ""); status != 200 {
				t.Errorf("own CN=admin: %d %s", status, body)
			}
			status, body := do(t, gw.client(namedAdmin), "GET", gw.base+"/cn/x", h, "")
			if want := map[bool]int{true: 403, false: 200}[bound]; status != want || bound && !strings.Contains(body, `"reason":"common-name-denied"`) {
				t.Errorf("partner's SVID with CN=admin: %d %s, want %d", status, body, want)
			}
			fh := http.Header{"Accept": {"application/json"}, "Client-Cert": {forwarded.FormatClientCert(namedAdmin.Cert)}}
			status, body = do(t, gw.client(lb), "GET", gw.base+"/cn/x", fh, "")
			if want := map[bool]int{true: 403, false: 200}[bound]; status != want {
				t.Errorf("partner's SVID with CN=admin, forwarded: %d %s, want %d", status, body, want)
			}

			// On the connection.
			if status, body := do(t, gw.client(w.admin), "GET", gw.base+"/admin/x", nil, ""); status != 200 {
				t.Errorf("own admin: %d %s", status, body)
			}
			if status, body := do(t, gw.client(billing), "GET", gw.base+"/partner/x", nil, ""); status != 200 {
				t.Errorf("partner's billing: %d %s", status, body)
			}
			resp, err := gw.client(forgedAdmin).Get(gw.base + "/admin/x")
			if err == nil {
				resp.Body.Close()
			}
			if served := err == nil && resp.StatusCode == 200; served == bound {
				t.Errorf("partner CA's test.example admin on the connection: %v, %v", resp, err)
			}
			if bound {
				_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
				if want := `forgeproof_gateway_tls_handshake_failures_total{listener="127.0.0.1:0",reason="unknown-authority"} 1` + "\n"; !strings.Contains(metrics, want) {
					t.Errorf("metrics lack %s", want)
				}
			}

			// Forwarded by a trusted forwarder.
			c := gw.client(lb)
			for _, tt := range []struct {
				cert   *pki.Cert
				path   string
				forged bool
			}{
				{w.admin, "/admin/x", false},
				{billing, "/partner/x", false},
				{forgedAdmin, "/admin/x", true},
			} {
				h := http.Header{"Accept": {"application/json"}, "Client-Cert": {forwarded.FormatClientCert(tt.cert.Cert)}}
				status, body := do(t, c, "GET", gw.base+tt.path, h, "")
				want := 200
				if tt.forged && bound {
					want = 403
				}
				if status != want || want == 403 && !strings.Contains(body, `"reason":"unknown-authority"`) {
					t.Errorf("forwarded %s on %s: %d %s, want %d", tt.cert.Cert.URIs[0], tt.path, status, body, want)
				}
			}

			// Passed on to the decision service (forgeproof authz).
			acfg := w.authzConfig("")
			acfg.Routes = append(acfg.Routes, gateway.Route{Name: "partner", PathPrefix: "/partner", Allow: gateway.Allow{TrustDomains: []string{"partner.example"}}})
			cc := &acfg.Authz.ClientCertificates
			if bound {
				cc.TrustDomainCAs = []gateway.TrustDomainCAs{{TrustDomain: "partner.example", CAFiles: []string{partnerCA}}}
			} else {
				cc.CAFiles = append(cc.CAFiles, partnerCA)
			}
			dec, err := gateway.New(acfg, gateway.Options{})
			if err != nil {
				t.Fatal(err)
			}
			for _, tt := range []struct {
				cert   *pki.Cert
				uri    string
				forged bool
			}{
				{w.admin, "/admin/x", false},
				{billing, "/partner/x", false},
				{forgedAdmin, "/admin/x", true},
			} {
				d := dec.Decide(&gateway.Attributes{Method: "GET", URI: tt.uri, Host: "localhost", RemoteAddr: "192.0.2.1:1234", Chain: []*x509.Certificate{tt.cert.Cert}})
				if refused := tt.forged && bound; d.Allowed == refused || refused && d.Reason != "unknown-authority" {
					t.Errorf("decision for %s on %s: %d %q", tt.cert.Cert.URIs[0], tt.uri, d.Status, d.Reason)
				}
			}
		})
	}
}

// TestTrustDomainCAsForwardCachePerListener: a forwarded chain verified
// by one listener is not taken as verified by another listener with
// other client CAs. Listener 0 lists the partner's CA in one pool, so
// its forged admin is served there (by that listener's config); listener
// 1 binds it to partner.example, so the same forwarded certificate must
// be refused there, after listener 0 accepted it as well as before.
// Twin: the partner's own workload is served on both.
func TestTrustDomainCAsForwardCachePerListener(t *testing.T) {
	t.Parallel()
	w, partner := newPartnerWorld(t)
	partnerCA, forgedAdmin, billing, lb := partner.caFile, partner.forgedAdmin, partner.billing, partner.lb

	cfg := w.config()
	onePool := cfg.Listeners[0]
	onePool.TLS.ClientCAFiles = append(slices.Clone(onePool.TLS.ClientCAFiles), partnerCA)
	bound := cfg.Listeners[0]
	bound.TLS.TrustDomainCAs = []gateway.TrustDomainCAs{{TrustDomain: "partner.example", CAFiles: []string{partnerCA}}}
	cfg.Listeners = []gateway.Listener{onePool, bound}
	cfg.Routes = append(cfg.Routes, gateway.Route{Name: "partner", PathPrefix: "/partner", Upstream: w.upstream.URL,
		Allow: gateway.Allow{TrustDomains: []string{"partner.example"}}})
	cfg.TrustedForwarders = []gateway.Forwarder{{Addresses: []string{"127.0.0.1"}, SPIFFEIDs: []string{"spiffe://test.example/lb"}, Header: new(forwarded.RFC9440)}}
	gw := w.start(cfg)
	bases := []string{"https://" + gw.g.Addrs()[0].String(), "https://" + gw.g.Addrs()[1].String()}
	c := gw.client(lb)
	forward := func(listener int, cert *pki.Cert, path string) (int, string) {
		h := http.Header{"Accept": {"application/json"}, "Client-Cert": {forwarded.FormatClientCert(cert.Cert)}}
		return do(t, c, "GET", bases[listener]+path, h, "")
	}
	for _, listener := range []int{1, 0, 1} {
		if status, body := forward(listener, billing, "/partner/x"); status != 200 {
			t.Errorf("partner's billing forwarded to listener %d: %d %s", listener, status, body)
		}
		status, body := forward(listener, forgedAdmin, "/admin/x")
		if want := map[int]int{0: 200, 1: 403}[listener]; status != want {
			t.Errorf("partner's test.example admin forwarded to listener %d: %d %s, want %d", listener, status, body, want)
		}
	}
}

// TestTrustDomainCAsErrorOnce: a bad trust domain over several CA files
// is one problem, not one per file (mtls reports it for each source).
func TestTrustDomainCAsErrorOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	partnerCA := w.write("partner-ca.pem", pki.EncodeCertsPEM(pkitest.CA(t).Cert))
	other := w.write("other-ca.pem", pki.EncodeCertsPEM(pkitest.CA(t).Cert))
	cfg := w.config()
	cfg.Listeners[0].TLS.TrustDomainCAs = []gateway.TrustDomainCAs{{TrustDomain: "Partner.Example", CAFiles: []string{partnerCA, other}}}
	err := cfg.Validate()
	if n := strings.Count(fmt.Sprint(err), "trust-domain-cas[0].trust-domain:"); n != 1 {
		t.Fatalf("the trust domain's problem %d times, want once: %v", n, err)
	}
}

// partnerWorld is a partner organisation's CA beside a world's own.
type partnerWorld struct {
	ca          *pki.CA
	caFile      string    // its certificate, in the world's folder
	forgedAdmin *pki.Cert // spiffe://test.example/admin, the world's admin's ID, from the partner's CA
	billing     *pki.Cert // spiffe://partner.example/billing, the partner's own workload
	lb          *pki.Cert // spiffe://test.example/lb, the world's own trusted forwarder
}

func newPartnerWorld(t *testing.T) (*world, *partnerWorld) {
	w := newWorld(t)
	ca := pkitest.CA(t)
	return w, &partnerWorld{
		ca:          ca,
		caFile:      w.write("partner-ca.pem", pki.EncodeCertsPEM(ca.Cert)),
		forgedAdmin: pkitest.SPIFFE(t, ca, "spiffe://test.example/admin"),
		billing:     pkitest.SPIFFE(t, ca, "spiffe://partner.example/billing"),
		lb:          pkitest.SPIFFE(t, w.ca, "spiffe://test.example/lb"),
	}
}

// TestTrustDomainCAsReloadOpenConnection: a reload that binds the
// partner's CA reaches a keep-alive connection already open: the
// partner's SVID saying CN=admin, served on the CN=admin route under the
// one-pool config, is refused on the same connection's next request, and
// its own trust domain's route still serves it (the twin).
func TestTrustDomainCAsReloadOpenConnection(t *testing.T) {
	t.Parallel()
	w, partner := newPartnerWorld(t)
	namedAdmin := pkitest.Client(t, partner.ca, pki.ClientOptions{CommonName: "admin", SPIFFEID: "spiffe://partner.example/billing"})
	cfg := w.config()
	cfg.Listeners[0].TLS.ClientCAFiles = append(cfg.Listeners[0].TLS.ClientCAFiles, partner.caFile)
	cfg.Routes = append(cfg.Routes,
		gateway.Route{Name: "partner", PathPrefix: "/partner", Upstream: w.upstream.URL, Allow: gateway.Allow{TrustDomains: []string{"partner.example"}}},
		gateway.Route{Name: "cn", PathPrefix: "/cn", Upstream: w.upstream.URL, Allow: gateway.Allow{CommonNames: []string{"admin"}}})
	gw := w.start(cfg)
	c := gw.client(namedAdmin)
	var conns []string
	get := func(path string) int {
		t.Helper()
		req, err := http.NewRequest("GET", gw.base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "application/json")
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { conns = append(conns, i.Conn.LocalAddr().String()) },
		}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if status := get("/cn/x"); status != 200 {
		t.Fatalf("one pool: partner's SVID on the CN=admin route: %d, want 200 (the negative control)", status)
	}
	bound := w.config()
	bound.Listeners[0].TLS.TrustDomainCAs = []gateway.TrustDomainCAs{{TrustDomain: "partner.example", CAFiles: []string{partner.caFile}}}
	bound.Routes = cfg.Routes
	if err := gw.g.Reload(bound); err != nil {
		t.Fatal(err)
	}
	if status := get("/partner/x"); status != 200 {
		t.Errorf("bound: partner's SVID on its trust domain's route: %d, want 200", status)
	}
	if status := get("/cn/x"); status != 403 {
		t.Errorf("bound: partner's SVID on the CN=admin route: %d, want 403", status)
	}
	if len(conns) != 3 || conns[0] != conns[1] || conns[1] != conns[2] {
		t.Errorf("connections %v: want one, reused", conns)
	}
}
