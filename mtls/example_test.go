package mtls_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"strings"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

func ExampleNewServer() {
	ca, cert, client := examplePKI() // a dev CA, a server and a client certificate
	s, err := mtls.NewServer(mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{Certificate: &cert}},
		ClientCAs:    []mtls.Source{{Data: pki.EncodeCertsPEM(ca.Cert)}},
		ClientAuth:   mtls.VerifyClientCertIfGiven, // browsers too: Guard decides per route
	})
	if err != nil {
		log.Fatal(err)
	}
	web, _ := mtls.AuthorizeSPIFFEID("spiffe://example.org/ns/*/sa/web")
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", id)
	})
	srv := &http.Server{Handler: s.Handler((&mtls.Guard{Authorizer: web}).Handler(hello)), ConnContext: s.ConnContext, TLSConfig: s.TLSConfig()}
	url := serveExample(srv)
	defer srv.Close()

	fmt.Println(getExample(url, ca, client)) // with a client certificate
	fmt.Println(getExample(url, ca, nil))    // without
	// Output:
	// hello spiffe://example.org/ns/prod/sa/web
	// 403 client certificate required (reason: identity-missing)
}

func ExampleAuthorizeAnyOf() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	cert, _ := ca.IssueClient(pki.ClientOptions{CommonName: "batch", SPIFFEID: "spiffe://prod.example/ns/jobs/sa/batch"})
	id := mtls.NewIdentity(cert.Cert)

	web, _ := mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web")
	ops := mtls.AuthorizeOrganizationalUnit("ops")
	for _, a := range []mtls.Authorizer{
		web,
		mtls.AuthorizeAnyOf(web, ops),
		mtls.AuthorizeAnyOf(web, mtls.AuthorizeCommonName("batch")),
	} {
		err := a(id)
		fmt.Printf("%q\n", mtls.ReasonOf(err))
	}
	// Output:
	// "spiffe-id-denied"
	// "identity-denied"
	// ""
}

// Served through Handler with ConnContext, an open keep-alive connection
// is verified again after each reload and expiry: a certificate that a
// new CRL revokes is refused (403, Connection: close) at its next
// request on the connection it opened before the reload.
func ExampleServer_Handler() {
	dir, _ := os.MkdirTemp("", "mtls-example")
	defer os.RemoveAll(dir)
	ca, _ := pki.NewCA(pki.CAOptions{})
	ca.Save(dir) // ca.pem
	srvCert, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	srvCert.Save(dir, "server.pem", "server-key.pem")
	crl, _ := ca.CreateCRL(pki.CRLOptions{})
	pki.SaveCRL(dir, crl) // crl.pem, revoking nothing yet
	client, _ := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})

	s, err := mtls.NewServer(mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem")}},
		ClientCAs:    []mtls.Source{{File: filepath.Join(dir, "ca.pem")}},
		CRLs:         []mtls.Source{{File: filepath.Join(dir, "crl.pem")}},
	})
	if err != nil {
		log.Fatal(err)
	}
	// In a service: go s.Watch(ctx), which calls Reload when a file changes.
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", id.CommonName)
	})
	srv := &http.Server{Handler: s.Handler(app), ConnContext: s.ConnContext, TLSConfig: s.TLSConfig()}
	url := serveExample(srv)
	defer srv.Close()

	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client.TLSCertificate()},
	}}}
	get := func() {
		reused := false
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
		req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", url, nil)
		resp, err := c.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		first, _, _ := strings.Cut(string(body), "\n")
		fmt.Printf("%d %s (connection reused: %v)\n", resp.StatusCode, first, reused)
	}
	get()

	crl, _ = ca.Revoke(nil, client.Cert.SerialNumber)
	pki.SaveCRL(dir, crl)
	if err := s.Reload(); err != nil { // what Watch does when crl.pem changes
		log.Fatal(err)
	}
	get() // the same keep-alive connection, opened before the revocation
	// Output:
	// 200 hello alice (connection reused: false)
	// 403 403 client certificate refused: the connection's client certificate is no longer accepted; open a new connection (reason: revoked) (connection reused: true)
}

// examplePKI issues a development CA, a server certificate for localhost
// and a client certificate for spiffe://example.org/ns/prod/sa/web.
func examplePKI() (*pki.CA, tls.Certificate, *pki.Cert) {
	ca, _ := pki.NewCA(pki.CAOptions{})
	srv, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	client, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/ns/prod/sa/web"})
	return ca, srv.TLSCertificate(), client
}

// serveExample serves srv on a loopback port and returns its URL.
func serveExample(srv *http.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	return "https://" + ln.Addr().String() + "/"
}

// getExample GETs url as a client presenting cert (none when nil) and
// returns the body.
func getExample(url string, ca *pki.CA, cert *pki.Cert) string {
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	if cert != nil {
		conf.Certificates = []tls.Certificate{cert.TLSCertificate()}
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}}
	resp, err := c.Get(url)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return strings.TrimSpace(string(body))
}
