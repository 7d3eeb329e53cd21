package main

import (
	"math/big"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzValidityFlag checks --validity against a second reading in exact
// arithmetic (whole days, or time.ParseDuration), and that an accepted
// value reads back from its String form.
func FuzzValidityFlag(f *testing.F) {
	for _, s := range []string{"365d", "3650d", "36500d", "36501d", "0d", "-1d", "+365d", "d", "1.5d", "720h", "90m",
		"1h30m", "0", "-1h", "876000h", "876001h", "213503982335d", "106751991167301d", "9223372036854775807d", "365D", " 365d", ""} {
		f.Add(s)
	}
	const max = 100 * 365 * 24 * time.Hour
	f.Fuzz(func(t *testing.T, s string) {
		var v validityFlag
		err := v.Set(s)
		var want time.Duration
		if n, ok := strings.CutSuffix(s, "d"); ok {
			days, good := new(big.Int).SetString(n, 10)
			if good {
				ns := new(big.Int).Mul(days, big.NewInt(int64(24*time.Hour)))
				if ns.IsInt64() {
					want = time.Duration(ns.Int64())
				}
			}
		} else {
			want, _ = time.ParseDuration(s)
		}
		if want <= 0 || want > max {
			want = 0
		}
		if (err == nil) != (want != 0) || err == nil && v.d != want {
			t.Fatalf("Set(%q) = %v, %v; want %v", s, v.d, err, want)
		}
		if err != nil {
			return
		}
		var back validityFlag
		if err := back.Set(v.String()); err != nil || back.d != v.d {
			t.Errorf("Set(%q) (String of %q) = %v, %v; want %v", v.String(), s, back.d, err, v.d)
		}
	})
}

// FuzzListFlag checks that a list flag holds the comma-separated parts
// of its values, trimmed, empty ones dropped, and reads its String back.
func FuzzListFlag(f *testing.F) {
	for _, s := range [][2]string{{"a,b", "c"}, {" a , ,b ", ""}, {",,,", "x"}, {"a\u00a0", "\u0085b"}, {"", ""}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, v1, v2 string) {
		var l listFlag
		var want []string
		for _, v := range []string{v1, v2} {
			if err := l.Set(v); err != nil {
				t.Fatal(err)
			}
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p != "" {
					want = append(want, p)
				}
			}
		}
		if strings.Join(l, "\x00") != strings.Join(want, "\x00") || len(l) != len(want) {
			t.Fatalf("got %q, want %q", l, want)
		}
		var back listFlag
		_ = back.Set(l.String())
		if strings.Join(back, "\x00") != strings.Join(l, "\x00") {
			t.Errorf("String %q reads back as %q, want %q", l.String(), back, l)
		}
	})
}

// ldhName is checkDNSName's documented reading, written apart.
var ldhName = regexp.MustCompile(`^(\*\.)?([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$`)

// FuzzCheckDNSName checks the DNS names --dns, --host and the listen
// addresses take against a regular expression of the same rules, and
// that an accepted name is the host net/url reads from a URL with it.
func FuzzCheckDNSName(f *testing.F) {
	for _, s := range []string{"example.com", "example.com.", "*.example.com", "*.com", "a.*.com", "-a.com", "a-.com", "a..b",
		"1.2.3.4", "::1", "xn--bcher-kva.example", strings.Repeat("a", 63) + ".com", strings.Repeat("a", 64) + ".com",
		"exa_mple.com", "ex\u212aample.com", "", ".", "localhost"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, wildcard bool) {
		err := checkDNSName(s, wildcard)
		name := strings.TrimSuffix(s, ".")
		_, ipErr := netip.ParseAddr(name)
		want := ldhName.MatchString(s) && len(name) <= 253 && ipErr != nil &&
			(!strings.HasPrefix(s, "*.") || wildcard && strings.Count(name, ".") >= 2)
		if (err == nil) != want {
			t.Fatalf("checkDNSName(%q, %v) = %v; the rules say ok=%v", s, wildcard, err, want)
		}
		if err != nil || strings.HasPrefix(s, "*.") {
			return
		}
		if u, perr := url.Parse("https://" + s + "/"); perr != nil || u.Hostname() != s {
			t.Errorf("net/url reads https://%s/ as host %q, %v", s, u.Hostname(), perr)
		}
	})
}

// FuzzCheckListen checks the listen addresses init and demo take: an
// accepted one is host:port as net.SplitHostPort reads it, with a port
// net resolves to the same number, and a loopback one is on loopback.
func FuzzCheckListen(f *testing.F) {
	for _, s := range []string{"127.0.0.1:8443", ":8443", "localhost:0", "[::1]:9090", "0.0.0.0:80", "example.com:443",
		"127.0.0.1:65536", "127.0.0.1:+80", "127.0.0.1:-0", "127.0.0.1:0080", "127.0.0.1:", "127.0.0.1", "[::1]", "h:x", ""} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, addr string, loopback bool) {
		if err := checkListen(addr, loopback); err != nil {
			return
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Fatalf("accepted %q, which net.SplitHostPort refuses: %v", addr, err)
		}
		// Signs are read as net reads them: "+80" is 80, "-0" is 0.
		n, err := strconv.Atoi(port)
		if err != nil || n < 0 || n > 65535 {
			t.Fatalf("accepted %q, whose port is not 0 to 65535: %v", addr, err)
		}
		if p, err := net.LookupPort("tcp", port); err != nil || p != n {
			t.Errorf("accepted %q, whose port net reads as %d, %v", addr, p, err)
		}
		if ip, err := netip.ParseAddr(host); loopback && host != "localhost" && (err != nil || !ip.IsLoopback()) {
			t.Errorf("accepted %q as a loopback address", addr)
		}
		if checkDemoAddr(addr) == nil && host != "" && host != "localhost" {
			if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
				t.Errorf("the demo accepted %q, not on loopback", addr)
			}
		}
	})
}

// FuzzParseFields checks the urlencoded form fields of --login-fields
// against url.ParseQuery: the same fields, the first value of each, and
// an error for the same inputs (";", which ParseQuery refuses and
// parseFields keeps in a value, aside).
func FuzzParseFields(f *testing.F) {
	for _, s := range []string{"user=alice&password=s3cret", "a=1&a=2", "a", "=v", "a=%zz", "%zz=1", "a+b=c+d", "a=%20", "&&a=1&", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if strings.Contains(s, ";") {
			t.Skip()
		}
		got, err := parseFields(s)
		q, qerr := url.ParseQuery(s)
		if (err == nil) != (qerr == nil) {
			t.Fatalf("parseFields(%q) error %v, url.ParseQuery error %v", s, err, qerr)
		}
		if err != nil {
			if strings.Contains(err.Error(), "%") && strings.Count(err.Error(), "%") > 1 {
				t.Errorf("error %q may quote the value", err)
			}
			return
		}
		if len(got) != len(q) {
			t.Fatalf("parseFields(%q) = %q, url.ParseQuery %q", s, got, q)
		}
		for k, v := range got {
			if q.Get(k) != v {
				t.Errorf("field %q = %q, url.ParseQuery %q", k, v, q.Get(k))
			}
		}
	})
}

// FuzzCheckName checks --name: an accepted name is one file in --dir,
// not the CA's and not hidden.
func FuzzCheckName(f *testing.F) {
	for _, s := range []string{"web", "alice.example", "ca", "crl", "../x", "a/b", `a\b`, ".hidden", "-rf", "..", ".", "a b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if checkName("issue-client", name) != nil {
			return
		}
		dir := filepath.FromSlash("/d")
		if p := filepath.Join(dir, name); filepath.Dir(p) != dir || filepath.Base(p) != name || name[0] == '.' || name == "ca" || name == "crl" {
			t.Errorf("accepted --name %q, which is %q in %q", name, p, dir)
		}
	})
}

// TestValidityFlag: a day count whose nanoseconds overflow int64 is
// refused, not wrapped to a validity of hours; the longest allowed
// validity (the allowed twin) and one day more (the control) bracket it.
func TestValidityFlag(t *testing.T) {
	for s, want := range map[string]time.Duration{
		"36500d":               36500 * 24 * time.Hour,
		"876000h":              876000 * time.Hour,
		"36501d":               0,
		"213503982335d":        0, // 9h34m8.384s once wrapped
		"106751991167301d":     0, // 8h29m52s once wrapped
		"9223372036854775807d": 0,
		"0d":                   0,
	} {
		var v validityFlag
		err := v.Set(s)
		if want == 0 {
			if err == nil || err.Error() != "must be positive and at most 100 years" {
				t.Errorf("Set(%q) = %v, %v; want the 100 years error", s, v.d, err)
			}
			continue
		}
		if err != nil || v.d != want {
			t.Errorf("Set(%q) = %v, %v; want %v", s, v.d, err, want)
		}
	}
}

// TestPKIInitValidityOverflow runs the command: the wrapped day count is
// a usage error that names the flag, and no CA is written.
func TestPKIInitValidityOverflow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"pki", "init", "--dir", dir, "--validity", "213503982335d"}, &stdout, &stderr)
	if code != 2 || !strings.Contains(stderr.String(), "--validity") || !strings.Contains(stderr.String(), "at most 100 years") {
		t.Fatalf("exit %d, stderr %q; want 2 and the --validity error", code, stderr.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the CA folder exists: %v", err)
	}
}
