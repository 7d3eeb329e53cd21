package forwarded_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// Placeholders of the XFCC table, filled in by expandXFCC:
//
//	{{hash}}      hex SHA-256 of the client certificate
//	{{pem}}       the client certificate as URL-encoded PEM (all escaped)
//	{{pem-raw}}   the same with '+', '/' and '=' left bare, as some
//	              proxies write it
//	{{chain}}     client certificate then CA, URL-encoded PEM
//	{{ca-pem}}    the CA certificate alone
const envoyHash = "468ed33be74eee6556d90c0149c1309e9ba61d6425303443c0748a02dd8de688"

var xfccCases = []struct {
	name    string
	values  []string
	want    string // summary of the elements (see summarize)
	wantErr string // substring of the error; "" means accepted
}{
	// Envoy's documented examples.
	{
		name:   "envoy example: by, hash, subject, uri",
		values: []string{`By=http://frontend.lyft.com;Hash=` + envoyHash + `;Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client";URI=http://testclient.lyft.com`},
		want:   `By=http://frontend.lyft.com Hash=468ed33b Subject="/C=US/ST=CA/L=San Francisco/OU=Lyft/CN=Test Client" URI=http://testclient.lyft.com`,
	},
	{
		name:   "envoy example: two elements",
		values: []string{`By=http://frontend.lyft.com;Hash=` + envoyHash + `;URI=http://testclient.lyft.com,By=http://backend.lyft.com;Hash=9ba61d6425303443c0748a02dd8de688468ed33be74eee6556d90c0149c1309e;URI=http://frontend.lyft.com`},
		want:   `By=http://frontend.lyft.com Hash=468ed33b URI=http://testclient.lyft.com | By=http://backend.lyft.com Hash=9ba61d64 URI=http://frontend.lyft.com`,
	},
	{
		name:   "envoy example: repeated DNS",
		values: []string{`By=http://frontend.lyft.com;Hash=` + envoyHash + `;URI=http://testclient.lyft.com;DNS=lyft.com;DNS=www.lyft.com`},
		want:   `By=http://frontend.lyft.com Hash=468ed33b URI=http://testclient.lyft.com DNS=lyft.com DNS=www.lyft.com`,
	},
	{
		name:   "quoted value with escaped quote, comma, semicolon and equals",
		values: []string{`Subject="CN=Alice \"Al\",O=x;y=z";URI=spiffe://example.org/a`},
		want:   `Subject="CN=Alice \"Al\",O=x;y=z" URI=spiffe://example.org/a`,
	},
	{
		// Envoy writes OpenSSL's RFC 2253 subject inside the quotes as it
		// is: \\ is an escaped backslash of the subject, not of XFCC.
		name:   "RFC 4514 backslash escapes kept as written",
		values: []string{`Subject="CN=a\,b\\c\+d"`},
		want:   `Subject="CN=a\\,b\\\\c\\+d"`,
	},
	{
		// The scheme is case-insensitive (RFC 3986 §3.1): not a new
		// spelling. Twin of "URI that parses as another".
		name:   "URI scheme in upper case",
		values: []string{`URI=SPIFFE://example.org/a`},
		want:   `URI=spiffe://example.org/a`,
	},
	{
		name:   "keys in any case, repeated URI and By",
		values: []string{`by=spiffe://example.org/gw;BY=spiffe://example.org/gw2;uri=spiffe://example.org/a;Uri=https://example.org/b;dns=a.example;HASH=` + strings.ToUpper(envoyHash)},
		want:   `By=spiffe://example.org/gw By=spiffe://example.org/gw2 Hash=468ed33b URI=spiffe://example.org/a URI=https://example.org/b DNS=a.example`,
	},
	{
		name:   "spaces around separators and empty quoted subject",
		values: []string{` By=spiffe://example.org/gw ; Subject="" ,  URI=spiffe://example.org/a `},
		want:   `By=spiffe://example.org/gw | URI=spiffe://example.org/a`,
	},
	{
		name:   "elements split across header lines",
		values: []string{`URI=spiffe://example.org/a`, `URI=spiffe://example.org/b,DNS=c.example`},
		want:   `URI=spiffe://example.org/a | URI=spiffe://example.org/b | DNS=c.example`,
	},
	{
		name:   "cert, hash and chain that agree",
		values: []string{`Hash={{hash}};Cert="{{pem}}";Chain="{{chain}}"`},
		want:   `Hash={{hash8}} Cert=` + clientID + ` Chain=2`,
	},
	{
		name:   "cert with bare base64 characters, unquoted",
		values: []string{`Cert={{pem-raw}}`},
		want:   `Cert=` + clientID,
	},
	{
		name:   "escaped quote before a separator (twin of the backslash before it)",
		values: []string{`Subject="a\";DNS=x.example";DNS=y.example`},
		want:   `Subject="a\";DNS=x.example" DNS=y.example`,
	},
	{
		name:   "backslash inside a bare value (twin of one at its end)",
		values: []string{`URI=x:a\b`},
		want:   `URI=x:a\b`,
	},

	// Refusals: each names the element and the key.
	{name: "missing header", values: nil, wantErr: "header is missing"},
	{name: "empty value", values: []string{""}, wantErr: "element 1: empty element"},
	{name: "empty element", values: []string{`URI=spiffe://a/b,,URI=spiffe://a/c`}, wantErr: "element 2: empty element"},
	{name: "trailing comma", values: []string{`URI=spiffe://a/b,`}, wantErr: "element 2: empty element"},
	{name: "trailing semicolon", values: []string{`URI=spiffe://a/b;`}, wantErr: "element 1: empty key=value pair"},
	{name: "unknown key", values: []string{`URI=spiffe://a/b;Role=admin`}, wantErr: `element 1: key "Role": unknown key`},
	{name: "duplicate hash", values: []string{`Hash=` + envoyHash + `;hash=` + envoyHash}, wantErr: `key "hash": key appears more than once`},
	{name: "duplicate subject", values: []string{`Subject="a";Subject="b"`}, wantErr: `key "Subject": key appears more than once`},
	{name: "duplicate cert", values: []string{`Cert="{{pem}}";Cert="{{pem}}"`}, wantErr: `key "Cert": key appears more than once`},
	{name: "pair without equals", values: []string{`URI=spiffe://a/b;admin`}, wantErr: `"admin" is not key=value`},
	{name: "empty key", values: []string{`=x`}, wantErr: "empty key"},
	{name: "unterminated quote", values: []string{`Subject="CN=a;URI=spiffe://a/b`}, wantErr: `key "Subject": unterminated quoted value`},
	{name: "quote escaped at the end", values: []string{`Subject="a\"`}, wantErr: "unterminated quoted value"},
	// Read left to right, "a\\" is a\ and an escaped quote, the value
	// running on to DNS=x.example's; read as backslash pairs, it is a\
	// and the Subject ends there.
	{name: "backslash before an escaped quote", values: []string{`Subject="a\\";DNS=x.example`}, wantErr: `key "Subject": backslash before an escaped quote`},
	{name: "three backslashes before a quote", values: []string{`Subject="a\\\";DNS=x.example"`}, wantErr: `backslash before an escaped quote`},
	{name: "bare value ending with a backslash", values: []string{`URI=x:a\`}, wantErr: `key "URI": value ends with a backslash`},
	{name: "text after the closing quote", values: []string{`Subject="a"b;URI=spiffe://a/b`}, wantErr: `unexpected "b;URI=`},
	{name: "quote inside a bare value", values: []string{`URI=spiffe://a/"b"`}, wantErr: `'"' inside an unquoted value`},
	{name: "control character", values: []string{"Subject=\"a\x00b\""}, wantErr: `control character '\x00'`},
	{name: "hash too short", values: []string{`Hash=abcd`}, wantErr: `key "Hash": "abcd" is not 64 hexadecimal digits`},
	{name: "hash not hex", values: []string{`Hash=` + strings.Repeat("zz", 32)}, wantErr: "is not 64 hexadecimal digits"},
	{name: "relative URI", values: []string{`URI=/ns/prod`}, wantErr: `key "URI": "/ns/prod" is not an absolute URI`},
	{name: "empty URI", values: []string{`URI=`}, wantErr: `"" is not an absolute URI`},
	{name: "URI that parses as another", values: []string{`URI=spiffe://example.org/a#`}, wantErr: `key "URI": "spiffe://example.org/a#" reads as "spiffe://example.org/a" once parsed`},
	{name: "empty DNS", values: []string{`DNS=""`}, wantErr: `key "DNS": "" is not a DNS name`},
	{name: "empty By", values: []string{`By=`}, wantErr: `key "By": empty value`},
	{name: "cert not PEM", values: []string{`Cert="hello"`}, wantErr: `key "Cert": not PEM certificates`},
	{name: "cert bad URL encoding", values: []string{`Cert="%zz"`}, wantErr: "invalid URL encoding"},
	{name: "cert with two certificates", values: []string{`Cert="{{chain}}"`}, wantErr: "holds 2 certificates, want 1"},
	{name: "cert PEM of a key", values: []string{`Cert="-----BEGIN%20PRIVATE%20KEY-----%0AAAAA%0A-----END%20PRIVATE%20KEY-----%0A"`}, wantErr: `PEM block "PRIVATE KEY", want CERTIFICATE`},
	{name: "cert with trailing garbage", values: []string{`Cert="{{pem}}junk"`}, wantErr: `unexpected "junk"`},
	// pem.Decode skips a damaged block: the issuer after a damaged leaf
	// was read as the client.
	{name: "cert with a damaged first block", values: []string{`Cert="-----BEGIN%20CERTIFICATE-----%0A{{ca-pem}}"`}, wantErr: `key "Cert": certificate 1 does not parse as PEM`},
	{name: "hash does not match cert", values: []string{`Hash=` + envoyHash + `;Cert="{{pem}}"`}, wantErr: `key "Hash": does not match the SHA-256 of Cert`},
	{name: "chain does not start with cert", values: []string{`Cert="{{pem}}";Chain="{{ca-pem}}"`}, wantErr: `key "Chain": first certificate is not Cert`},
	{name: "error in the second line counts elements", values: []string{`URI=spiffe://a/b,URI=spiffe://a/c`, `URI=x`}, wantErr: `element 3: key "URI": "x" is not an absolute URI`},
	{name: "too many elements", values: []string{strings.Repeat("DNS=a.example,", 32) + "DNS=a.example"}, wantErr: "more than 32 elements"},
	{name: "32 elements", values: []string{strings.Repeat("DNS=a.example,", 31) + "DNS=a.example"}, want: strings.Repeat("DNS=a.example | ", 31) + "DNS=a.example"},
}

func xfccReplacer(tb testing.TB) *strings.Replacer {
	c := certs(tb)
	p := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.client.Cert.Raw})
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.ca.Cert.Raw})
	sum := sha256.Sum256(c.client.Cert.Raw)
	h := hex.EncodeToString(sum[:])
	return strings.NewReplacer(
		"{{hash}}", h,
		"{{hash8}}", h[:8],
		"{{pem}}", url.PathEscape(string(p)),
		"{{pem-raw}}", strings.NewReplacer("\n", "%0a", " ", "%20").Replace(string(p)),
		"{{chain}}", url.PathEscape(string(p)+string(ca)),
		"{{ca-pem}}", url.PathEscape(string(ca)),
	)
}

// summarize prints elements compactly for comparison: Hash by its first
// four bytes, Cert by its SPIFFE ID or subject, Chain by its length.
func summarize(elems []forwarded.XFCCElement) string {
	var out []string
	for _, e := range elems {
		var f []string
		for _, b := range e.By {
			f = append(f, "By="+b)
		}
		if e.Hash != ([32]byte{}) {
			f = append(f, "Hash="+hex.EncodeToString(e.Hash[:4]))
		}
		if e.Cert != nil {
			f = append(f, "Cert="+mtls.NewIdentity(e.Cert).String())
		}
		if len(e.Chain) > 0 {
			f = append(f, fmt.Sprintf("Chain=%d", len(e.Chain)))
		}
		if e.Subject != "" {
			f = append(f, fmt.Sprintf("Subject=%q", e.Subject))
		}
		for _, u := range e.URI {
			f = append(f, "URI="+u.String())
		}
		for _, d := range e.DNS {
			f = append(f, "DNS="+d)
		}
		out = append(out, strings.Join(f, " "))
	}
	return strings.Join(out, " | ")
}

func TestParseXFCC(t *testing.T) {
	r := xfccReplacer(t)
	for _, tt := range xfccCases {
		t.Run(tt.name, func(t *testing.T) {
			var values []string
			for _, v := range tt.values {
				values = append(values, r.Replace(v))
			}
			elems, err := forwarded.ParseXFCC(values)
			checkErr(t, err, tt.wantErr, forwarded.HeaderXFCC)
			if tt.wantErr != "" {
				return
			}
			if got, want := summarize(elems), r.Replace(tt.want); got != want {
				t.Errorf("got  %s\nwant %s", got, want)
			}
			// Round trip: what we emit parses back to the same elements.
			again, err := forwarded.ParseXFCC([]string{forwarded.FormatXFCC(elems)})
			if err != nil {
				t.Fatalf("parsing XFCC output %q: %v", forwarded.FormatXFCC(elems), err)
			}
			for i := range elems {
				elems[i].Subject = hexDN(elems[i].Subject) // how FormatXFCC writes it
			}
			if got, want := summarize(again), summarize(elems); got != want {
				t.Errorf("round trip: got %s, want %s", got, want)
			}
		})
	}
}

func TestXFCCElementIdentity(t *testing.T) {
	c := certs(t)
	sum := sha256.Sum256(c.client.Cert.Raw)
	spiffe, _ := url.Parse(clientID)
	other, _ := url.Parse("https://example.org/x")
	tests := []struct {
		name       string
		elem       forwarded.XFCCElement
		wantString string
		wantSPIFFE string
		wantCN     string
		wantHash   [32]byte
		wantSPKI   bool
	}{
		{"cert", forwarded.XFCCElement{Cert: c.clientCN.Cert}, c.clientCN.Cert.Subject.String(), "", c.clientCN.Cert.Subject.CommonName, sha256.Sum256(c.clientCN.Cert.Raw), true},
		{"fields only", forwarded.XFCCElement{Hash: sum, URI: []*url.URL{spiffe}, DNS: []string{"a.example"}, Subject: "CN=x"}, clientID, clientID, "", sum, false},
		{"two URIs: no SPIFFE ID", forwarded.XFCCElement{URI: []*url.URL{spiffe, other}, Subject: "CN=x"}, "CN=x", "", "", [32]byte{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := tt.elem.Identity()
			if !id.Forwarded {
				t.Error("Forwarded: got false, want true")
			}
			if got := id.String(); got != tt.wantString {
				t.Errorf("String: got %q, want %q", got, tt.wantString)
			}
			gotSPIFFE := ""
			if !id.SPIFFEID.IsZero() {
				gotSPIFFE = id.SPIFFEID.String()
			}
			if gotSPIFFE != tt.wantSPIFFE {
				t.Errorf("SPIFFEID: got %q, want %q", gotSPIFFE, tt.wantSPIFFE)
			}
			if id.CommonName != tt.wantCN {
				t.Errorf("CommonName: got %q, want %q", id.CommonName, tt.wantCN)
			}
			if id.CertSHA256 != tt.wantHash {
				t.Errorf("CertSHA256: got %x, want %x", id.CertSHA256, tt.wantHash)
			}
			if got := id.SPKISHA256 != [32]byte{}; got != tt.wantSPKI {
				t.Errorf("SPKI known: got %v, want %v", got, tt.wantSPKI)
			}
		})
	}
}

// hexDN is the Subject FormatXFCC writes for dn: its RFC 4514 escapes \\
// and \" as \5C and \22.
var hexDN = strings.NewReplacer(`\\`, `\5C`, `\"`, `\22`).Replace

func TestFormatXFCCQuoting(t *testing.T) {
	u, _ := url.Parse("spiffe://example.org/a")
	tests := []struct {
		name string
		elem forwarded.XFCCElement
		want string
	}{
		{"subject always quoted", forwarded.XFCCElement{Subject: "CN=a"}, `Subject="CN=a"`},
		{"quote escaped, backslash as written", forwarded.XFCCElement{Subject: `CN=a "b" \,c`}, `Subject="CN=a \"b\" \,c"`},
		{"RFC 4514 escapes of quote and backslash as hex", forwarded.XFCCElement{Subject: `CN=a\\b\"c\,d`}, `Subject="CN=a\5Cb\22c\,d"`},
		{"bare URI", forwarded.XFCCElement{URI: []*url.URL{u}}, `URI=spiffe://example.org/a`},
		{"DNS with a comma is quoted", forwarded.XFCCElement{DNS: []string{"a,b"}}, `DNS="a,b"`},
		{"empty element", forwarded.XFCCElement{}, `Subject=""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forwarded.FormatXFCC([]forwarded.XFCCElement{tt.elem}); got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

// FuzzParseXFCC checks that ParseXFCC never panics and that what it
// accepts, once formatted, parses back and formats identically.
func FuzzParseXFCC(f *testing.F) {
	r := xfccReplacer(f)
	for _, tt := range xfccCases {
		f.Add(r.Replace(strings.Join(tt.values, "\n")))
	}
	f.Fuzz(func(t *testing.T, in string) {
		elems, err := forwarded.ParseXFCC(strings.Split(in, "\n"))
		if err != nil {
			return
		}
		first := forwarded.FormatXFCC(elems)
		again, err := forwarded.ParseXFCC([]string{first})
		if err != nil {
			t.Fatalf("parsing our own output %q: %v", first, err)
		}
		if second := forwarded.FormatXFCC(again); second != first {
			t.Fatalf("not stable:\n%q\n%q", first, second)
		}
		for _, e := range elems {
			_ = e.Identity()
		}
	})
}

func BenchmarkParseXFCC(b *testing.B) {
	r := xfccReplacer(b)
	for _, bc := range []struct{ name, value string }{
		{"fields", `By=spiffe://example.org/gateway;Hash={{hash}};Subject="CN=Test Client,OU=Lyft";URI=spiffe://example.org/ns/prod/sa/web;DNS=a.example;DNS=b.example`},
		{"cert", `By=spiffe://example.org/gateway;Hash={{hash}};Cert="{{pem}}"`},
	} {
		v := []string{r.Replace(bc.value)}
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(v[0])))
			for b.Loop() {
				if _, err := forwarded.ParseXFCC(v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkFormatXFCC(b *testing.B) {
	c := certs(b)
	id := mtls.NewIdentity(c.client.Cert)
	e := []forwarded.XFCCElement{{By: []string{gatewayID}, Hash: id.CertSHA256, Cert: id.Certificate, Subject: id.Subject, URI: id.URIs}}
	for b.Loop() {
		_ = forwarded.FormatXFCC(e)
	}
}
