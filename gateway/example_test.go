package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// The gateway in-process, as the demo runs it: a development PKI on disk,
// an upstream on loopback, a config built in Go, free ports.
func ExampleNew() {
	dir, ca, client := examplePKI() // ca.pem, server.pem, server-key.pem
	defer os.RemoveAll(dir)
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "hello %s", r.Header.Get(gateway.HeaderClientIdentity))
	}))
	defer upstream.Close()
	g, err := gateway.New(&gateway.Config{
		Listeners: []gateway.Listener{{Address: "127.0.0.1:0", TLS: gateway.ListenerTLS{
			CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"),
			ClientCAFiles: []string{filepath.Join(dir, "ca.pem")}, ClientAuth: mtls.VerifyClientCertIfGiven,
		}}},
		Routes: []gateway.Route{{Upstream: upstream.URL, Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://example.org/*"}}}},
		Admin:  gateway.Admin{Address: "off"},
	}, gateway.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := g.Listen(); err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error)
	go func() { served <- g.Serve(ctx) }()
	fmt.Println(exampleGet(g, ca, client))
	stop() // graceful drain
	fmt.Println("drained:", <-served)
	// Output:
	// 200 hello spiffe://example.org/web
	// drained: <nil>
}

// examplePKI writes a development CA (ca.pem) and a server certificate for
// localhost (server.pem, server-key.pem) to a new folder, and issues a
// client certificate for spiffe://example.org/web.
func examplePKI() (dir string, ca *pki.CA, client *pki.Cert) {
	dir, _ = os.MkdirTemp("", "gateway-example")
	ca, _ = pki.NewCA(pki.CAOptions{})
	ca.Save(dir)
	srv, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	srv.Save(dir, "server.pem", "server-key.pem")
	client, _ = ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/web"})
	return dir, ca, client
}

// exampleGet sends GET / to g's first listener with client's certificate
// and returns the status and the body.
func exampleGet(g *gateway.Gateway, ca *pki.CA, client *pki.Cert) string {
	_, port, _ := net.SplitHostPort(g.Addrs()[0].String())
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: client.ClientTLSConfig(ca)}}
	resp, err := c.Get("https://localhost:" + port + "/")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return fmt.Sprint(resp.StatusCode, " ", string(body))
}

// Every key that cannot be decoded, with its file, line and key path.
// LoadConfig also validates the rest and reads the files it names.
func ExampleParseConfig() {
	yaml := `
listeners:
  - address: ":8443"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem], client-auth: sometimes}
routes:
  - upstream: http://127.0.0.1:9000
    csrf: {mode: "off", trusted-origins: [example.com]}
    alow: {spiffe-ids: ["spiffe://example.org/web"]}
`
	_, err := gateway.ParseConfig("gateway.yaml", []byte(yaml))
	var errs gateway.ConfigErrors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Println(e)
		}
	}
	// Output:
	// gateway.yaml:4: listeners[0].tls.client-auth: unknown client auth mode "sometimes": want require or verify-if-given
	// gateway.yaml:7: routes[0].csrf.mode: "off" is not a mode: to turn CSRF protection off, write "insecure-off"
	// gateway.yaml:8: routes[0].alow: unknown key (did you mean "allow"?)
}
