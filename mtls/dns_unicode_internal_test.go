package mtls

import "testing"

// TestDNSPatternNonASCII: DNS names are ASCII; matching ignores ASCII case
// only. strings.ToLower folds U+212A KELVIN SIGN to 'k', so a name that
// is not kube.example.com (as a forwarder's XFCC DNS value may carry it:
// ParseXFCC checks only for spaces) matched the pattern kube.example.com.
// The ASCII twins match.
func TestDNSPatternNonASCII(t *testing.T) {
	p, err := parseDNSPattern("kube.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if !p.Match("KUBE.example.com") {
		t.Error("ASCII case twin does not match")
	}
	for _, name := range []string{"\u212aube.example.com", "\u212aUBE.example.com"} {
		if p.Match(name) {
			t.Errorf("pattern kube.example.com matched non-ASCII %q", name)
		}
	}
	w, _ := parseDNSPattern("*.kube.example.com")
	if !w.Match("a.KUBE.example.com") {
		t.Error("ASCII case twin does not match the wildcard")
	}
	if w.Match("a.\u212aube.example.com") {
		t.Errorf("wildcard *.kube.example.com matched a non-ASCII name")
	}
}
