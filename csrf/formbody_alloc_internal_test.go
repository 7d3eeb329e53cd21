package csrf

import "testing"

// The Content-Type of almost every form POST on a bypass pattern is read
// by formBody without a parse; that reading must not allocate.
func TestFormBodyCommonCaseAllocs(t *testing.T) {
	for _, ct := range []string{
		"application/x-www-form-urlencoded",
		"Application/X-WWW-Form-Urlencoded; a=1",
		"",
	} {
		cts := []string{ct}
		if kind, _ := formBody(cts); kind != bodyURLEncoded {
			t.Fatalf("formBody(%q) = %d, want bodyURLEncoded", ct, kind)
		}
		if n := testing.AllocsPerRun(100, func() { formBody(cts) }); n != 0 {
			t.Errorf("formBody(%q): %v allocations, want 0", ct, n)
		}
	}
}
