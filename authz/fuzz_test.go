package authz_test

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// certSeeds are a certificate as each proxy writes it, and near misses.
func certSeeds(t testing.TB) []string {
	ca := pkitest.CA(t)
	c := pkitest.SPIFFE(t, ca, "spiffe://bank.test/teller")
	p := string(pki.EncodeCertsPEM(c.Cert))
	b64 := base64.StdEncoding.EncodeToString(c.Cert.Raw)
	return []string{
		url.PathEscape(p),  // nginx $ssl_client_escaped_cert
		url.QueryEscape(p), // '+' for spaces
		p,
		b64,                              // Caddy certificate_der_base64
		url.QueryEscape(b64 + "," + b64), // Traefik, a chain
		"{http.request.tls.client.certificate_der_base64}",
		"", " ", "%", "%zz", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		strings.Repeat(b64+",", 9) + b64,
		"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
	}
}

// TestParseCertificates: each proxy's encoding parses to the certificate;
// each near miss is an error, never a certificate.
func TestParseCertificates(t *testing.T) {
	seeds := certSeeds(t)
	for i, s := range seeds[:5] {
		chain, err := authz.ParseCertificates(s)
		if err != nil || len(chain) == 0 || chain[0].URIs[0].String() != "spiffe://bank.test/teller" {
			t.Errorf("seed %d: got %d certificates, %v", i, len(chain), err)
		}
	}
	if chain, _ := authz.ParseCertificates(seeds[4]); len(chain) != 2 {
		t.Errorf("Traefik chain: got %d certificates, want 2", len(chain))
	}
	for _, s := range seeds[5:] {
		chain, err := authz.ParseCertificates(s)
		if strings.TrimSpace(s) == "" {
			if chain != nil || err != nil {
				t.Errorf("%q: got %d, %v; want no certificate and no error", s, len(chain), err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%q: got %d certificates, want an error", s, len(chain))
		}
	}
}

// FuzzParseCertificates: what a proxy (or, misconfigured, a client) puts
// in the certificate header never panics, and parses to one to eight
// certificates or an error.
func FuzzParseCertificates(f *testing.F) {
	for _, s := range certSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		chain, err := authz.ParseCertificates(v)
		if err == nil && chain != nil && (len(chain) == 0 || len(chain) > 8) {
			t.Fatalf("%d certificates without error", len(chain))
		}
		if err != nil && chain != nil {
			t.Fatal("certificates with an error")
		}
	})
}

// FuzzAttributes: a question with any headers is read and decided
// without panicking, and the decision is consistent: allowed is 200,
// refused is 4xx or 5xx, and the identity headers are always on the list
// to remove.
func FuzzAttributes(f *testing.F) {
	d := pkitest.NewDir(f, nil)
	cfg := `authz: {address: "127.0.0.1:0", proxy: caddy, trusted-callers: [127.0.0.1], client-certificates: {ca-files: [` +
		filepath.Join(d.Path, "ca.pem") + `]}}
admin: {address: "off"}
routes:
  - {name: public, path-prefix: /public, allow: {unauthenticated: true}}
  - {name: app, path-prefix: /, allow: {any-verified: true}}
`
	path := filepath.Join(d.Path, "authz.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		f.Fatal(err)
	}
	g, err := gateway.NewFromFile(path, gateway.Options{})
	if err != nil {
		f.Fatal(err)
	}
	seeds := certSeeds(f)
	f.Add("POST", "/api/pay", "localhost:8443", "https", "127.0.0.1", seeds[0], "https://evil.test", "cross-site", "")
	f.Add("GET", "/public/..;/x", "localhost", "http", "::1", "", "", "", "Client-Cert")
	f.Add("POST", "/x?y=%zz", "127.1", "HTTPS", "a,b", seeds[3], "null", "same-origin", "X_Forwarded_Client_Cert")
	f.Fuzz(func(t *testing.T, method, uri, host, proto, xff, cert, origin, site, extra string) {
		q := &http.Request{Header: http.Header{}}
		for k, v := range map[string]string{
			authz.HeaderMethod: method, authz.HeaderURI: uri, authz.HeaderHost: host, authz.HeaderProto: proto,
			authz.HeaderFor: xff, authz.HeaderClientCert: cert, "Origin": origin, "Sec-Fetch-Site": site,
		} {
			if v != "" {
				q.Header[k] = []string{v}
			}
		}
		if extra != "" {
			q.Header[extra] = []string{origin}
		}
		a, err := authz.Attributes(q)
		if err != nil {
			return
		}
		dec := g.Decide(a)
		if dec.Allowed != (dec.Status == 200) || !dec.Allowed && dec.Status < 400 {
			t.Fatalf("allowed %v with status %d (%s)", dec.Allowed, dec.Status, dec.Reason)
		}
		if len(dec.Remove) < gateway.NumIdentityHeaders || dec.Remove[0] != "Client-Cert" {
			t.Fatalf("Remove %v lacks the identity headers", dec.Remove)
		}
		if dec.Allowed && a.Chain == nil && dec.Set.Get("Client-Cert") != "" {
			t.Fatal("an identity without a certificate")
		}
	})
}
