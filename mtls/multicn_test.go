package mtls_test

import (
	"crypto/x509/pkix"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestAuthorizeCommonNameAmbiguous: a subject with two common names
// (CN=admin, then CN=web) is "web" to Go (the last) and "admin" to
// OpenSSL and Java (the first), so a common-name allow list cannot say
// which one it allowed: refused, in any order and also as one
// multi-valued RDN. The twin with one CN passes; an identity without a
// certificate (forwarded as XFCC without Cert) is decided on its
// CommonName as before.
func TestAuthorizeCommonNameAmbiguous(t *testing.T) {
	ca := pkitest.CA(t)
	cn := pkitest.CommonName
	issue := func(rdns pkix.RDNSequence) mtls.Identity {
		return mtls.NewIdentity(pkitest.ClientWithSubject(t, ca, rdns).Cert)
	}
	auth := mtls.AuthorizeCommonName("web")
	tests := []struct {
		name string
		id   mtls.Identity
		want mtls.Reason // "" allowed
	}{
		{"admin then web", issue(pkix.RDNSequence{{cn("admin")}, {cn("web")}}), mtls.ReasonCommonNameDenied},
		{"web then admin", issue(pkix.RDNSequence{{cn("web")}, {cn("admin")}}), mtls.ReasonCommonNameDenied},
		{"multi-valued RDN", issue(pkix.RDNSequence{{cn("admin"), cn("web")}}), mtls.ReasonCommonNameDenied},
		{"web twice", issue(pkix.RDNSequence{{cn("web")}, {cn("web")}}), mtls.ReasonCommonNameDenied},
		{"one CN", issue(pkix.RDNSequence{{cn("web")}}), ""},
		{"no certificate, CommonName web", mtls.Identity{CommonName: "web", Subject: "CN=web"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := auth(tt.id)
			if got := mtls.ReasonOf(err); (err == nil) != (tt.want == "") || (err != nil && got != tt.want) {
				t.Errorf("got %v (%q), want %q", err, got, tt.want)
			}
		})
	}
}
