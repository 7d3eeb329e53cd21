package mtls_test

import (
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestAuthorizeTrustDomainRefusesIDWithPath: AuthorizeTrustDomain takes
// "prod.example" or "spiffe://prod.example". Given a whole SPIFFE ID
// ("spiffe://prod.example/ns/admin", as the forgeproof serve key
// trust-domains may be written by mistake for spiffe-ids), it used to keep
// only its trust domain and allow every workload in it: a typo that widens
// an allow list silently. It must be a configuration error. The twins
// (the two documented spellings) are accepted.
func TestAuthorizeTrustDomainRefusesIDWithPath(t *testing.T) {
	for _, d := range []string{"prod.example", "spiffe://prod.example"} {
		if _, err := mtls.AuthorizeTrustDomain(d); err != nil {
			t.Errorf("AuthorizeTrustDomain(%q): %v", d, err)
		}
	}
	for _, d := range []string{"spiffe://prod.example/ns/admin", "spiffe://prod.example/x"} {
		if _, err := mtls.AuthorizeTrustDomain(d); err == nil {
			t.Errorf("AuthorizeTrustDomain(%q) accepted: it would allow every ID in prod.example", d)
		}
	}
}
