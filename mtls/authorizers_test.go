package mtls_test

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

func identityOf(t testing.TB, ca *pki.CA, opts pki.ClientOptions) mtls.Identity {
	t.Helper()
	return mtls.NewIdentity(pkitest.Client(t, ca, opts).Cert)
}

// mustAuth returns a function that unwraps a constructor's result.
func mustAuth(t testing.TB) func(mtls.Authorizer, error) mtls.Authorizer {
	return func(a mtls.Authorizer, err error) mtls.Authorizer {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
}

func TestAuthorizers(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	web := identityOf(t, ca, pki.ClientOptions{CommonName: "web", OrganizationalUnit: []string{"payments"}, SPIFFEID: "spiffe://prod.example/ns/payments/sa/web", DNSNames: []string{"web.prod.example"}})
	api := identityOf(t, ca, pki.ClientOptions{CommonName: "api", OrganizationalUnit: []string{"search"}, SPIFFEID: "spiffe://dev.example/ns/search/sa/api", DNSNames: []string{"a.b.prod.example"}})
	plain := identityOf(t, ca, pki.ClientOptions{CommonName: "alice"})
	var none mtls.Identity
	must := mustAuth(t)

	tests := []struct {
		name       string
		authorizer mtls.Authorizer
		id         mtls.Identity
		wantReason mtls.Reason // "" = allowed
	}{
		{name: "any verified allows", authorizer: mtls.AuthorizeAnyVerified(), id: plain},
		{name: "any verified denies none", authorizer: mtls.AuthorizeAnyVerified(), id: none, wantReason: mtls.ReasonNoIdentity},
		{name: "spiffe exact allows", authorizer: must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/payments/sa/web")), id: web},
		{name: "spiffe exact denies other", authorizer: must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/payments/sa/web")), id: api, wantReason: mtls.ReasonSPIFFEIDDenied},
		{name: "spiffe wildcard allows", authorizer: must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web")), id: web},
		{name: "spiffe wildcard denies", authorizer: must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/api")), id: web, wantReason: mtls.ReasonSPIFFEIDDenied},
		{name: "spiffe denies no id", authorizer: must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web")), id: plain, wantReason: mtls.ReasonSPIFFEIDDenied},
		{name: "spiffe denies none", authorizer: must(mtls.AuthorizeSPIFFEID("spiffe://prod.example/ns/*/sa/web")), id: none, wantReason: mtls.ReasonNoIdentity},
		{name: "trust domain allows", authorizer: must(mtls.AuthorizeTrustDomain("prod.example")), id: web},
		{name: "trust domain denies", authorizer: must(mtls.AuthorizeTrustDomain("spiffe://prod.example")), id: api, wantReason: mtls.ReasonTrustDomainDenied},
		{name: "dns wildcard allows", authorizer: must(mtls.AuthorizeDNSName("*.prod.example")), id: web},
		{name: "dns wildcard one label only", authorizer: must(mtls.AuthorizeDNSName("*.prod.example")), id: api, wantReason: mtls.ReasonDNSNameDenied},
		{name: "dns denies no names", authorizer: must(mtls.AuthorizeDNSName("*.prod.example")), id: plain, wantReason: mtls.ReasonDNSNameDenied},
		{name: "cn allows", authorizer: mtls.AuthorizeCommonName("alice", "bob"), id: plain},
		{name: "cn denies", authorizer: mtls.AuthorizeCommonName("bob"), id: plain, wantReason: mtls.ReasonCommonNameDenied},
		{name: "cn empty never matches", authorizer: mtls.AuthorizeCommonName(""), id: identityOf(t, ca, pki.ClientOptions{DNSNames: []string{"x.example"}}), wantReason: mtls.ReasonCommonNameDenied},
		{name: "ou allows", authorizer: mtls.AuthorizeOrganizationalUnit("payments"), id: web},
		{name: "ou denies", authorizer: mtls.AuthorizeOrganizationalUnit("payments"), id: api, wantReason: mtls.ReasonOrganizationalUnitDenied},
		{name: "spki hex allows", authorizer: must(mtls.AuthorizeSPKI(hex.EncodeToString(web.SPKISHA256[:]))), id: web},
		{name: "spki denies", authorizer: must(mtls.AuthorizeSPKI(hex.EncodeToString(web.SPKISHA256[:]))), id: api, wantReason: mtls.ReasonSPKIDenied},
		{name: "any-of allows on one", authorizer: mtls.AuthorizeAnyOf(mtls.AuthorizeCommonName("bob"), mtls.AuthorizeCommonName("alice")), id: plain},
		{name: "any-of same reasons kept", authorizer: mtls.AuthorizeAnyOf(mtls.AuthorizeCommonName("bob"), mtls.AuthorizeCommonName("carol")), id: plain, wantReason: mtls.ReasonCommonNameDenied},
		{name: "any-of mixed reasons generic", authorizer: mtls.AuthorizeAnyOf(mtls.AuthorizeCommonName("bob"), mtls.AuthorizeOrganizationalUnit("x")), id: plain, wantReason: mtls.ReasonIdentityDenied},
		{name: "any-of empty denies", authorizer: mtls.AuthorizeAnyOf(), id: plain, wantReason: mtls.ReasonIdentityDenied},
		{name: "custom error is a denial", authorizer: func(mtls.Identity) error { return errors.New("no") }, id: web, wantReason: mtls.ReasonIdentityDenied},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.authorizer(tt.id)
			if got := mtls.ReasonOf(err); got != tt.wantReason {
				t.Errorf("got reason %q (%v), want %q", got, err, tt.wantReason)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "mtls: ") && tt.name != "custom error is a denial" {
				t.Errorf("got error %q, want the mtls: prefix", err)
			}
		})
	}
}

func TestSPKIPinForms(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	id := identityOf(t, ca, pki.ClientOptions{CommonName: "a"})
	hexPin := hex.EncodeToString(id.SPKISHA256[:])
	var colon strings.Builder
	for i := 0; i < len(hexPin); i += 2 {
		if i > 0 {
			colon.WriteByte(':')
		}
		colon.WriteString(strings.ToUpper(hexPin[i : i+2]))
	}
	b64 := b64Pin(id)
	for _, pin := range []string{hexPin, "sha256:" + hexPin, colon.String(), b64, "sha256/" + b64} {
		a, err := mtls.AuthorizeSPKI(pin)
		if err != nil {
			t.Errorf("AuthorizeSPKI(%q): %v", pin, err)
			continue
		}
		if err := a(id); err != nil {
			t.Errorf("pin %q: got %v, want allowed", pin, err)
		}
	}
	for _, bad := range []string{"", "abc", hexPin[:62], "sha256/" + b64[:10]} {
		if _, err := mtls.AuthorizeSPKI(bad); err == nil {
			t.Errorf("AuthorizeSPKI(%q): got no error", bad)
		}
	}
}

func TestAuthorizerConstructorErrors(t *testing.T) {
	t.Parallel()
	if _, err := mtls.AuthorizeSPIFFEID("spiffe://x/web-*"); err == nil {
		t.Error("AuthorizeSPIFFEID: got no error for a partial wildcard")
	}
	if _, err := mtls.AuthorizeTrustDomain("Not A Domain"); err == nil {
		t.Error("AuthorizeTrustDomain: got no error")
	}
	if _, err := mtls.AuthorizeDNSName("a.*.com"); err == nil {
		t.Error("AuthorizeDNSName: got no error")
	}
}

func TestClientAuthModeText(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    mtls.ClientAuthMode
		wantErr bool
	}{
		{name: "require", in: "require", want: mtls.RequireClientCert},
		{name: "verify-if-given", in: "verify-if-given", want: mtls.VerifyClientCertIfGiven},
		{name: "unknown", in: "request", wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got mtls.ClientAuthMode
			err := got.UnmarshalText([]byte(tt.in))
			if gotErr := err != nil; gotErr != tt.wantErr {
				t.Fatalf("got error %v, want error %v", err, tt.wantErr)
			}
			if err == nil && got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if b, err := got.MarshalText(); err == nil && !tt.wantErr && string(b) != tt.in {
				t.Errorf("MarshalText: got %q, want %q", b, tt.in)
			}
		})
	}
	if _, err := mtls.ClientAuthMode(7).MarshalText(); err == nil {
		t.Error("MarshalText(ClientAuthMode(7)): got no error")
	}
}
