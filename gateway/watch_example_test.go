package gateway_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// A gateway built from its config file picks up a rotated server
// certificate by itself: a cron job (here, Save) rewrites the files and
// new connections get the new certificate, with no signal and no call.
func ExampleGateway_WatchFile() {
	dir, ca, _ := examplePKI() // ca.pem, server.pem, server-key.pem
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(path, []byte(`listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem]}
routes: [{upstream: "http://127.0.0.1:9000", allow: {any-verified: true}}]
admin: {address: "off"}
`), 0o600)
	g, err := gateway.NewFromFile(path, gateway.Options{})
	if err != nil {
		log.Fatal(err)
	}
	if err := g.Listen(); err != nil {
		log.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go g.Serve(ctx)
	go g.WatchFile(ctx, path, gateway.WatchOptions{Interval: gateway.DefaultWatchInterval})

	next, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	next.Save(dir, "server.pem", "server-key.pem") // a cron job rotates the certificate
	want := next.Cert.SerialNumber.String()
	for deadline := time.Now().Add(10 * time.Second); servedSerial(g, ca) != want && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("rotated certificate served:", servedSerial(g, ca) == want)
	// Output:
	// rotated certificate served: true
}

// servedSerial is the serial number of the certificate g's first listener
// presents now.
func servedSerial(g *gateway.Gateway, ca *pki.CA) string {
	conn, err := tls.Dial("tcp", g.Addrs()[0].String(), &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"})
	if err != nil {
		return err.Error()
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.String()
}
