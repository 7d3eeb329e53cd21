package forwarded_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// fwdCerts are the certificates the forwarded-identity tests share: minted
// once per test binary (key generation dominates otherwise), in memory.
type fwdCerts struct {
	ca        *pki.CA
	otherCA   *pki.CA
	client    *pki.Cert // the end user: a SPIFFE SVID
	clientCN  *pki.Cert // an end user with a subject that needs quoting
	gateway   *pki.Cert // the trusted forwarder
	impostor  *pki.Cert // a client of the same CA that is not the forwarder
	server    *pki.Cert
	foreignGW *pki.Cert // claims the gateway's SPIFFE ID, issued by otherCA
}

var (
	fwdOnce sync.Once
	fwd     fwdCerts
)

const (
	gatewayID  = "spiffe://example.org/gateway"
	clientID   = "spiffe://example.org/ns/prod/sa/web"
	impostorID = "spiffe://example.org/ns/prod/sa/evil"
)

func certs(tb testing.TB) fwdCerts {
	tb.Helper()
	fwdOnce.Do(func() {
		fwd.ca = pkitest.CA(tb)
		fwd.otherCA = pkitest.CA(tb)
		fwd.client = pkitest.SPIFFE(tb, fwd.ca, clientID)
		fwd.clientCN = pkitest.Client(tb, fwd.ca, pki.ClientOptions{
			CommonName:         `Alice "Al" O'Neil, Jr.; admin=no`,
			OrganizationalUnit: []string{"Payments"},
			DNSNames:           []string{"alice.example.org", "a.example.org"},
			URIs:               []*url.URL{{Scheme: "https", Host: "id.example.org", Path: "/alice"}},
		})
		fwd.gateway = pkitest.SPIFFE(tb, fwd.ca, gatewayID)
		fwd.impostor = pkitest.SPIFFE(tb, fwd.ca, impostorID)
		fwd.server = pkitest.Server(tb, fwd.ca)
		fwd.foreignGW = pkitest.SPIFFE(tb, fwd.otherCA, gatewayID)
	})
	if fwd.ca == nil {
		tb.Fatal("minting the test certificates failed earlier")
	}
	return fwd
}

// trustSPIFFE is the forwarder authorizer of these tests: exactly one
// SPIFFE ID. (The package's own constructors would do as well; a literal
// keeps these tests independent of them.)
func trustSPIFFE(want string) mtls.Authorizer {
	return func(id mtls.Identity) error {
		if id.SPIFFEID.String() != want {
			return fmt.Errorf("forwarder %q is not %q", id.SPIFFEID, want)
		}
		return nil
	}
}

// connectionIdentity stores the identity of a connection that crypto/tls
// verified (mtls.IdentityFromTLS) in the request context, as
// mtls.Server.Handler does for its own connections.
func connectionIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if id, ok := mtls.IdentityFromTLS(r.TLS); ok {
			r = r.WithContext(mtls.ContextWithIdentity(r.Context(), id))
		}
		next.ServeHTTP(w, r)
	})
}

// identitySource says where an identity came from, as the gateway's
// access log does.
func identitySource(id mtls.Identity) string {
	if id.Forwarded {
		return "forwarded"
	}
	return "connection"
}
