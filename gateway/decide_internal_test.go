package gateway

import (
	"strings"
	"testing"
)

// FuzzHasDotSegments: hasDotSegments finds a "." or ".." segment exactly
// when strings.SplitSeq(p, "/") has one.
func FuzzHasDotSegments(f *testing.F) {
	for _, p := range []string{"", "/", ".", "..", "/./", "/a/..", "a/.", "//", "/.../", "/a./", "/..a", "/a/b", "/.", "/..", "./a", "../"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		want := false
		for seg := range strings.SplitSeq(p, "/") {
			if seg == "." || seg == ".." {
				want = true
			}
		}
		if got := hasDotSegments(p); got != want {
			t.Errorf("hasDotSegments(%q) = %v, want %v", p, got, want)
		}
	})
}
