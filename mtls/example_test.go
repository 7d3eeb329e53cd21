package mtls_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
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
// new CRL revokes is refused (403, Connection: close) at its next request.
func ExampleServer_Handler() {
	s, err := mtls.NewServer(mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{CertFile: "server.pem", KeyFile: "server-key.pem"}},
		ClientCAs:    []mtls.Source{{File: "ca.pem"}},
		CRLs:         []mtls.Source{{File: "crl.pem"}},
	})
	if err != nil {
		log.Fatal(err)
	}
	go s.Watch(context.Background()) // reload when the files change
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.IdentityFromContext(r.Context())
		fmt.Fprintf(w, "hello %s\n", id)
	})
	srv := &http.Server{Addr: ":8443", Handler: s.Handler(app), ConnContext: s.ConnContext, TLSConfig: s.TLSConfig()}
	log.Fatal(srv.ListenAndServeTLS("", ""))
}

// serveExample serves srv on a loopback port and returns its URL.
// examplePKI issues a development CA, a server certificate for localhost
// and a client certificate for spiffe://example.org/ns/prod/sa/web.
func examplePKI() (*pki.CA, tls.Certificate, *pki.Cert) {
	ca, _ := pki.NewCA(pki.CAOptions{})
	srv, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	client, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/ns/prod/sa/web"})
	return ca, srv.TLSCertificate(), client
}

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
