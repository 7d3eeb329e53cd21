package mtls_test

import (
	"errors"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestAuthorizerConstructorErrorForm: the Authorize… constructors and ClientAuthMode's text methods refuse
// their arguments with an *mtls.Error of reason invalid-config that reads
// "mtls: " and what is wrong, as NewServer's problems do, not with a bare
// error that ReasonOf would report as identity-denied. Each refused
// argument sits next to its accepted twin. An IP address given as a DNS
// name pattern is refused: a certificate carries it as an IP SAN, which
// no DNS name pattern matches.
func TestAuthorizerConstructorErrorForm(t *testing.T) {
	call := func(f func(...string) (mtls.Authorizer, error), arg string) func() error {
		return func() error { _, err := f(arg); return err }
	}
	mode := func(s string) func() error {
		return func() error { var m mtls.ClientAuthMode; return m.UnmarshalText([]byte(s)) }
	}
	tests := []struct {
		name    string
		apply   func() error
		wantErr string
	}{
		{"DNS IPv4 address", call(mtls.AuthorizeDNSName, "10.0.0.1"),
			`mtls: invalid DNS name pattern "10.0.0.1": an IP address is not a DNS name: a certificate carries it as an IP SAN, which no authorizer matches (allow the client by its SPIFFE ID, a DNS name or an SPKI pin)`},
		{"DNS IPv6 address", call(mtls.AuthorizeDNSName, "2001:db8::1"),
			`mtls: invalid DNS name pattern "2001:db8::1": an IP address is not a DNS name: a certificate carries it as an IP SAN, which no authorizer matches (allow the client by its SPIFFE ID, a DNS name or an SPKI pin)`},
		{"DNS bracketed IPv6 address", call(mtls.AuthorizeDNSName, "[::1]"),
			`mtls: invalid DNS name pattern "[::1]": an IP address is not a DNS name: a certificate carries it as an IP SAN, which no authorizer matches (allow the client by its SPIFFE ID, a DNS name or an SPKI pin)`},
		{"DNS wildcard over an address", call(mtls.AuthorizeDNSName, "*.0.0.1"),
			`mtls: invalid DNS name pattern "*.0.0.1": an IP address is not a DNS name: a certificate carries it as an IP SAN, which no authorizer matches (allow the client by its SPIFFE ID, a DNS name or an SPKI pin)`},
		{"DNS address-like name ok", call(mtls.AuthorizeDNSName, "10-0-0-1.nodes.example"), ""},
		{"DNS digits before a name label ok", call(mtls.AuthorizeDNSName, "10.0.0.1.example"), ""},
		{"DNS wildcard", call(mtls.AuthorizeDNSName, "a.*.example"),
			`mtls: invalid DNS name pattern "a.*.example": a wildcard is only allowed as the whole first label`},
		{"DNS wildcard ok", call(mtls.AuthorizeDNSName, "*.a.example"), ""},
		{"SPIFFE ID without path", call(mtls.AuthorizeSPIFFEID, "spiffe://prod.example"),
			`mtls: invalid SPIFFE ID pattern "spiffe://prod.example": it has no path, and a workload's SPIFFE ID always has one (to allow a whole trust domain, use trust domains)`},
		{"SPIFFE ID ok", call(mtls.AuthorizeSPIFFEID, "spiffe://prod.example/web"), ""},
		{"trust domain with a path", call(mtls.AuthorizeTrustDomain, "spiffe://prod.example/web"),
			`mtls: invalid trust domain "spiffe://prod.example/web": want "prod.example" or "spiffe://prod.example" (a SPIFFE ID with a path names workloads: use AuthorizeSPIFFEID)`},
		{"trust domain upper case", call(mtls.AuthorizeTrustDomain, "Prod.Example"),
			`mtls: invalid trust domain "Prod.Example": trust domain characters are limited to lowercase letters, numbers, dots, dashes, and underscores`},
		{"trust domain ok", call(mtls.AuthorizeTrustDomain, "prod.example"), ""},
		{"SPKI pin", call(mtls.AuthorizeSPKI, "abc"), `mtls: invalid SPKI pin "abc": want a SHA-256 in hex or base64`},
		{"SPKI pin ok", call(mtls.AuthorizeSPKI, "sha256/47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="), ""},
		{"client auth mode", mode("optional"), `mtls: unknown client auth mode "optional": want require or verify-if-given`},
		{"client auth mode ok", mode("verify-if-given"), ""},
		{"client auth mode out of range", func() error { _, err := mtls.ClientAuthMode(7).MarshalText(); return err },
			"mtls: invalid client auth mode 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.apply()
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Fatalf("got %v, want %v", got, tt.wantErr)
			}
			if err == nil {
				return
			}
			var e *mtls.Error
			if !errors.As(err, &e) || mtls.ReasonOf(err) != mtls.ReasonInvalidConfig {
				t.Errorf("got %T with reason %q, want an *mtls.Error with reason %q", err, mtls.ReasonOf(err), mtls.ReasonInvalidConfig)
			}
		})
	}
}
