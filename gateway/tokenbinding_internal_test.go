package gateway

import (
	"net/http/httptest"
	"testing"
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
