package gateway

import (
	"os"
	"strings"
	"testing"
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
		if punctuated(name) && gatewayHeaders[n] && !dropAllow {
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
		dropTrusted, _ := hp.headerVerdict(name, false, true, nil)
		if dropTrusted && !drop {
			t.Fatalf("%q: dropped from a trusted proxy but kept from an untrusted peer", name)
		}
		if (forwardingNames[n] || pathOverrideNames[n]) && !drop {
			t.Fatalf("%q: forwarding header %q kept from an untrusted peer", name, n)
		}
		if pathOverrideNames[n] && !dropTrusted {
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

// TestIdentityLikeListDocumented: every default identity-like name and
// prefix is listed in docs/security-model.md, the one place users read
// it (one source per fact, with a test that fails when they drift).
func TestIdentityLikeListDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/security-model.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range identityLikeNames {
		if !strings.Contains(string(doc), "`"+n+"`") {
			t.Errorf("docs/security-model.md does not list `%s`", n)
		}
	}
	for _, p := range identityLikePrefixes {
		if !strings.Contains(string(doc), "`"+p+"*`") {
			t.Errorf("docs/security-model.md does not list `%s*`", p)
		}
	}
}

// TestForwardingListsDocumented: every path-override and forwarding
// header name is listed in docs/security-model.md.
func TestForwardingListsDocumented(t *testing.T) {
	doc, err := os.ReadFile("../docs/security-model.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []map[string]bool{pathOverrideNames, forwardingNames} {
		for n := range m {
			if !strings.Contains(string(doc), "`"+n+"`") {
				t.Errorf("docs/security-model.md does not list `%s`", n)
			}
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
		hp.withoutClientHeaders(h, false, false, nil, &d)
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
				if !hp.identityLike(normaliseName(nil, "x_corp_auth_user")) || !hp.identityLike(normaliseName(nil, "X-EMPLOYEE-ID")) {
					t.Errorf("configured names not matched under another spelling")
				}
				if hp.identityLike(normaliseName(nil, "X-Employee-Ids")) {
					t.Errorf("a name is matched as a prefix")
				}
			}
		})
	}
}
