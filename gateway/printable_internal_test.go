package gateway

import (
	"fmt"
	"testing"
)

func TestPrintable(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"SPIFFE ID unchanged", "spiffe://test.example/web", "spiffe://test.example/web"},
		{"subject unchanged", "CN=alice,O=Example", "CN=alice,O=Example"},
		{"empty", "", ""},
		{"percent is escaped", "CN=100%", "CN=100%25"},
		{"newline is escaped", "CN=a\r\nX-Admin: 1", "CN=a%0D%0AX-Admin: 1"},
		{"non-ASCII is escaped", "CN=é", "CN=%C3%A9"},
		{"DEL is escaped", "CN=\x7f", "CN=%7F"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := printable(tt.in); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestStatusLabel(t *testing.T) {
	for _, code := range []int{0, 200, 421, 499, 599, 600, 1000, -1} {
		if got, want := statusLabel(code), itoa(code); got != want {
			t.Errorf("statusLabel(%d): got %q, want %q", code, got, want)
		}
	}
}

func itoa(n int) string { return fmt.Sprint(n) }
