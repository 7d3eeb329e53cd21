package gateway

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

var cookieCases = []struct {
	name  string
	rules cookieRules
	in    string
	want  string
}{
	{"bare cookie gets everything", cookieRules{secure: true, httpOnly: true, sameSite: "Lax"},
		"session=abc", "session=abc; Secure; HttpOnly; SameSite=Lax"},
	{"attributes kept, none repeated", cookieRules{secure: true, httpOnly: true, sameSite: "Lax"},
		"session=abc; Path=/app; secure; HTTPONLY; Max-Age=60; Partitioned", "session=abc; Path=/app; secure; HTTPONLY; Max-Age=60; Partitioned; SameSite=Lax"},
	{"strict kept under lax", cookieRules{sameSite: "Lax"},
		"s=1; SameSite=Strict", "s=1; SameSite=Strict"},
	{"none kept without override", cookieRules{sameSite: "Lax"},
		"s=1; SameSite=None; Secure", "s=1; SameSite=None; Secure"},
	{"none raised with override", cookieRules{sameSite: "Lax", overrideSameSite: true},
		"s=1; SameSite=None; Secure", "s=1; SameSite=None; Secure; SameSite=Lax"},
	{"lax raised to strict with override", cookieRules{sameSite: "Strict", overrideSameSite: true},
		"s=1; SameSite=Lax", "s=1; SameSite=Lax; SameSite=Strict"},
	{"strict never lowered by override", cookieRules{sameSite: "Lax", overrideSameSite: true},
		"s=1; SameSite=Strict", "s=1; SameSite=Strict"},
	{"unknown samesite value replaced", cookieRules{sameSite: "Lax"},
		"s=1; SameSite=Bogus", "s=1; SameSite=Bogus; SameSite=Lax"},
	{"last samesite counts", cookieRules{sameSite: "Lax"},
		"s=1; SameSite=Strict; SameSite=None", "s=1; SameSite=Strict; SameSite=None"},
	{"nothing asked, nothing changed", cookieRules{},
		"s=1", "s=1"},
	{"host prefix: domain and path dropped, secure added", cookieRules{hostPrefix: "session"},
		"session=abc; Domain=example.com; Path=/; HttpOnly", "__Host-session=abc; HttpOnly; Path=/; Secure"},
	// Any Path moves: an app under a context path sets and deletes its
	// session there (a servlet's JSESSIONID; Path=/myapp).
	{"host prefix: another path moves too", cookieRules{hostPrefix: "session"},
		"session=abc; Domain=example.com; Path=/app; HttpOnly", "__Host-session=abc; HttpOnly; Path=/; Secure"},
	{"host prefix: another path's deletion moves too", cookieRules{hostPrefix: "session", sameSite: "Lax"},
		"session=; Path=/app; Max-Age=0", "__Host-session=; Max-Age=0; Path=/; Secure; SameSite=Lax"},
	{"host prefix: root-path deletion moved", cookieRules{hostPrefix: "session", sameSite: "Lax"},
		"session=; Path=/; Max-Age=0", "__Host-session=; Max-Age=0; Path=/; Secure; SameSite=Lax"},
	{"host prefix leaves other cookies", cookieRules{hostPrefix: "session"},
		"other=1; Domain=example.com", "other=1; Domain=example.com"},
	{"host prefix deletion cookie", cookieRules{hostPrefix: "session", sameSite: "Lax"},
		"session=; Max-Age=0", "__Host-session=; Max-Age=0; Path=/; Secure; SameSite=Lax"},
	{"host prefix only on the exact name", cookieRules{hostPrefix: "session"},
		"session2=x", "session2=x"},
	// Read as Chromium reads them (TestCookieHardeningInBrowser): an
	// attribute whose value is over 1024 bytes is ignored; names and
	// values compare without case in ASCII only. Each refused case has
	// its allowed twin.
	{"secure with a value over 1024 bytes is none", cookieRules{secure: true},
		"s=1; Secure=" + over1024, "s=1; Secure=" + over1024 + "; Secure"},
	{"secure with a value of 1024 bytes kept", cookieRules{secure: true},
		"s=1; Secure=" + max1024, "s=1; Secure=" + max1024},
	{"secure with 1024 bytes between spaces kept", cookieRules{secure: true},
		"s=1; Secure=  " + max1024 + "\t ", "s=1; Secure=  " + max1024 + "\t "},
	{"secure with a value net/http refuses is none", cookieRules{secure: true},
		`s=1; Secure="x`, `s=1; Secure="x; Secure`},
	{"secure with a value net/http takes kept", cookieRules{secure: true},
		"s=1; Secure=x", "s=1; Secure=x"},
	{"httponly with a value over 1024 bytes is none", cookieRules{httpOnly: true},
		"s=1; HttpOnly=" + over1024, "s=1; HttpOnly=" + over1024 + "; HttpOnly"},
	{"httponly with a value of 1024 bytes kept", cookieRules{httpOnly: true},
		"s=1; HttpOnly=" + max1024, "s=1; HttpOnly=" + max1024},
	{"host prefix: secure with a value over 1024 bytes is none", cookieRules{hostPrefix: "session"},
		"session=1; Secure=" + over1024, "__Host-session=1; Secure=" + over1024 + "; Path=/; Secure"},
	{"samesite value with a dotted capital I is unknown", cookieRules{sameSite: "Lax"},
		"s=1; SameSite=Str\u0130ct", "s=1; SameSite=Str\u0130ct; SameSite=Lax"},
	{"samesite value in ASCII upper case kept", cookieRules{sameSite: "Lax"},
		"s=1; SameSite=STRICT", "s=1; SameSite=STRICT"},
	{"samesite name with a dotted capital I is unknown", cookieRules{sameSite: "Lax"},
		"s=1; SameS\u0130te=Lax", "s=1; SameS\u0130te=Lax; SameSite=Lax"},
	{"samesite name in ASCII upper case kept", cookieRules{sameSite: "Lax"},
		"s=1; SAMESITE=Lax", "s=1; SAMESITE=Lax"},
	{"samesite name with a long s is unknown", cookieRules{sameSite: "Lax"},
		"s=1; \u017fame\u017fite=Strict", "s=1; \u017fame\u017fite=Strict; SameSite=Lax"},
}

var (
	max1024  = strings.Repeat("a", 1024)
	over1024 = strings.Repeat("a", 1025)
)

func TestRewriteSetCookie(t *testing.T) {
	for _, tt := range cookieCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.rules.rewriteSetCookie(tt.in, false); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRewriteRequestCookies(t *testing.T) {
	r := &cookieRules{hostPrefix: "session"}
	tests := []struct {
		name string
		in   []string
		want []string // nil: no Cookie header
	}{
		{"renamed back", []string{"__Host-session=abc; theme=dark"}, []string{"session=abc; theme=dark"}},
		// A tossed bare cookie (set by a sibling host) never reaches the
		// upstream: the refused twin of "renamed back".
		{"tossed bare copy dropped", []string{"session=evil; __Host-session=abc"}, []string{"session=abc"}},
		{"only the tossed copy", []string{"session=evil"}, nil},
		{"several headers joined", []string{"a=1", "__Host-session=abc"}, []string{"a=1; session=abc"}},
		{"others untouched", []string{"sessionx=1; b=2"}, []string{"sessionx=1; b=2"}},
		// Twins an upstream reads as the bare name (cookietoss_test.go).
		{"tossed twins dropped", []string{"%73ession=e1; SESSION=e2; %2573ession=e3; __host-session=e4; __Host-session=abc; %zz=1"}, []string{"session=abc; %zz=1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Cookie": tt.in}
			r.rewriteRequest(h)
			got := h["Cookie"]
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || (got == nil) != (tt.want == nil) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// FuzzRewriteSetCookie checks, for any Set-Cookie line net/http can
// parse, that the rewritten line still parses to the same cookie name (or
// its __Host- form) and value, with every attribute asked for, and never
// weaker than the original.
func FuzzRewriteSetCookie(f *testing.F) {
	for _, tt := range cookieCases {
		f.Add(tt.in, tt.rules.secure, tt.rules.httpOnly, tt.rules.sameSite == "Strict", tt.rules.overrideSameSite, tt.rules.hostPrefix != "")
	}
	f.Fuzz(func(t *testing.T, line string, secure, httpOnly, strict, override, prefix bool) {
		r := cookieRules{secure: secure, httpOnly: httpOnly, sameSite: "Lax", overrideSameSite: override}
		if strict {
			r.sameSite = "Strict"
		}
		before, err := http.ParseSetCookie(line)
		if err != nil {
			return
		}
		if prefix {
			r.hostPrefix = before.Name
		}
		out := r.rewriteSetCookie(line, false)
		after, err := http.ParseSetCookie(out)
		if err != nil {
			t.Fatalf("%q became %q, which does not parse: %v", line, out, err)
		}
		wantName := before.Name
		if prefix {
			wantName = HostPrefix + before.Name
		}
		if after.Name != wantName || after.Value != before.Value {
			t.Fatalf("%q became %q: cookie %s=%s, want %s=%s", line, out, after.Name, after.Value, wantName, before.Value)
		}
		if before.Secure && !after.Secure || secure && !after.Secure || before.HttpOnly && !after.HttpOnly || httpOnly && !after.HttpOnly {
			t.Fatalf("%q became %q: Secure %v HttpOnly %v", line, out, after.Secure, after.HttpOnly)
		}
		rank := func(m http.SameSite) int {
			switch m {
			case http.SameSiteLaxMode:
				return 2
			case http.SameSiteStrictMode:
				return 3
			}
			return 0
		}
		if rank(after.SameSite) < rank(before.SameSite) {
			t.Fatalf("%q became %q: SameSite weakened", line, out)
		}
		if before.SameSite != http.SameSiteNoneMode && rank(after.SameSite) < sameSiteRank(r.sameSite) && rank(before.SameSite) < sameSiteRank(r.sameSite) && (before.SameSite == 0 || before.SameSite == http.SameSiteDefaultMode) {
			t.Fatalf("%q became %q: SameSite %v, want at least %s", line, out, after.SameSite, r.sameSite)
		}
		if prefix && (!after.Secure || after.Path != "/" || after.Domain != "") {
			t.Fatalf("%q became %q: a __Host- cookie needs Secure, Path=/ and no Domain", line, out)
		}
	})
}

// FuzzRewriteRequestCookies: whatever Cookie header a client sends, the
// upstream never gets a cookie under the bare name that did not come from
// the __Host- cookie (a tossed copy), and every other cookie pair is kept.
func FuzzRewriteRequestCookies(f *testing.F) {
	f.Add("__Host-session=abc; theme=dark", "session")
	f.Add("session=evil; __Host-session=abc", "session")
	f.Add("session=evil", "session")
	f.Add(" ; ;session = x;__Host-session", "session")
	f.Fuzz(func(t *testing.T, cookie, name string) {
		if !validCookieName(name) {
			return
		}
		r := &cookieRules{hostPrefix: name}
		h := http.Header{"Cookie": {cookie}}
		r.rewriteRequest(h)
		prefixed := 0
		for pair := range strings.SplitSeq(cookie, ";") {
			if n, _, _ := strings.Cut(strings.TrimSpace(pair), "="); strings.TrimSpace(n) == HostPrefix+name {
				prefixed++
			}
		}
		bare := 0
		for _, l := range h["Cookie"] {
			for pair := range strings.SplitSeq(l, ";") {
				if n, _, _ := strings.Cut(strings.TrimSpace(pair), "="); strings.TrimSpace(n) == name {
					bare++
				}
			}
		}
		if bare > prefixed {
			t.Fatalf("Cookie %q with host-prefix %q became %q: %d bare cookies from %d __Host- ones", cookie, name, h["Cookie"], bare, prefixed)
		}
	})
}

// TestRewriteResponseOtherCopies: in an answer that sets the host-prefix
// cookie with a value, a line for the same name under another Path (the
// deletion of an old-path copy, as an app moving its cookie sends) keeps
// its name: moved under __Host- with Path=/, it would delete the session
// the same answer sets. The twins: alone, or beside another cookie, such
// a line moves (TestRewriteSetCookie's cases).
func TestRewriteResponseOtherCopies(t *testing.T) {
	r := &cookieRules{hostPrefix: "session"}
	for _, tt := range []struct {
		name     string
		in, want []string
	}{
		{"old-path deletion beside the session", []string{"session=abc; Path=/", "session=; Path=/old; Max-Age=0"},
			[]string{"__Host-session=abc; Path=/; Secure", "session=; Path=/old; Max-Age=0"}},
		{"old-path deletion before the session", []string{"session=; Path=/old; Max-Age=0", "session=abc"},
			[]string{"session=; Path=/old; Max-Age=0", "__Host-session=abc; Path=/; Secure"}},
		{"old-path deletion alone", []string{"session=; Path=/old; Max-Age=0"},
			[]string{"__Host-session=; Max-Age=0; Path=/; Secure"}},
		{"old-path deletion beside a session under a context path", []string{"session=abc; Path=/ctx", "session=; Path=/old; Max-Age=0"},
			[]string{"__Host-session=abc; Path=/; Secure", "session=; Path=/old; Max-Age=0"}},
		{"the session's own path deleted and set again", []string{"session=; Path=/ctx; Max-Age=0", "session=abc; Path=/ctx"},
			[]string{"__Host-session=; Max-Age=0; Path=/; Secure", "__Host-session=abc; Path=/; Secure"}},
		{"old-path deletion beside another cookie", []string{"theme=dark; Path=/", "session=; Path=/old; Max-Age=0"},
			[]string{"theme=dark; Path=/", "__Host-session=; Max-Age=0; Path=/; Secure"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{"Set-Cookie": append([]string(nil), tt.in...)}
			r.rewriteResponse(h)
			if got := h["Set-Cookie"]; !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
