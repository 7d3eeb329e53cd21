package forwarded_test

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// clientCertCases are the Client-Cert table; FuzzRFC9440 is seeded from it.
// {{cert}} stands for the base64 DER of the client certificate.
var clientCertCases = []struct {
	name    string
	values  []string
	wantErr string // substring of the error; "" means accepted
}{
	{"canonical", []string{":{{cert}}:"}, ""},
	{"leading and trailing spaces", []string{"  :{{cert}}:  "}, ""},
	{"padding omitted (RFC 9651 says accept)", []string{":{{cert-nopad}}:"}, ""},
	{"missing header", nil, "header is missing"},
	{"two lines", []string{":{{cert}}:", ":{{cert}}:"}, "appears 2 times"},
	{"two members on one line", []string{":{{cert}}:, :{{cert}}:"}, `unexpected ", :`},
	{"empty value", []string{""}, "missing byte sequence"},
	{"empty byte sequence", []string{"::"}, "empty byte sequence"},
	{"no colons (raw base64)", []string{"{{cert}}"}, "is not a byte sequence"},
	{"PEM instead of sf-binary", []string{"-----BEGIN CERTIFICATE-----"}, "is not a byte sequence"},
	{"unterminated", []string{":{{cert}}"}, "no closing ':'"},
	{"base64url alphabet", []string{":ab-_:"}, "invalid base64 character '-'"},
	{"space inside", []string{":{{cert-half}} {{cert-rest}}:"}, "invalid base64 character ' '"},
	{"wrong padding", []string{":QQ=:"}, "invalid base64"},
	{"parameters", []string{":{{cert}}:;a=1"}, "parameters are not allowed"},
	{"inner list", []string{"(:{{cert}}:)"}, "inner list"},
	{"not DER", []string{":aGVsbG8=:"}, "not a DER certificate"},
	{"tab before (only SP is stripped)", []string{"\t:{{cert}}:"}, "is not a byte sequence"},
}

func expand(tb testing.TB, s string) string {
	c := certs(tb)
	b64 := base64.StdEncoding.EncodeToString(c.client.Cert.Raw)
	return strings.NewReplacer(
		"{{cert}}", b64,
		"{{cert-nopad}}", strings.TrimRight(b64, "="),
		"{{cert-half}}", b64[:len(b64)/2],
		"{{cert-rest}}", b64[len(b64)/2:],
		"{{ca}}", base64.StdEncoding.EncodeToString(c.ca.Cert.Raw),
	).Replace(s)
}

func expandAll(tb testing.TB, vs []string) []string {
	if vs == nil {
		return nil
	}
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = expand(tb, v)
	}
	return out
}

func TestParseClientCert(t *testing.T) {
	want := certs(t).client.Cert
	for _, tt := range clientCertCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := forwarded.ParseClientCert(expandAll(t, tt.values))
			checkErr(t, err, tt.wantErr, forwarded.HeaderClientCert)
			if tt.wantErr == "" && !got.Equal(want) {
				t.Errorf("got certificate %q, want %q", got.Subject, want.Subject)
			}
		})
	}
}

// checkErr checks that err is nil when wantErr is "", and otherwise a
// *Error about header whose message contains wantErr.
func checkErr(t *testing.T, err error, wantErr, header string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatalf("got error %v, want none", err)
		}
		return
	}
	if err == nil {
		t.Fatalf("got no error, want one containing %q", wantErr)
	}
	var he *forwarded.Error
	if !errors.As(err, &he) {
		t.Fatalf("got %T, want *forwarded.Error", err)
	}
	if he.Header != header {
		t.Errorf("got header %q, want %q", he.Header, header)
	}
	if forwarded.ReasonOf(err) != forwarded.ReasonInvalid {
		t.Errorf("got reason %q, want %q", forwarded.ReasonOf(err), forwarded.ReasonInvalid)
	}
	if !strings.Contains(err.Error(), wantErr) {
		t.Errorf("got error %q, want it to contain %q", err, wantErr)
	}
	if !strings.HasPrefix(err.Error(), "forwarded: invalid "+header+" header") {
		t.Errorf("got error %q, want the prefix %q", err, "forwarded: invalid "+header+" header")
	}
}

var clientCertChainCases = []struct {
	name    string
	values  []string
	want    int // certificates
	wantErr string
}{
	{"absent", nil, 0, ""},
	{"one", []string{":{{ca}}:"}, 1, ""},
	{"two on one line", []string{":{{cert}}:, :{{ca}}:"}, 2, ""},
	{"tabs and no space", []string{":{{cert}}:\t,:{{ca}}:"}, 2, ""},
	{"split across lines", []string{":{{cert}}:", ":{{ca}}:"}, 2, ""},
	{"empty line", []string{""}, 0, ""},
	{"trailing comma", []string{":{{ca}}:,"}, 0, "element 1: trailing ','"},
	{"empty member", []string{":{{ca}}:,,:{{ca}}:"}, 0, "element 2: empty member"},
	{"second member not DER", []string{":{{ca}}:, :aGVsbG8=:"}, 0, "element 2: not a DER certificate"},
	{"token member", []string{"foo"}, 0, `element 1: "foo" is not a byte sequence`},
	{"parameters", []string{":{{ca}}:;x"}, 0, "parameters are not allowed"},
	{"no comma", []string{":{{ca}}: :{{ca}}:"}, 0, "want ','"},
	{"too many", []string{strings.Repeat(":{{ca}}:, ", 16) + ":{{ca}}:"}, 0, "element 17: more than 16 certificates"},
	{"sixteen", []string{strings.Repeat(":{{ca}}:, ", 15) + ":{{ca}}:"}, 16, ""},
}

func TestParseClientCertChain(t *testing.T) {
	for _, tt := range clientCertChainCases {
		t.Run(tt.name, func(t *testing.T) {
			got, err := forwarded.ParseClientCertChain(expandAll(t, tt.values))
			checkErr(t, err, tt.wantErr, forwarded.HeaderClientCertChain)
			if tt.wantErr == "" && len(got) != tt.want {
				t.Errorf("got %d certificates, want %d", len(got), tt.want)
			}
		})
	}
}

func TestClientCertRoundTrip(t *testing.T) {
	c := certs(t)
	got, err := forwarded.ParseClientCert([]string{forwarded.FormatClientCert(c.client.Cert)})
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(c.client.Cert) {
		t.Errorf("got %q, want %q", got.Subject, c.client.Cert.Subject)
	}
	chain := []*x509.Certificate{c.gateway.Cert, c.ca.Cert}
	gotChain, err := forwarded.ParseClientCertChain([]string{forwarded.FormatClientCertChain(chain)})
	if err != nil {
		t.Fatal(err)
	}
	if len(gotChain) != 2 || !gotChain[0].Equal(chain[0]) || !gotChain[1].Equal(chain[1]) {
		t.Errorf("got %d certificates, want the 2 sent in order", len(gotChain))
	}
	if got := forwarded.FormatClientCertChain(nil); got != "" {
		t.Errorf("empty chain: got %q, want \"\"", got)
	}
}

// FuzzRFC9440 feeds one input to both RFC 9440 parsers. Neither may panic,
// and whatever ParseClientCert accepts must survive Format then Parse.
func FuzzRFC9440(f *testing.F) {
	for _, tt := range clientCertCases {
		f.Add(strings.Join(expandAll(f, tt.values), "\n"))
	}
	for _, tt := range clientCertChainCases {
		f.Add(strings.Join(expandAll(f, tt.values), "\n"))
	}
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		if chain, err := forwarded.ParseClientCertChain(lines); err == nil {
			again, err := forwarded.ParseClientCertChain([]string{forwarded.FormatClientCertChain(chain)})
			if err != nil || len(again) != len(chain) {
				t.Fatalf("chain round trip: got %d certificates, error %v; want %d", len(again), err, len(chain))
			}
		}
		cert, err := forwarded.ParseClientCert(lines)
		if err != nil {
			return
		}
		again, err := forwarded.ParseClientCert([]string{forwarded.FormatClientCert(cert)})
		if err != nil || !again.Equal(cert) {
			t.Fatalf("round trip: got error %v", err)
		}
	})
}

func BenchmarkParseClientCert(b *testing.B) {
	v := []string{forwarded.FormatClientCert(certs(b).client.Cert)}
	b.SetBytes(int64(len(v[0])))
	for b.Loop() {
		if _, err := forwarded.ParseClientCert(v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseClientCertDERBaseline is x509.ParseCertificate alone, the
// floor under BenchmarkParseClientCert: the difference is the header
// parsing and base64.
func BenchmarkParseClientCertDERBaseline(b *testing.B) {
	der := certs(b).client.Cert.Raw
	for b.Loop() {
		if _, err := x509.ParseCertificate(der); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseClientCertChain(b *testing.B) {
	c := certs(b)
	v := []string{forwarded.FormatClientCertChain([]*x509.Certificate{c.gateway.Cert, c.ca.Cert})}
	b.SetBytes(int64(len(v[0])))
	for b.Loop() {
		if _, err := forwarded.ParseClientCertChain(v); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFormatClientCert(b *testing.B) {
	cert := certs(b).client.Cert
	for b.Loop() {
		_ = forwarded.FormatClientCert(cert)
	}
}
