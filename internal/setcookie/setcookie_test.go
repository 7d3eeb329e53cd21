package setcookie

import (
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	long := strings.Repeat("a", MaxAttributeValue+1)
	max := strings.Repeat("a", MaxAttributeValue)
	for _, tt := range []struct {
		name, line string
		want       Cookie
	}{
		{"bare", "sid=1", Cookie{Name: "sid"}},
		{"all", " sid =1; Secure; HttpOnly; SameSite=Strict; Domain=.Example.COM; Path=/a", Cookie{Name: "sid", Secure: true, HTTPOnly: true, SameSite: "strict", Domain: "example.com", Path: "/a"}},
		{"ascii case", "sid=1; SECURE; httponly; samesite=LAX", Cookie{Name: "sid", Secure: true, HTTPOnly: true, SameSite: "lax"}},
		{"spaces around", "sid=1; Secure ; SameSite = Lax ", Cookie{Name: "sid", Secure: true, SameSite: "lax"}},
		// Browsers ignore an attribute whose value is over 1024 bytes;
		// net/http counts it.
		{"long secure", "sid=1; Secure=" + long, Cookie{Name: "sid"}},
		{"max secure", "sid=1; Secure=" + max, Cookie{Name: "sid", Secure: true}},
		{"long httponly", "sid=1; HttpOnly=" + long, Cookie{Name: "sid"}},
		{"long domain", "sid=1; Domain=" + long, Cookie{Name: "sid"}},
		// Non-ASCII letters do not fold: 'İ' is not 'i'.
		{"dotted I value", "sid=1; SameSite=Str\u0130ct", Cookie{Name: "sid"}},
		{"dotted I name", "sid=1; SameS\u0130te=Strict", Cookie{Name: "sid"}},
		{"dotted I secure", "sid=1; Secur\u0130", Cookie{Name: "sid"}},
		// The last occurrence counts, even an unknown value.
		{"last samesite", "sid=1; SameSite=Strict; SameSite=bogus", Cookie{Name: "sid"}},
		{"last samesite known", "sid=1; SameSite=bogus; SameSite=None", Cookie{Name: "sid", SameSite: "none"}},
		{"empty domain ignored", "sid=1; Domain=example.com; Domain=", Cookie{Name: "sid", Domain: "example.com"}},
		{"path not slash is default", "sid=1; Path=/a; Path=b", Cookie{Name: "sid"}},
		{"root path", "sid=1; Path=/", Cookie{Name: "sid", Path: "/"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Read(tt.line); got != tt.want {
				t.Errorf("Read(%.60q) = %+v, want %+v", tt.line, got, tt.want)
			}
		})
	}
}

func TestAttributes(t *testing.T) {
	var got []string
	for k, v := range Attributes("a=b;  Secure ; x =y; ;SameSite= Lax") {
		got = append(got, k+"|"+v)
	}
	want := []string{"Secure|", "x |y", "|", "SameSite| Lax"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("got %q, want %q", got, want)
	}
	for range Attributes("a=b") {
		t.Error("an attribute in a line without ';'")
	}
}

func FuzzRead(f *testing.F) {
	f.Add("sid=1; Secure; SameSite=Str\u0130ct; Path=/x")
	f.Add("sid=1; Secure=" + strings.Repeat("a", 1025))
	f.Fuzz(func(t *testing.T, line string) {
		c := Read(line)
		if c.Path != "" && c.Path[0] != '/' {
			t.Errorf("Path %q", c.Path)
		}
		switch c.SameSite {
		case "", "strict", "lax", "none":
		default:
			t.Errorf("SameSite %q", c.SameSite)
		}
	})
}
