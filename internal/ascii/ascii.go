// Package ascii compares and lowers text in ASCII only, as HTTP, cookies,
// media types and DNS names are compared: unlike strings.EqualFold and
// strings.ToLower, 'ſ' is not 's', the Kelvin sign is not 'k' and 'İ' is
// not 'i', which a browser or another parser would not read alike.
package ascii

// EqualFold reports whether s and t are equal with ASCII letters folded,
// and only those.
func EqualFold[T ~string | ~[]byte](s T, t string) bool {
	if len(s) != len(t) {
		return false
	}
	for i := 0; i < len(s); i++ {
		a, b := s[i], t[i]
		if a == b {
			continue
		}
		if a|0x20 != b|0x20 || a|0x20 < 'a' || a|0x20 > 'z' {
			return false
		}
	}
	return true
}

// Lower returns s with ASCII letters, and only those, in lower case; the
// same length as s, so indices agree. It allocates only when s has an
// upper-case letter.
func Lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
