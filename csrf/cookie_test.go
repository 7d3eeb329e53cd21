package csrf

import (
	"net/http"
	"strings"
	"testing"
)

// TestCookie checks the cookie scan against net/http's (*Request).Cookie
// on the cases where a looser or stricter parser would differ.
func TestCookie(t *testing.T) {
	const name = PreSessionCookie
	many := strings.Repeat("x=1; ", maxCookies-1)
	for _, tc := range []struct {
		name   string
		header []string
		want   string // "" with ok false: no cookie
		ok     bool
	}{
		{"alone", []string{name + "=v"}, "v", true},
		{"among others", []string{"a=1; " + name + "=v; b=2"}, "v", true},
		{"spaces around, kept in the value", []string{"  " + name + " =  v  ;b=2"}, "  v", true},
		{"quoted", []string{name + `="v"`}, "v", true},
		{"first wins", []string{name + "=v1; " + name + "=v2"}, "v1", true},
		{"first valid wins", []string{name + "=a\\b; " + name + "=v2"}, "v2", true},
		{"second line", []string{"a=1", name + "=v"}, "v", true},
		{"empty value", []string{name + "="}, "", true},
		{"no equals sign", []string{name}, "", true},
		{"value with equals", []string{name + "=a=b"}, "a=b", true},
		{"case differs", []string{strings.ToLower(name) + "=v"}, "", false},
		{"prefix of a name", []string{name + "x=v"}, "", false},
		{"inner quote", []string{name + `=a"b`}, "", false},
		{"lone quote", []string{name + `="`}, "", false},
		{"control byte", []string{name + "=a\x01b"}, "", false},
		{"absent", []string{"a=1"}, "", false},
		{"no header", nil, "", false},
		{"at the limit", []string{many + name + "=v"}, "v", true},
		{"over the limit", []string{many + name + "=v; y=2"}, "", false},
		{"over the limit across lines", []string{many + name + "=v", "y=2"}, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{Header: http.Header{}}
			if tc.header != nil {
				r.Header["Cookie"] = tc.header
			}
			got, ok := cookie(r, name)
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
			ck, err := r.Cookie(name)
			if (err == nil) != tc.ok || err == nil && ck.Value != tc.want {
				t.Errorf("net/http disagrees with the case: %v, %v", ck, err)
			}
		})
	}
}

// The token path allocates nothing to read the cookie.
func TestCookieAllocs(t *testing.T) {
	r := &http.Request{Header: http.Header{"Cookie": {"a=1; b=2; " + PreSessionCookie + `="v"; c=3`}}}
	if n := testing.AllocsPerRun(100, func() { cookie(r, PreSessionCookie) }); n != 0 {
		t.Errorf("got %v allocations, want 0", n)
	}
}
