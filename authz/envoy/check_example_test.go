package envoy_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/url"
	"strings"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/peer"

	"github.com/forgeproof/forgeproof/authz/envoy"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// One decision, asked in-process as Envoy's ext_authz filter asks it over
// gRPC: a same-origin POST is allowed with the identity headers to set
// upstream, a cross-site one denied with its status and reason code.
func ExampleServer_Check() {
	g, err := gateway.New(&gateway.Config{
		Authz: &gateway.Authz{
			Address:            "127.0.0.1:0",
			Proxy:              gateway.ProxyEnvoy,
			TrustedCallers:     []string{"127.0.0.1"}, // Envoy's address
			ClientCertificates: gateway.ClientCertificates{VerifiedByProxy: true},
		},
		Routes: []gateway.Route{{Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://example.org/*"}}}},
		Admin:  gateway.Admin{Address: "off"},
	}, gateway.Options{})
	if err != nil {
		log.Fatal(err)
	}
	s := envoy.NewServer(g)

	ca, _ := pki.NewCA(pki.CAOptions{})
	client, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/web"})
	// The caller, as gRPC reports it to Check.
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}})
	for _, site := range []string{"same-origin", "cross-site"} {
		resp, err := s.Check(ctx, &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{
				Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
					Address: "198.51.100.7", PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: 50123},
				}}},
				// include_peer_certificate: the certificate Envoy verified, URL-encoded PEM.
				Certificate: strings.ReplaceAll(url.QueryEscape(string(pki.EncodeCertsPEM(client.Cert))), "+", "%20"),
			},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/transfer", Host: "bank.example", Scheme: "https", Protocol: "HTTP/1.1",
				Headers: map[string]string{":method": "POST", ":path": "/transfer", ":authority": "bank.example", "sec-fetch-site": site},
			}},
		}})
		if err != nil {
			log.Fatal(err)
		}
		if ok := resp.GetOkResponse(); ok != nil {
			for _, h := range ok.GetHeaders() {
				if h.GetHeader().GetKey() == strings.ToLower(gateway.HeaderClientIdentity) {
					fmt.Printf("%s: allowed, %s: %s\n", site, h.GetHeader().GetKey(), h.GetHeader().GetValue())
				}
			}
			continue
		}
		d := resp.GetDeniedResponse()
		fmt.Printf("%s: denied %d, reason %s\n", site, d.GetStatus().GetCode(),
			resp.GetDynamicMetadata().GetFields()[envoy.MetadataReason].GetStringValue())
	}
	// Output:
	// same-origin: allowed, forgeproof-client-identity: spiffe://example.org/web
	// cross-site: denied 403, reason cross-site
}
