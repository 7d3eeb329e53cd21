package gateway_test

import (
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// TestPathAmbiguityUnicodeCase: routers that compare paths without case
// fold more than strings.EqualFold does. Python's re.IGNORECASE matches
// "i" with the dotless "ı" (U+0131) and with "İ" (U+0130); Java's
// equalsIgnoreCase and regionMatches (Spring's PathPattern with
// setCaseSensitive(false)) compare toUpperCase, then toLowerCase, of
// each char ("ı" is "I" upper-cased, "İ" is "i" lower-cased); so does a
// router that upper-cases paths in JavaScript, Python or Ruby
// ("/admın".toUpperCase() is "/ADMIN"). Each such spelling of /admin is
// refused with 400 path-ambiguous; its twin under / reaches the upstream
// as sent. Negative control: with the check off, each reaches the
// upstream, as public.
func TestPathAmbiguityUnicodeCase(t *testing.T) {
	t.Parallel()
	w, g, gw, u, _ := normalizeWorld(t)
	tests := []struct {
		name, path string
		refused    bool
	}{
		{"dotless i (Python re.I, Java, toUpperCase)", "/adm%C4%B1n", true},
		{"dotless i, raw UTF-8 (sent encoded)", "/adm\xc4\xb1n/x", true},
		{"capital I with dot (Python re.I, Java toLowerCase)", "/ADM%C4%B0N", true},
		{"dotless i after a decoding", "/adm%25C4%25B1n", true},
		{"twin: dotless i under /", "/publ%C4%B1c/adm%C4%B1n", false},
		{"twin: capital I with dot under /", "/%C4%B0stanbul", false},
		{"twin: dotless i in a word no route has", "/adm%C4%B1nx", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := gw.rawExchange(t, w.web, "GET "+tt.path+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
			heads := u.heads()
			if tt.refused {
				if resp.StatusCode != 400 || !strings.Contains(body, string(gateway.ReasonPathAmbiguous)) {
					t.Fatalf("got %d %q, want 400 path-ambiguous", resp.StatusCode, body)
				}
				if len(heads) != 0 {
					t.Fatalf("upstream received %q", heads)
				}
				return
			}
			if resp.StatusCode != 200 || body != "ok" || len(heads) != 1 {
				t.Fatalf("got %d %q and %d upstream requests, want 200 from the upstream", resp.StatusCode, body, len(heads))
			}
		})
	}

	gateway.SetRequestChecks(g, false)
	for _, p := range []string{"/adm%C4%B1n", "/ADM%C4%B0N"} {
		resp, _ := gw.rawExchange(t, w.web, "GET "+p+" HTTP/1.1\r\nHost: localhost\r\n\r\n")
		if heads := u.heads(); resp.StatusCode != 200 || len(heads) != 1 || !strings.HasPrefix(heads[0], "GET "+p+" ") {
			t.Errorf("%s with the check off: got %d and %q, want the bypass (200, sent as is)", p, resp.StatusCode, heads)
		}
	}
}
