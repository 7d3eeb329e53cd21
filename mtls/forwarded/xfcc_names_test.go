package forwarded_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// TestXFCCNamesAuthorized: what a trusted forwarder's XFCC element says
// is decided by the same rules as a certificate. A DNS value with U+212A
// (KELVIN SIGN, which strings.ToLower folds to 'k') is not the DNS name
// kube.example.com; a URI without a path (spiffe://example.org) is a
// trust domain's or a signing authority's ID, never a workload's
// (X509-SVID §3.1, §5.2). Their twins (ASCII case, an ID with a path)
// are allowed.
func TestXFCCNamesAuthorized(t *testing.T) {
	peers, err := forwarded.ParseTrustedPeers("192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	trust := forwarded.Trust{TrustedPeers: peers, Formats: forwarded.XFCC}
	dns, _ := mtls.AuthorizeDNSName("kube.example.com")
	td, _ := mtls.AuthorizeTrustDomain("example.org")
	tests := []struct {
		name  string
		xfcc  string
		authz mtls.Authorizer
		want  int
	}{
		{"DNS in ASCII upper case (twin)", "DNS=KUBE.example.com", dns, http.StatusOK},
		{"DNS with a Kelvin sign", "DNS=\u212aube.example.com", dns, http.StatusForbidden},
		{"SPIFFE ID with a path (twin)", "URI=spiffe://example.org/ns/prod/sa/web", td, http.StatusOK},
		{"SPIFFE ID without a path", "URI=spiffe://example.org", td, http.StatusForbidden},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			guard := &mtls.Guard{Authorizer: tt.authz}
			h := trust.Handler(guard.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = "192.0.2.1:4000"
			r.Header.Set(forwarded.HeaderXFCC, tt.xfcc)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.want {
				t.Errorf("XFCC %q: status %d, want %d (%s)", tt.xfcc, w.Code, tt.want, w.Body)
			}
		})
	}
}
