package urisan

import (
	"net/url"
	"testing"
)

func TestSameSpelling(t *testing.T) {
	for _, tt := range []struct {
		raw  string
		want bool
	}{
		{"spiffe://td/x", true},
		{"SPIFFE://td/x", true}, // the scheme's case
		{"spiffe://td/x#", false},
		{"spiffe://TD/x", true}, // url.Parse keeps the host's case
		{"https://a.example/%7e", true},
	} {
		u, err := url.Parse(tt.raw)
		if err != nil {
			t.Fatal(err)
		}
		if got := SameSpelling(tt.raw, u); got != tt.want {
			t.Errorf("SameSpelling(%q, %q) = %v, want %v", tt.raw, u, got, tt.want)
		}
	}
}
