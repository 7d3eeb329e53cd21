package authz_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/forgeproof/forgeproof/authz"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// The decision service for nginx auth_request, asked as nginx asks: the
// original request in X-Forwarded-* headers, the client's headers as
// they came, and the client certificate nginx verified
// ($ssl_client_escaped_cert). A same-origin POST is allowed, with the
// identity headers to set upstream; a cross-site one is refused with the
// reason code in Forgeproof-Reason.
func ExampleHandler() {
	g, err := gateway.New(&gateway.Config{
		Authz: &gateway.Authz{
			Address:            "127.0.0.1:0",
			Proxy:              gateway.ProxyNginx,
			TrustedCallers:     []string{"127.0.0.1"}, // nginx's address
			ClientCertificates: gateway.ClientCertificates{VerifiedByProxy: true},
		},
		Routes: []gateway.Route{{Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://example.org/*"}}}},
		Admin:  gateway.Admin{Address: "off"},
	}, gateway.Options{})
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(authz.Handler(g, nil)) // or authz.NewServer(g) on authz.address
	defer srv.Close()

	ca, _ := pki.NewCA(pki.CAOptions{})
	client, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/web"})
	ask := func(fetchSite string) {
		q, _ := http.NewRequest("GET", srv.URL+"/auth", nil)
		q.Header.Set(authz.HeaderMethod, "POST")
		q.Header.Set(authz.HeaderURI, "/transfer")
		q.Header.Set(authz.HeaderHost, "bank.example")
		q.Header.Set(authz.HeaderProto, "https")
		q.Header.Set(authz.HeaderClientCert, url.QueryEscape(string(pki.EncodeCertsPEM(client.Cert))))
		q.Header.Set("Sec-Fetch-Site", fetchSite) // the client's own header
		resp, err := http.DefaultClient.Do(q)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Printf("%s: %d identity=%q reason=%q\n", fetchSite, resp.StatusCode,
			resp.Header.Get(gateway.HeaderClientIdentity), resp.Header.Get(authz.HeaderReason))
	}
	ask("same-origin")
	ask("cross-site")
	// Output:
	// same-origin: 200 identity="spiffe://example.org/web" reason=""
	// cross-site: 403 identity="" reason="cross-site"
}
