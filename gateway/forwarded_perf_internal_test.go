package gateway

import (
	"crypto/x509"
	"encoding/binary"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestForwardedCacheShared: connections that present the same certificate
// (parsed anew for each) share its headers; another certificate, another
// format or a chain never gets them, and what the cache returns equals
// what is computed without it.
func TestForwardedCacheShared(t *testing.T) {
	ca := pkitest.CA(t)
	alice := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).Cert
	bob := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "bob"}).Cert
	reparse := func(c *x509.Certificate) mtls.Identity {
		t.Helper()
		again, err := x509.ParseCertificate(c.Raw) // as a new connection does
		if err != nil {
			t.Fatal(err)
		}
		return mtls.NewIdentity(again)
	}
	rfc := forwarded.Options{Format: forwarded.RFC9440}
	xfcc := forwarded.Options{Format: forwarded.XFCC}
	chain := forwarded.Options{Format: forwarded.RFC9440, Chain: []*x509.Certificate{ca.Cert}}

	fc := newForwardedCache(maxSharedForwarded)
	first := fc.get(reparse(alice), rfc)
	tests := []struct {
		name     string
		id       mtls.Identity
		opts     forwarded.Options
		shared   bool // the very object first is
		wantSize int  // entries after the call
	}{
		{"same certificate, new connection", reparse(alice), rfc, true, 1},
		{"another certificate", reparse(bob), rfc, false, 2},
		{"another format", reparse(alice), xfcc, false, 3},
		{"with a chain: not cached", reparse(alice), chain, false, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fc.get(tt.id, tt.opts)
			if shared := got == first; shared != tt.shared {
				t.Errorf("got shared %v, want %v", shared, tt.shared)
			}
			if want := newForwardedHeaders(tt.id, tt.opts); !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v, want %+v", got, want)
			}
			if n := fc.len(); n != tt.wantSize {
				t.Errorf("got %d entries, want %d", n, tt.wantSize)
			}
		})
	}
	// The negative control for "another certificate": bob's headers carry
	// bob's certificate, not alice's.
	h := http.Header{}
	for i, name := range fc.get(reparse(bob), rfc).names {
		h.Add(name, fc.get(reparse(bob), rfc).values[i])
	}
	if got, want := h.Get(forwarded.HeaderClientCert), forwarded.FormatClientCert(bob); got != want {
		t.Errorf("got Client-Cert %q, want bob's %q", got, want)
	}
}

// TestForwardedCacheBounds: at most maxSharedForwarded entries, and none
// for headers over maxSharedForwardedBytes.
func TestForwardedCacheBounds(t *testing.T) {
	fc := newForwardedCache(maxSharedForwarded)
	id := func(i uint32, cn string) mtls.Identity {
		raw := binary.BigEndian.AppendUint32([]byte("cert"), i)
		var sum [32]byte
		copy(sum[:], raw)
		c := &x509.Certificate{Raw: raw}
		c.Subject.CommonName = cn
		return mtls.Identity{Certificate: c, CertSHA256: sum, Subject: "CN=" + cn}
	}
	opts := forwarded.Options{Format: forwarded.RFC9440}
	for i := range maxSharedForwarded + 10 {
		fc.get(id(uint32(i), "c"), opts)
	}
	if got := fc.len(); got != maxSharedForwarded {
		t.Errorf("got %d entries, want %d", got, maxSharedForwarded)
	}

	small := newForwardedCache(maxSharedForwarded)
	big := id(1, strings.Repeat("x", maxSharedForwardedBytes))
	if f := small.get(big, opts); f.err != nil || f.size() <= maxSharedForwardedBytes {
		t.Fatalf("got size %d (error %v), want over %d", f.size(), f.err, maxSharedForwardedBytes)
	}
	if got := small.len(); got != 0 {
		t.Errorf("got %d entries for oversized headers, want 0", got)
	}
	small.get(id(2, "short"), opts)
	if got := small.len(); got != 1 {
		t.Errorf("got %d entries for small headers, want 1", got)
	}
}
