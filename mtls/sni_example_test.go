package mtls_test

import (
	"crypto/tls"
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

	defCert, apiCert := def.TLSCertificate(), api.TLSCertificate()
	srv, err := mtls.NewServer(mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{Certificate: &defCert}, {Certificate: &apiCert}}, // the first is the default
		ClientCAs:    []mtls.Source{{Data: pki.EncodeCertsPEM(ca.Cert)}},
	})
	if err != nil {
		log.Fatal(err)
	}
	addr := handshakeServer(srv.TLSConfig())
	for _, sni := range []string{"api.example.test", "www.example.test", "other.example.test", ""} {
		fmt.Printf("SNI %q: served %s\n", sni, servedName(addr, sni, client))
	}
	// Output:
	// SNI "api.example.test": served api.example.test
	// SNI "www.example.test": served www.example.test
	// SNI "other.example.test": served www.example.test
	// SNI "": served www.example.test
}

// handshakeServer accepts TLS connections on a loopback port with conf,
// completes each handshake and closes it; it returns the address.
func handshakeServer(conf *tls.Config) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", conf)
	if err != nil {
		log.Fatal(err)
	}
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
	return ln.Addr().String()
}

// servedName connects to addr with sni, presenting client, and returns
// the first DNS name of the certificate the server presented.
func servedName(addr, sni string, client *pki.Cert) string {
	c, err := tls.Dial("tcp", addr, &tls.Config{
		ServerName:         sni,
		InsecureSkipVerify: true, // to see what is served for any name; never in real clients
		Certificates:       []tls.Certificate{client.TLSCertificate()},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	c.Read(make([]byte, 1))
	return c.ConnectionState().PeerCertificates[0].DNSNames[0]
}
