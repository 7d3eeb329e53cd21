package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestNamesCacheIdentity: the cached identity equals NewIdentity's, on a
// miss and on a hit, for a certificate parsed again from the same bytes
// (as each new connection does) and for different certificates.
func TestNamesCacheIdentity(t *testing.T) {
	ca := pkitest.CA(t)
	tests := []struct {
		name string
		cert *x509.Certificate
	}{
		{"subject with O and OU", pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice", Organization: []string{"Bank"}, OrganizationalUnit: []string{"payments"}}).Cert},
		{"DNS name", pkitest.Client(t, ca, pki.ClientOptions{CommonName: "bob", DNSNames: []string{"bob.example"}}).Cert},
		{"SPIFFE ID, empty subject", pkitest.SPIFFE(t, ca, "spiffe://example.org/carol").Cert},
	}
	nc := newNamesCache(maxCachedNames)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := NewIdentity(tt.cert)
			for _, step := range []string{"miss", "hit"} {
				again, err := x509.ParseCertificate(tt.cert.Raw) // a new connection's copy
				if err != nil {
					t.Fatal(err)
				}
				want.Certificate = again
				if got := nc.identity(again); !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %+v, want %+v", step, got, want)
				}
			}
		})
	}
	if got, want := nc.len(), len(tests); got != want {
		t.Errorf("got %d entries, want %d", got, want)
	}
}

// TestNamesCacheBounds: the cache never holds more than maxCachedNames
// entries, and names longer than maxCachedNameBytes are not kept (but
// still returned).
func TestNamesCacheBounds(t *testing.T) {
	nc := newNamesCache(maxCachedNames)
	for i := range maxCachedNames + 10 {
		raw := binary.BigEndian.AppendUint32([]byte("cert"), uint32(i))
		nc.identity(&x509.Certificate{Raw: raw, Subject: pkix.Name{CommonName: "c"}})
	}
	if got := nc.len(); got != maxCachedNames {
		t.Errorf("got %d entries, want %d", got, maxCachedNames)
	}

	small := newNamesCache(maxCachedNames)
	long := strings.Repeat("x", maxCachedNameBytes)
	cert := &x509.Certificate{Raw: []byte("long"), Subject: pkix.Name{CommonName: long}}
	if got := small.identity(cert).Subject; got != "CN="+long {
		t.Errorf("got subject of %d bytes, want %d", len(got), len(long)+3)
	}
	if got := small.len(); got != 0 {
		t.Errorf("got %d entries for an oversized name, want 0", got)
	}
	short := &x509.Certificate{Raw: []byte("short"), Subject: pkix.Name{CommonName: "short"}}
	small.identity(short)
	if got := small.len(); got != 1 {
		t.Errorf("got %d entries for a short name, want 1", got)
	}
}

// TestNamesCacheHoldsNoTrust: a certificate whose names are cached gives
// no identity on a connection that did not verify it; the same bytes on
// a verified connection do (the allowed twin).
func TestNamesCacheHoldsNoTrust(t *testing.T) {
	ca := pkitest.CA(t)
	cert := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "mallory"}).Cert
	verified := &tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert}, VerifiedChains: [][]*x509.Certificate{{cert, ca.Cert}}}
	if _, ok := IdentityFromTLS(verified); !ok {
		t.Fatal("got no identity for a verified certificate, want one")
	}
	again, err := x509.ParseCertificate(cert.Raw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cs   *tls.ConnectionState
		want bool
	}{
		{"same bytes, unverified", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{again}}, false},
		{"same bytes, verified", &tls.ConnectionState{PeerCertificates: []*x509.Certificate{again}, VerifiedChains: [][]*x509.Certificate{{again, ca.Cert}}}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, ok := IdentityFromTLS(tt.cs)
			if ok != tt.want {
				t.Fatalf("got identity %v, want %v", ok, tt.want)
			}
			if ok && id.Subject != "CN=mallory" {
				t.Errorf("got subject %q, want %q", id.Subject, "CN=mallory")
			}
		})
	}
}
