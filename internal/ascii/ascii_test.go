package ascii

import "testing"

func TestEqualFold(t *testing.T) {
	for _, tt := range []struct {
		s, t string
		want bool
	}{
		{"SameSite", "samesite", true},
		{"samesite", "samesite", true},
		{"GET", "get", true},
		{"Str\u0130ct", "strict", false}, // 'İ' is not 'i'
		{"\u017fecure", "secure", false}, // 'ſ' is not 's'
		{"\u212aey", "key", false},       // the Kelvin sign is not 'k'
		{"a@", "a`", false},              // '@'|0x20 == '`': not letters
		{"lax ", "lax", false},
	} {
		if got := EqualFold(tt.s, tt.t); got != tt.want {
			t.Errorf("EqualFold(%q, %q) = %v, want %v", tt.s, tt.t, got, tt.want)
		}
		if got := EqualFold([]byte(tt.s), tt.t); got != tt.want {
			t.Errorf("EqualFold([]byte(%q), %q) = %v, want %v", tt.s, tt.t, got, tt.want)
		}
	}
}

func TestLower(t *testing.T) {
	for in, want := range map[string]string{
		"Example.COM": "example.com",
		"lower":       "lower",
		"Str\u0130ct": "str\u0130ct",
		"":            "",
	} {
		if got := Lower(in); got != want {
			t.Errorf("Lower(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { Lower("already.lower") }); n != 0 {
		t.Errorf("Lower of a lower-case string: %v allocations, want 0", n)
	}
}
