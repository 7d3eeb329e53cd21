package forwarded_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

func TestStripForwardedHeaders(t *testing.T) {
	tests := []struct {
		name  string
		key   string // as it arrives in http.Header (Go canonicalises only hyphenated names)
		strip bool
	}{
		{"RFC 9440 canonical", "Client-Cert", true},
		{"RFC 9440 chain", "Client-Cert-Chain", true},
		{"XFCC canonical", "X-Forwarded-Client-Cert", true},
		{"XFCC with underscores", "X_forwarded_client_cert", true},
		{"XFCC underscores, mixed case (raw key)", "X_Forwarded_Client_Cert", true},
		{"client_cert", "Client_cert", true},
		{"lower-case raw key", "client-cert", true},
		{"upper-case raw key", "CLIENT-CERT", true},
		{"dots", "X.Forwarded.Client.Cert", true},
		{"mixed separators", "Client_Cert-Chain", true},
		{"nginx convention", "X-Ssl-Client-Cert", true},
		{"traefik", "X-Forwarded-Tls-Client-Cert", true},
		{"traefik info", "X-Forwarded-Tls-Client-Cert-Info", true},
		{"forgeproof serve's own", "Forgeproof_client_identity", true},
		// Allowed twins: names that merely resemble these are kept.
		{"unrelated", "X-Forwarded-For", false},
		{"prefix only", "Client", false},
		{"longer name", "Client-Cert-Chain-Extra", false},
		{"shorter name", "Client-Cer", false},
		{"no separator", "Clientcert", false},
		{"cookie", "Cookie", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{tt.key: {"spoofed"}, "Accept": {"*/*"}}
			n := forwarded.StripHeaders(h)
			_, kept := h[tt.key]
			if got := !kept; got != tt.strip {
				t.Errorf("stripped %q: got %v, want %v", tt.key, got, tt.strip)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.strip]; n != want {
				t.Errorf("count: got %d, want %d", n, want)
			}
			if h.Get("Accept") != "*/*" {
				t.Errorf("Accept was removed")
			}
			if got := forwarded.IsHeader(tt.key); got != tt.strip {
				t.Errorf("IsHeader(%q): got %v, want %v", tt.key, got, tt.strip)
			}
		})
	}
}

func TestStripForwardedHeadersAllVariantsAtOnce(t *testing.T) {
	h := http.Header{}
	h.Add("X-Forwarded-Client-Cert", "By=a")
	h["X_Forwarded_Client_Cert"] = []string{"URI=spiffe://evil/x"}
	h["x-forwarded-client-cert"] = []string{"URI=spiffe://evil/y"}
	h["Client_cert"] = []string{":AAAA:"}
	h.Add("Client-Cert", ":AAAA:")
	h.Add("X-Request-Id", "1")
	if got := forwarded.StripHeaders(h); got != 5 {
		t.Errorf("got %d stripped, want 5", got)
	}
	if got := slices.Collect(maps.Keys(h)); len(got) != 1 || got[0] != "X-Request-Id" {
		t.Errorf("got keys %v, want [X-Request-Id]", got)
	}
}

func TestForwardedHeaderNames(t *testing.T) {
	names := forwarded.HeaderNames()
	for _, want := range []string{"client-cert", "client-cert-chain", "x-forwarded-client-cert", "forgeproof-client-identity"} {
		if !slices.Contains(names, want) {
			t.Errorf("got %v, want it to contain %q", names, want)
		}
	}
	names[0] = "mutated"
	if forwarded.HeaderNames()[0] == "mutated" {
		t.Errorf("HeaderNames returns the package's own slice")
	}
}

// FuzzIsForwardedHeader checks the allocation-free matcher against the
// obvious definition: lower-case, every non-alphanumeric byte as '-'.
func FuzzIsForwardedHeader(f *testing.F) {
	for _, s := range []string{"Client-Cert", "X_Forwarded_Client_Cert", "client.cert.chain", "X-Forwarded-Tls-Client-Cert-Info", "Accept", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		var b strings.Builder
		for i := 0; i < len(name); i++ {
			switch c := name[i]; {
			case 'A' <= c && c <= 'Z':
				b.WriteByte(c + 'a' - 'A')
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
				b.WriteByte(c)
			default:
				b.WriteByte('-')
			}
		}
		want := slices.Contains(forwarded.HeaderNames(), b.String())
		if got := forwarded.IsHeader(name); got != want {
			t.Fatalf("IsHeader(%q): got %v, want %v", name, got, want)
		}
	})
}
