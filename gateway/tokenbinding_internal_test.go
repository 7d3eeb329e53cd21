package gateway

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
)

// TestTokenBindingBytes pins what tokens are bound to without a client
// certificate: a token a gateway issued must verify after an upgrade, so
// one copy of the session cookie binds as "session:VALUE", as always, and
// only several copies bind as "sessions:" with each value
// length-prefixed. Empty copies are skipped; no cookie is no binding.
func TestTokenBindingBytes(t *testing.T) {
	bind := tokenBinding("sid")
	for _, tt := range []struct{ cookie, want string }{
		{"", ""},
		{"other=x", ""},
		{"sid=abc", "session:abc"},
		{"sid=; sid=abc", "session:abc"},
		{"sid=abc; sid=de", "sessions:\x03abc\x02de"},
		{"sid=de; sid=abc", "sessions:\x02de\x03abc"},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if tt.cookie != "" {
			r.Header.Set("Cookie", tt.cookie)
		}
		got, err := bind(r)
		if err != nil || string(got) != tt.want {
			t.Errorf("Cookie %q: bound to %q (%v), want %q", tt.cookie, got, err, tt.want)
		}
	}
}

// TestTokenBindingKindsDistinct: with a client certificate, tokens bind
// to its key hash alone, or to it and the session cookie (one copy or
// several) together, each under a prefix of its own, so no request of one
// kind yields the bytes of another: a client who spells its session
// cookie as another user's "spki-sha256:<hash>" (the hash is no secret)
// binds to "session:spki-sha256:…", not to that user's certificate. A
// certificate whose hash is zero (no key seen) binds as no certificate.
func TestTokenBindingKindsDistinct(t *testing.T) {
	bind := tokenBinding("sid")
	var key [32]byte
	for i := range key {
		key[i] = byte('A' + i%26) // printable, so a cookie can spell it
	}
	spki := string(key[:])
	for _, tt := range []struct {
		name, cookie string
		key          [32]byte
		want         string
	}{
		{"certificate alone", "", key, "spki-sha256:" + spki},
		{"certificate and session", "sid=abc", key, "spki-sha256+session:" + spki + "abc"},
		{"certificate and sessions", "sid=abc; sid=de", key, "spki-sha256+sessions:" + spki + "\x03abc\x02de"},
		{"session spelled as a certificate binding", "sid=spki-sha256:" + spki, [32]byte{}, "session:spki-sha256:" + spki},
		{"zero hash: the session alone", "sid=abc", [32]byte{}, "session:abc"},
	} {
		r := httptest.NewRequest("POST", "/", nil)
		if tt.cookie != "" {
			r.Header.Set("Cookie", tt.cookie)
		}
		x := &exchange{identity: &mtls.Identity{SPKISHA256: tt.key}, hasIdentity: true}
		r = r.WithContext(&exchangeContext{Context: context.Background(), x: x})
		got, err := bind(r)
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: bound to %q (%v), want %q", tt.name, got, err, tt.want)
		}
	}
}
