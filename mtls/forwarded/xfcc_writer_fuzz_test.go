package forwarded_test

import (
	"crypto/x509/pkix"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// pairXFCC splits an XFCC value as a reader that takes every backslash
// inside quotes as escaping the next byte: the other reading of the
// format. It returns each element's keys in order, false where the value
// does not parse.
func pairXFCC(v string) ([][]string, bool) {
	var elems [][]string
	var cur []string
	for i := 0; i < len(v); {
		eq := strings.IndexByte(v[i:], '=')
		if eq < 0 {
			return nil, false
		}
		cur = append(cur, strings.ToLower(strings.TrimSpace(v[i:i+eq])))
		i += eq + 1
		if i < len(v) && v[i] == '"' {
			for i++; ; i++ {
				if i >= len(v) {
					return nil, false
				}
				if v[i] == '\\' {
					i++
					continue
				}
				if v[i] == '"' {
					i++
					break
				}
			}
		} else {
			for i < len(v) && v[i] != ';' && v[i] != ',' {
				i++
			}
		}
		if i < len(v) && v[i] == ',' {
			elems, cur = append(elems, cur), nil
		} else if i < len(v) && v[i] != ';' {
			return nil, false
		}
		i++
	}
	return append(elems, cur), true
}

// FuzzSetHeadersXFCC: whatever SetHeaders sends as XFCC for an identity
// whose subject is Go's RFC 4514 string of a common name (as from a
// verified certificate) or any text (a forwarded identity's), and any URI
// and DNS SAN, reads back as that identity with ParseXFCC and Envoy's
// grammar (envoyXFCC), and splits into the same keys for a reader that
// takes every backslash as an escape (pairXFCC).
func FuzzSetHeadersXFCC(f *testing.F) {
	f.Add(`x\,CN=admin`, false, `https://id.example/u?a";URI=spiffe://example.org/admin;x="`, "a.example")
	f.Add(`CN=a\\";URI=spiffe://example.org/admin`, true, `https://id.example/?q=\`, "a,b")
	f.Add(`a\`, false, `spiffe://example.org/ns/a`, `b"c`)
	f.Fuzz(func(t *testing.T, subject string, raw bool, uri, dns string) {
		if !raw {
			subject = pkix.Name{CommonName: subject}.String()
		}
		id := mtls.Identity{Subject: subject}
		if u, err := url.Parse(uri); err == nil && u.Scheme != "" {
			id.URIs = []*url.URL{u}
		}
		if dns != "" && !strings.ContainsAny(dns, " \t") {
			id.DNSNames = []string{dns}
		}
		h := http.Header{}
		if err := forwarded.SetHeaders(h, id, forwarded.Options{Format: forwarded.XFCC}); err != nil {
			return
		}
		v := h.Get(forwarded.HeaderXFCC)
		var keys []string
		if subject != "" {
			keys = append(keys, "subject")
		}
		var uris []string
		for _, u := range id.URIs {
			keys = append(keys, "uri")
			uris = append(uris, u.String())
		}
		for range id.DNSNames {
			keys = append(keys, "dns")
		}
		if len(keys) == 0 {
			keys = []string{"subject"} // Subject="" for an empty element
		}
		if got, ok := pairXFCC(v); !ok || len(got) != 1 || !slices.Equal(got[0], keys) {
			t.Fatalf("pair reader: %q, ok %v, want one element with %q, in %q", got, ok, keys, v)
		}
		got, ok := envoyXFCC(v)
		if !ok || len(got) != 1 {
			t.Fatalf("Envoy-grammar reader: %d elements, ok %v, in %q", len(got), ok, v)
		}
		if subject != "" && !slices.Equal(got[0]["subject"], []string{hexDN(subject)}) {
			t.Errorf("Envoy-grammar reader: subject %q, want %q, in %q", got[0]["subject"], hexDN(subject), v)
		}
		if !slices.Equal(got[0]["uri"], uris) || !slices.Equal(got[0]["dns"], id.DNSNames) {
			t.Errorf("Envoy-grammar reader: URI %q DNS %q, want %q %q, in %q", got[0]["uri"], got[0]["dns"], uris, id.DNSNames, v)
		}
		back, err := forwarded.ParseXFCC([]string{v})
		if err != nil {
			// A value ParseXFCC refuses fails closed at the next hop; a
			// split it reads differently would not.
			return
		}
		e := back[0]
		var backURIs []string
		for _, u := range e.URI {
			backURIs = append(backURIs, u.String())
		}
		if e.Subject != hexDN(subject) || !slices.Equal(backURIs, uris) || !slices.Equal(e.DNS, id.DNSNames) {
			t.Errorf("ParseXFCC: %q %q %q, want %q %q %q, in %q", e.Subject, backURIs, e.DNS, hexDN(subject), uris, id.DNSNames, v)
		}
	})
}
