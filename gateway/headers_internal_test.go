package gateway

import (
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls/forwarded"
)

// FuzzHeaderVerdict checks the header-name normalisation behind
// withoutClientHeaders on any name a client could send: it never panics,
// a dropped identity-like name stays dropped under every spelling (case,
// '_' or '.' for '-'), a twin of a header the gateway sets, strips or
// decides on is dropped even on a route that allows '_', and a plain
// dashed name that is on no list is kept.
func FuzzHeaderVerdict(f *testing.F) {
	for _, s := range []string{"X_Forwarded_For", "x-forwarded-for", "SSL_CLIENT_CERT", "X-SSL-Client-Verify", "X-Amzn-Mtls-Clientcert-Leaf",
		"My_Custom", "X-Normal-Header", "Transfer_Encoding", "Forgeproof_Csrf_Token", "x.forwarded.host", "X-Corp-Auth-User", "",
		"Cf-Access-Jwt-Assertion", strings.Repeat("x-ssl-client-", 10), "X-Real-IP", "X-Original-URL", "x_rewrite_url", "X-Forwarded-Prefix"} {
		f.Add(s)
	}
	hp := &headerPolicy{names: map[string]bool{"x-employee-id": true}, prefixes: []string{"x-corp-auth-"}}
	f.Fuzz(func(t *testing.T, name string) {
		dropAllow, kindAllow := hp.headerVerdict(name, true, false, nil)
		drop, _ := hp.headerVerdict(name, false, false, nil)
		if dropAllow && !drop {
			t.Fatalf("%q: dropped on a route allowing '_' but kept on one that does not", name)
		}
		n := string(normaliseName(nil, name))
		if punctuated(name) && headerKinds[n]&kindGateway != 0 && !dropAllow {
			t.Fatalf("%q: twin of %q kept on a route allowing '_'", name, n)
		}
		if kindAllow == dropIdentityLike {
			for _, v := range []string{asciiCase(name, 'a', 'z', 'A'-'a'), asciiCase(name, 'A', 'Z', 'a'-'A'), strings.ReplaceAll(name, "-", "_"),
				strings.ReplaceAll(name, "-", "."), strings.ReplaceAll(strings.ReplaceAll(name, "_", "-"), ".", "-")} {
				if d, _ := hp.headerVerdict(v, true, false, nil); !d {
					t.Fatalf("%q is dropped as identity-like but its spelling %q is kept", name, v)
				}
			}
		}
		if forwarded.IsHeader(name) && (!dropAllow || kindAllow != "") {
			t.Fatalf("%q: forgeproof's own identity header got drop %v, kind %q; want dropped, uncounted", name, dropAllow, kindAllow)
		}
		dropTrusted, _ := hp.headerVerdict(name, false, true, nil)
		if dropTrusted && !drop {
			t.Fatalf("%q: dropped from a trusted proxy but kept from an untrusted peer", name)
		}
		if headerKinds[n]&(kindForwarding|kindPathOverride) != 0 && !drop {
			t.Fatalf("%q: forwarding header %q kept from an untrusted peer", name, n)
		}
		if headerKinds[n]&kindPathOverride != 0 && !dropTrusted {
			t.Fatalf("%q: path override %q kept from a trusted proxy", name, n)
		}
		if !punctuated(name) && !drop && n != asciiCase(name, 'A', 'Z', 'a'-'A') {
			t.Fatalf("%q: normalisation changed a plain name to %q", name, n)
		}
	})
}

// asciiCase adds delta to every byte in [lo, hi]: ASCII case mapping that,
// unlike strings.ToUpper, leaves bytes that are not UTF-8 as they are.
func asciiCase(s string, lo, hi byte, delta int) string {
	b := []byte(s)
	for i, c := range b {
		if lo <= c && c <= hi {
			b[i] = byte(int(c) + delta)
		}
	}
	return string(b)
}

// TestIdentityLikeListDocumented: the default identity-like names and
// prefixes are the ones docs/security-model.md lists under "Identity
// headers", the one place users read them (one source per fact, with a
// test that fails when they drift either way).
func TestIdentityLikeListDocumented(t *testing.T) {
	sec := docSection(t, "### Identity headers")
	var names, prefixes []string
	for line := range strings.Lines(sec) {
		// The first cell of each table row.
		if cell, ok := strings.CutPrefix(line, "| `"); ok {
			cell, _, _ = strings.Cut(cell, "|")
			for _, n := range docNames("`" + cell) {
				if p, ok := strings.CutSuffix(n, "*"); ok {
					prefixes = append(prefixes, p)
				} else {
					names = append(names, n)
				}
			}
		}
	}
	sameNames(t, "identity-like names", identityLikeNames, names)
	sameNames(t, "identity-like prefixes", identityLikePrefixes, prefixes)
}

// TestForwardingListsDocumented: the path-override and forwarding header
// names are the ones docs/security-model.md lists in its sections on them
// (the names after each section's last colon).
func TestForwardingListsDocumented(t *testing.T) {
	for _, tt := range []struct {
		heading string
		names   []string
	}{
		{"### Path overrides, from every peer", pathOverrideNames},
		{"### Forwarding headers, from untrusted peers", forwardingNames},
		{"### Scheme, port and host headers, from trusted proxies", slices.Collect(maps.Keys(originNames))},
	} {
		sec := docSection(t, tt.heading)
		sameNames(t, tt.heading, tt.names, docNames(sec[strings.LastIndex(sec, ":"):]))
	}
}

// TestHeaderKinds: headerKinds has every name of every list, with that
// list's kind, and nothing else; identityLikeStems finds every prefix.
func TestHeaderKinds(t *testing.T) {
	want := map[string]headerKind{}
	for _, n := range forwarded.HeaderNames() {
		want[n] |= kindOwn
	}
	for _, n := range identityLikeNames {
		want[n] |= kindIdentityLike
	}
	for _, n := range pathOverrideNames {
		want[n] |= kindPathOverride
	}
	for _, n := range forwardingNames {
		want[n] |= kindForwarding
	}
	for _, n := range gatewayHeaders {
		want[n] |= kindGateway
	}
	for n := range originNames {
		want[n] |= kindOrigin
		if !slices.Contains(forwardingNames, n) {
			t.Errorf("origin header %q is not a forwarding header: an untrusted peer's would pass", n)
		}
	}
	if !maps.Equal(headerKinds, want) {
		t.Errorf("got %v, want %v", headerKinds, want)
	}
	if got := slices.MinFunc(identityLikePrefixes, func(a, b string) int { return len(a) - len(b) }); len(got) != stemLen {
		t.Errorf("stemLen is %d, want %d, the length of %q", stemLen, len(got), got)
	}
	var hp headerPolicy
	for _, p := range identityLikePrefixes {
		for _, n := range []string{p, p + "x"} {
			if !hp.identityLike([]byte(n), headerKinds[n]) {
				t.Errorf("%q, which starts with %q, is not identity-like", n, p)
			}
		}
	}
}

// docSection is the text of docs/security-model.md from the heading to
// the next heading.
func docSection(t *testing.T, heading string) string {
	t.Helper()
	doc, err := os.ReadFile("../docs/security-model.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(doc), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("docs/security-model.md has no heading %q", heading)
	}
	sec, _, _ = strings.Cut(sec, "\n#")
	return sec
}

// docNames are the normalised header names and prefixes (ending in '*')
// that text quotes in backticks.
func docNames(text string) []string {
	var names []string
	for _, m := range regexp.MustCompile("`([a-z0-9][a-z0-9-]*\\*?)`").FindAllStringSubmatch(text, -1) {
		names = append(names, m[1])
	}
	return names
}

// sameNames fails unless the code's list and the docs' list hold the
// same names.
func sameNames(t *testing.T, what string, code, doc []string) {
	t.Helper()
	for _, n := range code {
		if !slices.Contains(doc, n) {
			t.Errorf("%s: docs/security-model.md does not list `%s` (code does)", what, n)
		}
	}
	for _, n := range doc {
		if !slices.Contains(code, n) {
			t.Errorf("%s: docs/security-model.md lists `%s`, code does not", what, n)
		}
	}
}

// BenchmarkWithoutClientHeaders: the header filter on a browser-like
// request (every request pays it).
func BenchmarkWithoutClientHeaders(b *testing.B) {
	h := map[string][]string{"Accept": {"text/html"}, "Accept-Encoding": {"gzip"}, "Accept-Language": {"en"}, "User-Agent": {"Mozilla/5.0"},
		"Cookie": {"a=b"}, "Sec-Fetch-Site": {"same-origin"}, "Sec-Fetch-Mode": {"navigate"}, "Sec-Fetch-Dest": {"document"},
		"Origin": {"https://app.example"}, "Referer": {"https://app.example/"}, "Content-Type": {"application/x-www-form-urlencoded"}}
	hp := &headerPolicy{}
	b.ReportAllocs()
	for b.Loop() {
		var d dropped
		hp.withoutClientHeaders(h, addedHeaders, false, false, nil, &d)
	}
}

// TestStripRequestHeadersConfig: strip-request-headers entries must be
// header names or prefixes ending in '*'; errors name the key and entry.
func TestStripRequestHeadersConfig(t *testing.T) {
	tests := []struct {
		name    string
		list    []string
		wantErr string
	}{
		{"names and prefixes", []string{"X-Corp-Auth-*", "X_Employee_Id"}, ""},
		{"empty entry", []string{""}, `entry 0 "" is not a header name`},
		{"a lone star", []string{"*"}, `entry 0 "*" is not a header name`},
		{"a space", []string{"X Corp"}, `entry 0 "X Corp" is not a header name`},
		{"a colon", []string{"X-Corp:"}, `entry 0 "X-Corp:" is not a header name`},
		{"a star inside", []string{"X-*-Auth"}, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &compiler{cfg: &Config{}}
			hp := p.parseStripHeaders("strip-request-headers", tt.list)
			var got string
			if len(p.errs) > 0 {
				got = p.errs[0].Error()
			}
			if tt.wantErr == "" && got != "" || tt.wantErr != "" && !strings.Contains(got, tt.wantErr) {
				t.Fatalf("got error %q, want %q", got, tt.wantErr)
			}
			if tt.name == "names and prefixes" {
				identityLike := func(name string) bool {
					n := normaliseName(nil, name)
					return hp.identityLike(n, headerKinds[string(n)])
				}
				if !identityLike("x_corp_auth_user") || !identityLike("X-EMPLOYEE-ID") {
					t.Errorf("configured names not matched under another spelling")
				}
				if identityLike("X-Employee-Ids") {
					t.Errorf("a name is matched as a prefix")
				}
			}
		})
	}
}

// TestPlainHeaders: the shortcut for common header names (plainNames)
// gives headerVerdict's own answer, for every setting and every check
// turned off, with no strip-request-headers and with entries that name
// common headers (which then take the long way, and are dropped); a name
// off the common list is answered the long way too.
func TestPlainHeaders(t *testing.T) {
	names := append(slices.Clone(commonHeaders), "X-Forwarded-For", "X_User_Agent", "X-Client-Cert", "Forgeproof-Client-Identity", "X-Custom", "Te")
	for _, strip := range [][]string{nil, {"User-Agent", "Sec-Ch-*"}} {
		p := &compiler{cfg: &Config{}}
		hp := p.parseStripHeaders("strip-request-headers", strip)
		slow := hp
		slow.plain = nil
		if strip == nil && len(hp.plain) != len(commonHeaders) {
			t.Errorf("plain has %d of %d common names (%v): a common name it lacks takes the long way anyway", len(hp.plain), len(commonHeaders), hp.plain)
		}
		if strip != nil && (hp.plain["User-Agent"] || hp.plain["Sec-Ch-Ua"]) {
			t.Errorf("strip %v: plain has a stripped name: %v", strip, hp.plain)
		}
		for _, name := range names {
			for off := -1; off < int(numChecks); off++ {
				var checks checksOff
				if off >= 0 {
					checks[off].Store(true)
				}
				for _, underscore := range []bool{false, true} {
					for _, trusted := range []bool{false, true} {
						gd, gk := hp.headerVerdict(name, underscore, trusted, &checks)
						wd, wk := slow.headerVerdict(name, underscore, trusted, &checks)
						if gd != wd || gk != wk {
							t.Errorf("strip %v, %s, check %d off, underscore %v, trusted %v: got %v %q, want %v %q", strip, name, off, underscore, trusted, gd, gk, wd, wk)
						}
					}
				}
			}
		}
	}
}
