package gateway

import (
	"net/http"
	"testing"
)

// TestHeaderCanonical: headerCanonical's two uses differ in one rule, a
// name without values: withCanonicalHeader (withValues false) leaves
// such a header as it is, adoptHeader (true) copies it instead.
func TestHeaderCanonical(t *testing.T) {
	for _, tt := range []struct {
		name       string
		h          http.Header
		want       bool // withValues false
		wantValues bool // withValues true
	}{
		{"canonical", http.Header{"X-A": {"1"}, "Origin": {"https://a.test"}}, true, true},
		{"empty", http.Header{}, true, true},
		{"nil", nil, true, true},
		{"lower case", http.Header{"origin": {"https://a.test"}}, false, false},
		{"upper case", http.Header{"ORIGIN": {"https://a.test"}}, false, false},
		{"name with a space", http.Header{"X A": {"1"}}, true, true},
		{"no values", http.Header{"X-A": {}}, true, false},
		{"nil values", http.Header{"X-A": nil}, true, false},
		{"lower case without values", http.Header{"x-a": nil}, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := headerCanonical(tt.h, false); got != tt.want {
				t.Errorf("headerCanonical(%q, false) = %v, want %v", tt.h, got, tt.want)
			}
			if got := headerCanonical(tt.h, true); got != tt.wantValues {
				t.Errorf("headerCanonical(%q, true) = %v, want %v", tt.h, got, tt.wantValues)
			}
		})
	}
}
