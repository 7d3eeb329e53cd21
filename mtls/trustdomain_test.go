package mtls_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

// TestTrustDomainCAs binds client CAs to trust domains
// (Source.TrustDomain) and checks each chain against the same CAs as
// go-spiffe's bundles per trust domain: a bound CA issues only SVIDs of
// its trust domain, and a bound trust domain's IDs come only from its
// CAs. Each refusal has its accepted twin, and the unbound server (one
// pool) accepting the same chain is the negative control.
func TestTrustDomainCAs(t *testing.T) {
	own := rawCA(t, "example.org CA", nil)
	partner := rawCA(t, "partner.org CA", nil)
	legacy := rawCA(t, "legacy CA", nil) // unbound
	partnerInter := rawCA(t, "partner.org issuing CA", partner)
	// partner.org's key, cross-signed by the unbound legacy CA: a chain
	// through it is still partner.org's.
	partnerByLegacy := mintKey(t, &x509.Certificate{
		Subject: partner.Cert.Subject, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}, legacy, partner.Key)

	bound, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: []mtls.Source{
		{Data: pki.EncodeCertsPEM(own.Cert), TrustDomain: "example.org"},
		{Data: pki.EncodeCertsPEM(partner.Cert), TrustDomain: "spiffe://partner.org"},
		{Data: pki.EncodeCertsPEM(legacy.Cert)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	onePool, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: []mtls.Source{{Data: pki.EncodeCertsPEM(own.Cert, partner.Cert, legacy.Cert)}}})
	if err != nil {
		t.Fatal(err)
	}
	// go-spiffe's view of the bound server: a bundle for each bound
	// trust domain, and the unbound CA's for every other one.
	bundles := boundBundles{
		"example.org": {own.Cert},
		"partner.org": {partner.Cert},
		"":            {legacy.Cert},
	}

	tests := []struct {
		name   string
		issuer *rawCert
		inter  []*rawCert // sent by the client after the leaf
		uris   []string
		ok     bool   // the bound server accepts
		why    string // in its refusal
	}{
		{name: "own CA, own trust domain (twin)", issuer: own, uris: []string{"spiffe://example.org/admin"}, ok: true},
		{name: "partner CA, own trust domain", issuer: partner, uris: []string{"spiffe://example.org/admin"}, why: `in trust domain "example.org", and it is issued through client CA "CN=partner.org CA", which issues only trust domain partner.org`},
		{name: "partner CA, partner trust domain (twin)", issuer: partner, uris: []string{"spiffe://partner.org/billing"}, ok: true},
		{name: "own CA, partner trust domain", issuer: own, uris: []string{"spiffe://partner.org/billing"}, why: "which issues only trust domain example.org"},
		{name: "partner CA, no SPIFFE ID", issuer: partner, why: `has no SPIFFE ID, and it is issued through client CA "CN=partner.org CA"`},
		{name: "partner CA, https URI", issuer: partner, uris: []string{"https://partner.org/billing"}, why: "has no SPIFFE ID"},
		{name: "partner CA, another trust domain", issuer: partner, uris: []string{"spiffe://other.org/x"}, why: "which issues only trust domain partner.org"},
		{name: "partner's intermediate, own trust domain", issuer: partnerInter, inter: []*rawCert{partnerInter}, uris: []string{"spiffe://example.org/admin"}, why: "which issues only trust domain partner.org"},
		{name: "partner's intermediate, partner trust domain (twin)", issuer: partnerInter, inter: []*rawCert{partnerInter}, uris: []string{"spiffe://partner.org/billing"}, ok: true},
		{name: "partner's key cross-signed by the unbound CA, own trust domain", issuer: partner, inter: []*rawCert{partnerByLegacy}, uris: []string{"spiffe://example.org/admin"}, why: "which issues only trust domain partner.org"},
		// Neither caught by the reservation of a bound trust domain: only
		// the partner's key in the cross-certificate refuses them.
		{name: "partner's key cross-signed by the unbound CA, no SPIFFE ID", issuer: partner, inter: []*rawCert{partnerByLegacy}, why: `has no SPIFFE ID, and it is issued through client CA "CN=partner.org CA"`},
		{name: "partner's key cross-signed by the unbound CA, another trust domain", issuer: partner, inter: []*rawCert{partnerByLegacy}, uris: []string{"spiffe://other.org/x"}, why: "which issues only trust domain partner.org"},
		{name: "partner's key cross-signed by the unbound CA, partner trust domain (twin)", issuer: partner, inter: []*rawCert{partnerByLegacy}, uris: []string{"spiffe://partner.org/billing"}, ok: true},
		{name: "unbound CA, no SPIFFE ID (twin)", issuer: legacy, ok: true},
		{name: "unbound CA, unbound trust domain (twin)", issuer: legacy, uris: []string{"spiffe://other.org/x"}, ok: true},
		{name: "unbound CA, bound trust domain", issuer: legacy, uris: []string{"spiffe://example.org/admin"}, why: `names trust domain "example.org" in URI SAN "spiffe://example.org/admin", and none of that trust domain's client CAs issued it`},
		{name: "unbound CA, bound trust domain in a second URI", issuer: legacy, uris: []string{"spiffe://other.org/x", "spiffe://example.org/admin"}, why: `names trust domain "example.org"`},
		// spiffe URIs that are no SPIFFE ID, which a reader may take as
		// example.org's: refused while trust domains are bound.
		{name: "unbound CA, bound trust domain in upper case", issuer: legacy, uris: []string{"spiffe://EXAMPLE.org/admin"}, why: "is a spiffe URI but no valid SPIFFE ID"},
		{name: "unbound CA, bound trust domain with a port", issuer: legacy, uris: []string{"spiffe://example.org:443/admin"}, why: "is a spiffe URI but no valid SPIFFE ID"},
		{name: "unbound CA, opaque spiffe URI", issuer: legacy, uris: []string{"spiffe:example.org/admin"}, why: "is a spiffe URI but no valid SPIFFE ID"},
		{name: "unbound CA, empty authority", issuer: legacy, uris: []string{"spiffe:///example.org/admin"}, why: "is a spiffe URI but no valid SPIFFE ID"},
		{name: "unbound CA, userinfo", issuer: legacy, uris: []string{"spiffe://example.org:x@y/admin"}, why: "is a spiffe URI but no valid SPIFFE ID"},
		{name: "unbound CA, malformed URI of another trust domain", issuer: legacy, uris: []string{"spiffe://other.org/x/"}, why: "is a spiffe URI but no valid SPIFFE ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			leaf := rawClient(t, tt.issuer, func(c *x509.Certificate) {
				c.Subject = pkix.Name{CommonName: "client"}
				for _, u := range tt.uris {
					c.URIs = append(c.URIs, mustURL(t, u))
				}
			}).Cert
			chain := []*x509.Certificate{leaf}
			for _, c := range tt.inter {
				chain = append(chain, c.Cert)
			}
			if _, err := onePool.VerifyChain(chain); err != nil {
				t.Fatalf("one pool (the negative control): %v", err)
			}
			// Twice: the second from the verified-chain cache.
			for range 2 {
				id, err := bound.VerifyChain(chain)
				if tt.ok {
					if err != nil {
						t.Fatalf("bound: %v", err)
					}
					if !id.SPIFFEID.IsZero() {
						if _, _, err := x509svid.Verify(chain, bundles); err != nil {
							t.Errorf("bound accepted %s, go-spiffe refuses: %v", id.SPIFFEID, err)
						}
					}
					continue
				}
				if mtls.ReasonOf(err) != mtls.ReasonUnknownAuthority || !strings.Contains(err.Error(), tt.why) {
					t.Fatalf("bound: %v, want %s with %q", err, mtls.ReasonUnknownAuthority, tt.why)
				}
			}
		})
	}
}

// TestTrustDomainCAsConfig: a binding that cannot hold is refused at
// NewServer, naming the field.
func TestTrustDomainCAsConfig(t *testing.T) {
	own := rawCA(t, "example.org CA", nil)
	other := rawCA(t, "other CA", nil)
	pem := pki.EncodeCertsPEM(own.Cert)
	tests := []struct {
		name  string
		cfg   mtls.ServerConfig
		field string
		want  string
	}{
		{name: "a SPIFFE ID", cfg: mtls.ServerConfig{ClientCAs: []mtls.Source{{Data: pem, TrustDomain: "spiffe://example.org/admin"}}}, field: "ClientCAs[0].TrustDomain", want: "a SPIFFE ID with a path names workloads"},
		{name: "upper case", cfg: mtls.ServerConfig{ClientCAs: []mtls.Source{{Data: pem, TrustDomain: "Example.org"}}}, field: "ClientCAs[0].TrustDomain", want: `invalid trust domain "Example.org"`},
		{name: "bound and unbound", cfg: mtls.ServerConfig{ClientCAs: []mtls.Source{{Data: pki.EncodeCertsPEM(other.Cert, own.Cert)}, {Data: pem, TrustDomain: "example.org"}}}, field: "ClientCAs[1]", want: `client CA "CN=example.org CA" is bound to trust domain "example.org" here, and its key is also in ClientCAs[0]`},
		{name: "a CRL", cfg: mtls.ServerConfig{ClientCAs: []mtls.Source{{Data: pem}}, CRLs: []mtls.Source{{Data: []byte("x"), TrustDomain: "example.org"}}}, field: "CRLs[0].TrustDomain", want: "only a source of ClientCAs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.VerifyOnly = true
			_, err := mtls.NewServer(tt.cfg)
			var e *mtls.Error
			if !errors.As(err, &e) || e.Field != tt.field || e.Reason != mtls.ReasonInvalidConfig || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v (field %q), want %s: %q", err, fieldOf(e), tt.field, tt.want)
			}
		})
	}
	// The twins: one CA bound to two trust domains, and two bound
	// sources with different CAs.
	for _, srcs := range [][]mtls.Source{
		{{Data: pem, TrustDomain: "example.org"}, {Data: pem, TrustDomain: "example.net"}},
		{{Data: pem, TrustDomain: "example.org"}, {Data: pki.EncodeCertsPEM(other.Cert)}},
	} {
		s, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, ClientCAs: srcs})
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"spiffe://example.org/a", "spiffe://example.net/a"} {
			leaf := rawClient(t, own, func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, id)} }).Cert
			_, err := s.VerifyChain([]*x509.Certificate{leaf})
			if want := srcs[1].TrustDomain != "" || strings.Contains(id, ".org"); (err == nil) != want {
				t.Errorf("%s from a CA bound to %q and %q: %v", id, srcs[0].TrustDomain, srcs[1].TrustDomain, err)
			}
		}
	}
}

// boundBundles is an x509bundle.Source with the authorities of each
// trust domain, and those under "" for any other.
type boundBundles map[string][]*x509.Certificate

func (b boundBundles) GetX509BundleForTrustDomain(td spiffeid.TrustDomain) (*x509bundle.Bundle, error) {
	cas, ok := b[td.Name()]
	if !ok {
		cas = b[""]
	}
	return x509bundle.FromX509Authorities(td, cas), nil
}

func fieldOf(e *mtls.Error) string {
	if e == nil {
		return ""
	}
	return e.Field
}

// TestTrustDomainCAsHandshake: the binding holds in a real handshake,
// full and resumed, and the refusal reaches OnHandshakeFailure.
func TestTrustDomainCAsHandshake(t *testing.T) {
	own := rawCA(t, "example.org CA", nil)
	partner := rawCA(t, "partner.org CA", nil)
	ca := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	var got failures
	s := newServer(t, mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{Certificate: &srv}},
		ClientCAs: []mtls.Source{
			{Data: pki.EncodeCertsPEM(own.Cert), TrustDomain: "example.org"},
			{Data: pki.EncodeCertsPEM(partner.Cert), TrustDomain: "partner.org"},
		},
		OnHandshakeFailure: got.add,
	})
	addr := serve(t, s.TLSConfig())
	connect := func(issuer *rawCert, id string, cache tls.ClientSessionCache) (string, bool, error) {
		leaf := rawClient(t, issuer, func(c *x509.Certificate) { c.URIs = []*url.URL{mustURL(t, id)} })
		tc := tls.Certificate{Certificate: [][]byte{leaf.Cert.Raw}, PrivateKey: leaf.Key, Leaf: leaf.Cert}
		conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", ClientSessionCache: cache,
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }}
		c, err := tls.Dial("tcp", addr, conf)
		if err != nil {
			return "", false, err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		return strings.TrimSpace(line), c.ConnectionState().DidResume, err
	}

	cache := tls.NewLRUClientSessionCache(4)
	for i := range 2 {
		name, resumed, err := connect(own, "spiffe://example.org/admin", cache)
		if err != nil || name != "spiffe://example.org/admin" {
			t.Fatalf("own CA's admin, connection %d: %q, %v", i, name, err)
		}
		if i == 1 && !resumed {
			t.Error("the second connection did not resume")
		}
	}
	if name, _, err := connect(partner, "spiffe://example.org/admin", nil); err == nil {
		t.Fatalf("partner CA's example.org admin was served as %q", name)
	}
	f, ok := got.last()
	if !ok || f.Reason != mtls.ReasonUnknownAuthority || !strings.Contains(f.Err.Error(), "which issues only trust domain partner.org") {
		t.Fatalf("failure report: %+v, %v", f, ok)
	}
	if name, _, err := connect(partner, "spiffe://partner.org/billing", nil); err != nil || name != "spiffe://partner.org/billing" {
		t.Fatalf("partner CA's own ID: %q, %v", name, err)
	}
}

// TestTrustDomainCAsOtherNames: a CA bound to partner.org issues only
// partner.org's SVIDs, and an SVID is its SPIFFE ID: the common name,
// organizational unit and DNS SAN it may also carry are not the
// partner's to give, so authorizers reading them must not allow it as
// CN=admin. Twin: the same names from the unbound CA are allowed.
func TestTrustDomainCAsOtherNames(t *testing.T) {
	partner := rawCA(t, "partner.org CA", nil)
	legacy := rawCA(t, "legacy CA", nil) // unbound
	dns, err := mtls.AuthorizeDNSName("admin.example.org")
	if err != nil {
		t.Fatal(err)
	}
	for name, az := range map[string]mtls.Authorizer{
		"common name":         mtls.AuthorizeCommonName("admin"),
		"organizational unit": mtls.AuthorizeOrganizationalUnit("admins"),
		"DNS name":            dns,
	} {
		t.Run(name, func(t *testing.T) {
			s, err := mtls.NewServer(mtls.ServerConfig{VerifyOnly: true, Authorizer: az, ClientCAs: []mtls.Source{
				{Data: pki.EncodeCertsPEM(partner.Cert), TrustDomain: "partner.org"},
				{Data: pki.EncodeCertsPEM(legacy.Cert)},
			}})
			if err != nil {
				t.Fatal(err)
			}
			for _, issuer := range []*rawCert{legacy, partner} {
				leaf := rawClient(t, issuer, func(c *x509.Certificate) {
					c.Subject = pkix.Name{CommonName: "admin", OrganizationalUnit: []string{"admins"}}
					c.DNSNames = []string{"admin.example.org"}
					if issuer == partner {
						c.URIs = []*url.URL{mustURL(t, "spiffe://partner.org/billing")}
					}
				}).Cert
				_, err := s.VerifyChain([]*x509.Certificate{leaf})
				if (err == nil) != (issuer == legacy) {
					t.Errorf("%s from %s: %v", name, issuer.Cert.Subject, err)
				}
				// The denial says why (the authorizers' SPIFFEOnly check):
				// not only that the name, left out, does not match.
				if issuer == partner && (err == nil || !strings.Contains(err.Error(), "bound to a trust domain")) {
					t.Errorf("%s from %s: %v, want the denial to name the trust domain binding", name, issuer.Cert.Subject, err)
				}
			}
		})
	}
}

// TestTrustDomainCAsConnectionIdentity: over a real connection
// (Server.Handler, ConnContext), the identity of a bound CA's SVID is
// its SPIFFE ID alone, on every request of the connection, and a Guard
// allowing CN=admin refuses it, saying why; the own CA's CN=admin is
// served (the twin).
func TestTrustDomainCAsConnectionIdentity(t *testing.T) {
	own, partner := pkitest.CA(t), pkitest.CA(t)
	srvCert := pkitest.Server(t, own).TLSCertificate()
	s := newServer(t, mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{Certificate: &srvCert}},
		ClientCAs: []mtls.Source{
			{Data: pki.EncodeCertsPEM(own.Cert)},
			{Data: pki.EncodeCertsPEM(partner.Cert), TrustDomain: "partner.example"},
		},
		ClientAuth: mtls.VerifyClientCertIfGiven,
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "%s cn=%q dns=%q spiffe-only=%v", id, id.CommonName, id.DNSNames, id.SPIFFEOnly)
	})
	mux := http.NewServeMux()
	mux.Handle("/id", ok)
	mux.Handle("/admin", (&mtls.Guard{Authorizer: mtls.AuthorizeCommonName("admin")}).Handler(ok))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: s.Handler(mux), ConnContext: s.ConnContext, TLSConfig: s.TLSConfig()}
	go srv.ServeTLS(ln, "", "")
	t.Cleanup(func() { srv.Close() })
	base := "https://localhost:" + strings.TrimPrefix(ln.Addr().String(), "127.0.0.1:")

	var reused []bool // per request: whether it went on an open connection
	get := func(c *http.Client, path string) (int, string) {
		req, err := http.NewRequest("GET", base+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	partnerAdmin := httpClient(own, pkitest.Client(t, partner, pki.ClientOptions{CommonName: "admin", DNSNames: []string{"admin.example"}, SPIFFEID: "spiffe://partner.example/billing"}))
	for range 2 { // the connection's first request, then its cached check
		if status, body := get(partnerAdmin, "/id"); status != 200 || body != `spiffe://partner.example/billing cn="" dns=[] spiffe-only=true` {
			t.Errorf("partner's SVID: %d %s", status, body)
		}
	}
	// The second request must have gone on the first one's connection,
	// else the cached check was not tested.
	if !slices.Equal(reused, []bool{false, true}) {
		t.Errorf("connections reused %v, want [false true]: the second request did not reuse the connection", reused)
	}
	if status, body := get(partnerAdmin, "/admin"); status != 403 || !strings.Contains(body, "common-name-denied") {
		t.Errorf("partner's SVID with CN=admin on the CN=admin route: %d %s", status, body)
	}
	ownAdmin := httpClient(own, pkitest.Client(t, own, pki.ClientOptions{CommonName: "admin"}))
	if status, body := get(ownAdmin, "/admin"); status != 200 || !strings.Contains(body, `cn="admin"`) {
		t.Errorf("own CN=admin: %d %s", status, body)
	}
}
