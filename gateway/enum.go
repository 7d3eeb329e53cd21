package gateway

import "fmt"

// The config's named values (HTTP2Mode, SameSite, LogFormat, Proxy) are
// ints indexing a table of their names; these read and write them.

// enumText is v's name in names; it fails, naming what, for a value
// outside the table (a Config built in Go).
func enumText[T ~int](names []string, v T, what string) ([]byte, error) {
	if v < 0 || int(v) >= len(names) {
		return nil, fmt.Errorf("invalid %s %d", what, int(v))
	}
	return []byte(names[v]), nil
}

// enumIndex is the index of name in names, -1 when it is not there. An
// empty entry (a zero value that has no name) never matches.
func enumIndex(names []string, name string) int {
	for i, n := range names {
		if n != "" && n == name {
			return i
		}
	}
	return -1
}
