package forwarded_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// A service behind a gateway accepts the client identity the gateway
// forwards, and only from the gateway: here, the peer whose verified
// certificate carries the gateway's SPIFFE ID.
func ExampleTrust() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	gateway, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/gateway"})
	user, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/ns/prod/sa/web"})

	trustGateway, _ := mtls.AuthorizeSPIFFEID("spiffe://example.org/gateway")
	fwd := forwarded.Trust{TrustForwarder: trustGateway}
	h := fwd.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := mtls.IdentityFromContext(r.Context()); ok {
			fmt.Fprintf(w, "%s (forwarded: %v)", id, id.Forwarded)
			return
		}
		fmt.Fprint(w, "anonymous")
	}))

	header := forwarded.FormatClientCert(user.Cert)
	fmt.Println(sendFrom(h, gateway, ca, header)) // the gateway forwards the user's certificate
	fmt.Println(sendFrom(h, user, ca, header))    // the user sends the same header directly: ignored
	// Output:
	// spiffe://example.org/ns/prod/sa/web (forwarded: true)
	// anonymous
}

// A gateway deletes every client-sent identity header, whatever its
// spelling, then sets its own from the identity it verified.
func ExampleSetHeaders() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	user, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/ns/prod/sa/web"})

	out := http.Header{}
	out["X_forwarded_client_cert"] = []string{"URI=spiffe://example.org/admin"} // sent by the client
	id := mtls.NewIdentity(user.Cert)
	err := forwarded.SetHeaders(out, id, forwarded.Options{
		Format: forwarded.XFCC,
		By:     []string{"spiffe://example.org/gateway"},
	})
	fmt.Println(err)
	elems, _ := forwarded.ParseXFCC(out.Values(forwarded.HeaderXFCC))
	fmt.Println(len(out), elems[0].By, elems[0].Identity())
	// Output:
	// <nil>
	// 1 [spiffe://example.org/gateway] spiffe://example.org/ns/prod/sa/web
}

func ExampleStripHeaders() {
	h := http.Header{}
	h.Set("X-Forwarded-Client-Cert", "URI=spiffe://example.org/admin")
	h["X_Forwarded_Client_Cert"] = []string{"URI=spiffe://example.org/admin"}
	h["client_cert"] = []string{":AAAA:"}
	h.Set("Accept", "text/html")
	fmt.Println(forwarded.StripHeaders(h), h)
	// Output: 3 map[Accept:[text/html]]
}

func ExampleParseXFCC() {
	elems, err := forwarded.ParseXFCC([]string{
		`By=spiffe://example.org/gw;Subject="CN=Alice \"Al\",O=Example";URI=spiffe://example.org/alice;DNS=a.example;DNS=b.example`,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	e := elems[0]
	fmt.Println(e.By, e.Subject, e.URI[0], e.DNS)
	_, err = forwarded.ParseXFCC([]string{`URI=spiffe://example.org/alice,Hash=12ab`})
	fmt.Println(err)
	// Output:
	// [spiffe://example.org/gw] CN=Alice "Al",O=Example spiffe://example.org/alice [a.example b.example]
	// forwarded: invalid X-Forwarded-Client-Cert header: element 2: key "Hash": "12ab" is not 64 hexadecimal digits
}

func ExampleParseClientCert() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	user, _ := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
	v := forwarded.FormatClientCert(user.Cert) // ":MIIB…:"
	cert, err := forwarded.ParseClientCert([]string{v})
	fmt.Println(cert.Subject.CommonName, err)
	_, err = forwarded.ParseClientCert([]string{v, v})
	fmt.Println(err)
	// Output:
	// alice <nil>
	// forwarded: invalid Client-Cert header: header appears 2 times, want once
}

// sendFrom serves h a request from a peer whose certificate crypto/tls
// verified, carrying the Client-Cert header clientCert, and returns the
// body.
func sendFrom(h http.Handler, peer *pki.Cert, ca *pki.CA, clientCert string) string {
	r := httptest.NewRequest("GET", "/", nil)
	r.TLS = &tls.ConnectionState{
		PeerCertificates: []*x509.Certificate{peer.Cert},
		VerifiedChains:   [][]*x509.Certificate{{peer.Cert, ca.Cert}},
	}
	r.Header.Set(forwarded.HeaderClientCert, clientCert)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w.Body.String()
}
