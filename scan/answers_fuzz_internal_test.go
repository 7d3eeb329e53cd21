package scan

import (
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// FuzzHeaderHas checks headerHas, which reads the target's answer to a
// WebSocket handshake, against httpguts' token list reading: ASCII
// case-insensitive, only spaces and tabs around a token, as RFC 9110
// reads tokens and browsers compare them.
func FuzzHeaderHas(f *testing.F) {
	for _, s := range [][2]string{
		{"websocket", "websocket"}, {"WebSocket", "websocket"}, {"h2c, websocket", "websocket"},
		{" websocket\t", "websocket"}, {"websocket2", "websocket"}, {"", "websocket"},
		{"websoc\u212aet", "websocket"}, {"\u0085websocket", "websocket"}, {"websocket\u00a0", "websocket"},
		{"web socket", "websocket"}, {",,websocket,,", "websocket"}, {"upgrade", "Upgrade"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, v, token string) {
		if !httpguts.ValidHeaderFieldName(token) {
			t.Skip() // the callers' tokens are constants such as "websocket"
		}
		h := http.Header{"Upgrade": {v}}
		got := headerHas(h, "Upgrade", token)
		if want := httpguts.HeaderValuesContainsToken(h.Values("Upgrade"), token); got != want {
			t.Errorf("headerHas(Upgrade: %q, %q) = %v, httpguts says %v", v, token, got, want)
		}
	})
}

// FuzzWSToHTTP checks wsToHTTP, which reads WebSocket URLs from the
// target's pages and scripts: it changes a ws: or wss: scheme (any ASCII
// case) to http: or https: and nothing else, and net/url reads the result
// as the same URL with the new scheme.
func FuzzWSToHTTP(f *testing.F) {
	for _, s := range []string{"ws://h/p", "WSS://h:8443/p?q#f", "wss:/x", "ws:", "wS://h", "/socket", "https://h/",
		"ws\u017f://h", "w\u212as://h", "wss://user@h/p", "wss//h", " ws://h", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, ref string) {
		got := wsToHTTP(ref)
		want := ref
		for ws, http := range map[string]string{"ws://": "http://", "wss://": "https://"} {
			if len(ref) >= len(ws) && strings.EqualFold(ref[:len(ws)], ws) && isASCII(ref[:len(ws)]) {
				want = http + ref[len(ws):]
			}
		}
		if got != want {
			t.Fatalf("wsToHTTP(%q) = %q, want %q", ref, got, want)
		}
		u, err := url.Parse(ref)
		if err != nil || u.Scheme != "ws" && u.Scheme != "wss" || !strings.HasPrefix(ref[len(u.Scheme)+1:], "//") {
			return // "wss:/x" is kept as it is: the callers drop URLs that are not http(s)
		}
		v, err := url.Parse(got)
		if err != nil {
			t.Fatalf("url.Parse(%q): %v, but %q parses", got, err, ref)
		}
		if map[string]string{"ws": "http", "wss": "https"}[u.Scheme] != v.Scheme {
			t.Errorf("%q became %q", u.Scheme, v.Scheme)
		}
		u.Scheme = v.Scheme
		if u.String() != v.String() {
			t.Errorf("%q read as %q, its http form %q as %q", ref, u, got, v)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// FuzzTokenMember checks tokenMember, which reads the JSON bodies the
// target answers, against a second reading (map[string]any): "" unless
// the body is a JSON object, else the first key in sorted order that
// looks like an anti-CSRF token.
func FuzzTokenMember(f *testing.F) {
	for _, s := range []string{`{"csrfToken":"x"}`, `{"a":1,"xsrf":2,"_token":3}`, `{"nested":{"csrf":1}}`, `[{"csrf":1}]`,
		`{"CSRF":1,"csrf":2}`, `{"csrf":1,"csrf":2}`, `{"\ud800csrf":1}`, `"csrf"`, `{"csrf":1} trailing`, `null`, `{}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := tokenMember(body)
		var m map[string]any
		var keys []string
		if json.Unmarshal(body, &m) == nil {
			for k := range m {
				if tokenLike.MatchString(k) {
					keys = append(keys, k)
				}
			}
		}
		sort.Strings(keys)
		want := ""
		if len(keys) > 0 {
			want = keys[0]
		}
		if got != want {
			t.Errorf("tokenMember(%q) = %q, want %q", body, got, want)
		}
	})
}

// TestHeaderHasASCII: an Upgrade a browser takes (any ASCII case, spaces
// and tabs around it, in a list) is read as websocket; one that only
// Unicode folding or trimming makes "websocket" is not, since a browser
// fails that handshake.
func TestHeaderHasASCII(t *testing.T) {
	for v, want := range map[string]bool{
		"websocket":           true,
		"WebSocket":           true,
		" websocket\t":        true,
		"h2c, websocket":      true,
		"websoc\u212aet":      false, // Kelvin sign, which strings.EqualFold folds to k
		"\u0085websocket":     false, // NEL, which strings.TrimSpace trims
		"websocket\u00a0":     false, // no-break space, likewise
		"websocket2":          false,
		"":                    false,
		"\u017fwebsocket"[2:]: true,  // the control: the same bytes without the prefix
		"web\u017focket":      false, // long s, which strings.EqualFold folds to s
	} {
		if got := headerHas(http.Header{"Upgrade": {v}}, "Upgrade", "websocket"); got != want {
			t.Errorf("Upgrade: %q: got %v, want %v", v, got, want)
		}
	}
}
