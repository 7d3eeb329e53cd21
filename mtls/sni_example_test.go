package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// Two host names on one listener, each with its own certificate: the
// client's SNI picks it; a name no certificate covers, or no SNI, gets the
// default. Client certificates are verified whichever was served.
func ExampleServerConfig_sni() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	def, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"www.example.test"}})
	api, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"api.example.test"}})
	client, _ := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})

	defCert := def.TLSCertificate()
	srv, err := mtls.NewServer(mtls.ServerConfig{
		Certificate:     &defCert, // the default
		TLSCertificates: []tls.Certificate{api.TLSCertificate()},
		// Or, from files that Reload reads again:
		// Certificates: []mtls.CertKeyFile{{CertFile: "api.pem", KeyFile: "api-key.pem"}},
		ClientCAs: []*x509.Certificate{ca.Cert},
	})
	if err != nil {
		log.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig())
	if err != nil {
		log.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.(*tls.Conn).Handshake()
			c.Write([]byte{1}) // TLS 1.3: the client certificate is checked by now
			c.Close()
		}
	}()

	for _, sni := range []string{"api.example.test", "www.example.test", "other.example.test", ""} {
		conf := &tls.Config{
			ServerName:         sni,
			InsecureSkipVerify: true, // to see what is served for any name; never in real clients
			Certificates:       []tls.Certificate{client.TLSCertificate()},
		}
		c, err := tls.Dial("tcp", ln.Addr().String(), conf)
		if err != nil {
			log.Fatal(err)
		}
		c.Read(make([]byte, 1))
		fmt.Printf("SNI %q: served %s\n", sni, c.ConnectionState().PeerCertificates[0].DNSNames[0])
		c.Close()
	}
	for _, c := range srv.Certificates() {
		fmt.Println("in use:", c.DNSNames[0])
	}
	// Output:
	// SNI "api.example.test": served api.example.test
	// SNI "www.example.test": served www.example.test
	// SNI "other.example.test": served www.example.test
	// SNI "": served www.example.test
	// in use: www.example.test
	// in use: api.example.test
}
