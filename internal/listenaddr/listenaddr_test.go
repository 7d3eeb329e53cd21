package listenaddr_test

import (
	"testing"

	"github.com/forgeproof/forgeproof/internal/listenaddr"
)

func TestSame(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"127.0.0.1:8443", "127.0.0.1:8443", true},
		{"localhost:8443", "127.0.0.1:8443", true},
		{"LOCALHOST.:8443", "127.0.0.1:8443", true},
		{":8443", "127.0.0.1:8443", true},
		{"0.0.0.0:8443", "[::1]:8443", true},
		{"[::ffff:127.0.0.1]:8443", "127.0.0.1:8443", true},
		{"127.0.0.1:https", "127.0.0.1:443", true},
		// Allowed twins: another port, another IP, port 0, garbage.
		{"127.0.0.1:8443", "127.0.0.1:9090", false},
		{"127.0.0.1:8443", "127.0.0.2:8443", false},
		{"127.0.0.1:0", "127.0.0.1:0", false},
		{"127.0.0.1", "127.0.0.1", false},
	} {
		if got := listenaddr.Same(tt.a, tt.b); got != tt.want {
			t.Errorf("Same(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}
