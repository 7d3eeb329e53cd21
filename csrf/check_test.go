package csrf_test

import (
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// request builds a server-side request as net/http would: r.URL has no
// scheme or host (the gorilla/csrf and nosurf 2025 advisories came from
// reading them), Host comes from the URL, TLS is set for https.
func request(method, target string, header ...string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.URL.Scheme, r.URL.Host = "", ""
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Add(header[i], header[i+1])
	}
	return r
}

func reasonOf(err error) csrf.Reason {
	if err == nil {
		return ""
	}
	r, ok := csrf.ReasonOf(err)
	if !ok {
		return "not a csrf.Error: " + csrf.Reason(err.Error())
	}
	return r
}

type checkCase struct {
	name  string
	setup func(t *testing.T, p *csrf.Protection)
	req   func() *http.Request
	want  csrf.Reason // "" means allowed
}

func runChecks(t *testing.T, tests []checkCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := csrf.New()
			if tt.setup != nil {
				tt.setup(t, p)
			}
			if got := reasonOf(p.Check(tt.req())); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const app = "https://app.example"

// Each refused case sits next to the allowed case it differs from.
func TestCheckOrigin(t *testing.T) {
	post := func(target string, h ...string) func() *http.Request {
		return func() *http.Request { return request("POST", target, h...) }
	}
	trust := func(patterns ...string) func(*testing.T, *csrf.Protection) {
		return func(t *testing.T, p *csrf.Protection) {
			for _, o := range patterns {
				must(t, p.AddTrustedOrigin(o))
			}
		}
	}
	runChecks(t, []checkCase{
		// Item 1: safe methods pass, everything else is checked.
		{name: "GET cross-site allowed", req: func() *http.Request { return request("GET", app+"/", "Sec-Fetch-Site", "cross-site") }},
		{name: "HEAD cross-site allowed", req: func() *http.Request { return request("HEAD", app+"/", "Sec-Fetch-Site", "cross-site") }},
		{name: "OPTIONS cross-site allowed", req: func() *http.Request { return request("OPTIONS", app+"/", "Sec-Fetch-Site", "cross-site") }},
		{name: "POST cross-site refused", req: post(app+"/", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		{name: "PUT cross-site refused", req: func() *http.Request { return request("PUT", app+"/", "Sec-Fetch-Site", "cross-site") }, want: csrf.ReasonCrossSite},
		{name: "DELETE cross-site refused", req: func() *http.Request { return request("DELETE", app+"/", "Sec-Fetch-Site", "cross-site") }, want: csrf.ReasonCrossSite},
		{name: "TRACE cross-site refused", req: func() *http.Request { return request("TRACE", app+"/", "Sec-Fetch-Site", "cross-site") }, want: csrf.ReasonCrossSite},
		{name: "unknown method cross-site refused", req: func() *http.Request { return request("FROB", app+"/", "Sec-Fetch-Site", "cross-site") }, want: csrf.ReasonCrossSite},
		{name: "lower-case get is not GET and is checked", req: func() *http.Request { return request("get", app+"/", "Sec-Fetch-Site", "cross-site") }, want: csrf.ReasonCrossSite},

		// Item 2: Sec-Fetch-Site.
		{name: "same-origin allowed", req: post(app+"/", "Sec-Fetch-Site", "same-origin")},
		{name: "none allowed", req: post(app+"/", "Sec-Fetch-Site", "none")},
		{name: "same-site refused by default", req: post(app+"/", "Sec-Fetch-Site", "same-site", "Origin", "https://blog.app.example"), want: csrf.ReasonSameSite},
		{name: "same-site allowed when opted in", setup: func(t *testing.T, p *csrf.Protection) { p.SetAllowSameSite(true) },
			req: post(app+"/", "Sec-Fetch-Site", "same-site", "Origin", "https://blog.app.example")},
		{name: "unknown Sec-Fetch-Site refused", req: post(app+"/", "Sec-Fetch-Site", "same-galaxy"), want: csrf.ReasonFetchSiteInvalid},
		{name: "Sec-Fetch-Site decides over a matching Origin", req: post(app+"/", "Sec-Fetch-Site", "cross-site", "Origin", app), want: csrf.ReasonCrossSite},

		// Item 3: the whole Origin without Sec-Fetch-Site.
		{name: "same Origin over TLS allowed", req: post(app+"/", "Origin", app)},
		{name: "other host refused", req: post(app+"/", "Origin", "https://evil.example"), want: csrf.ReasonOriginMismatch},
		{name: "http Origin to https refused (stdlib fails open)", req: post(app+"/", "Origin", "http://app.example"), want: csrf.ReasonOriginMismatch},
		{name: "https Origin to plain http refused", req: post("http://app.example/", "Origin", app), want: csrf.ReasonOriginMismatch},
		{name: "http Origin to plain http allowed", req: post("http://app.example/", "Origin", "http://app.example")},
		{name: "other port refused", req: post(app+"/", "Origin", "https://app.example:8443"), want: csrf.ReasonOriginMismatch},
		{name: "same non-default port allowed", req: post("https://app.example:8443/", "Origin", "https://app.example:8443")},
		{name: "Host with default port matches Origin without it", req: post("https://app.example:443/", "Origin", app)},
		{name: "Origin with a path refused", req: post(app+"/", "Origin", app+"/"), want: csrf.ReasonOriginInvalid},
		{name: "Origin null refused", req: post(app+"/", "Origin", "null"), want: csrf.ReasonOriginNull},
		{name: "Origin garbage refused", req: post(app+"/", "Origin", "://"), want: csrf.ReasonOriginInvalid},
		{name: "Origin upper case is the same origin (host names are case-insensitive)", req: post(app+"/", "Origin", "https://APP.example")},

		// Item 4: Referer fallback; neither header means not a browser.
		{name: "same-origin Referer allowed", req: post(app+"/", "Referer", app+"/form?x=1")},
		{name: "cross-site Referer refused", req: post(app+"/", "Referer", "https://evil.example/attack"), want: csrf.ReasonRefererMismatch},
		{name: "http Referer to https refused", req: post(app+"/", "Referer", "http://app.example/form"), want: csrf.ReasonRefererMismatch},
		{name: "Referer with user info refused", req: post(app+"/", "Referer", "https://app.example@evil.example/"), want: csrf.ReasonRefererInvalid},
		{name: "relative Referer refused", req: post(app+"/", "Referer", "/form"), want: csrf.ReasonRefererInvalid},
		{name: "Referer on plain http checked too", req: post("http://app.example/", "Referer", "http://evil.example/"), want: csrf.ReasonRefererMismatch},
		{name: "no browser headers allowed (a program)", req: post(app + "/")},
		{name: "Origin takes precedence over Referer", req: post(app+"/", "Origin", app, "Referer", "https://evil.example/")},

		// Item 5: trusted origins.
		{name: "trusted exact origin allowed cross-site", setup: trust("https://admin.example"), req: post(app+"/", "Sec-Fetch-Site", "cross-site", "Origin", "https://admin.example")},
		{name: "untrusted neighbour of trusted refused", setup: trust("https://admin.example"), req: post(app+"/", "Sec-Fetch-Site", "cross-site", "Origin", "https://admin2.example"), want: csrf.ReasonCrossSite},
		{name: "trusted origin with other scheme refused (CVE-2025-47909)", setup: trust("https://admin.example"), req: post(app+"/", "Origin", "http://admin.example"), want: csrf.ReasonOriginMismatch},
		{name: "trusted origin with other port refused", setup: trust("https://admin.example"), req: post(app+"/", "Origin", "https://admin.example:444"), want: csrf.ReasonOriginMismatch},
		{name: "trusted origin given with default port matches", setup: trust("https://Admin.example:443"), req: post(app+"/", "Origin", "https://admin.example")},
		{name: "trusted origin same-site allowed", setup: trust("https://blog.app.example"), req: post(app+"/", "Sec-Fetch-Site", "same-site", "Origin", "https://blog.app.example")},
		{name: "wildcard matches one label", setup: trust("https://*.partner.example"), req: post(app+"/", "Sec-Fetch-Site", "cross-site", "Origin", "https://a.partner.example")},
		{name: "wildcard does not match two labels", setup: trust("https://*.partner.example"), req: post(app+"/", "Sec-Fetch-Site", "cross-site", "Origin", "https://a.b.partner.example"), want: csrf.ReasonCrossSite},
		{name: "wildcard does not match the apex", setup: trust("https://*.partner.example"), req: post(app+"/", "Sec-Fetch-Site", "cross-site", "Origin", "https://partner.example"), want: csrf.ReasonCrossSite},
		{name: "wildcard does not match other scheme", setup: trust("https://*.partner.example"), req: post(app+"/", "Origin", "http://a.partner.example"), want: csrf.ReasonOriginMismatch},
		{name: "wildcard does not match a suffix trick", setup: trust("https://*.partner.example"), req: post(app+"/", "Origin", "https://a.partner.example.evil.example"), want: csrf.ReasonOriginMismatch},
		{name: "trusted Referer origin allowed", setup: trust("https://admin.example"), req: post(app+"/", "Referer", "https://admin.example/page")},
		{name: "trusted origins never match null", setup: trust("https://admin.example"), req: post(app+"/", "Origin", "null"), want: csrf.ReasonOriginNull},

		// Item 6: bypass patterns match the cleaned path only.
		{name: "bypass pattern exempts", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/hooks/github", "Sec-Fetch-Site", "cross-site")},
		{name: "bypass pattern does not exempt other paths", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/transfer", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		{name: "bypass pattern does not exempt a dot-dot path", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/hooks/../transfer", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		{name: "bypass pattern does not exempt a path it would redirect", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/hooks", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		// A backend that decodes %2F before resolving dot segments routes
		// "/hooks/..%2Ftransfer" to /transfer, while ServeMux matches the
		// escaped path under /hooks/: only paths clean once decoded are
		// exempt.
		{name: "bypass pattern exempts an encoded slash", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/hooks/a%2Fb", "Sec-Fetch-Site", "cross-site")},
		{name: "bypass pattern does not exempt a dot-dot behind an encoded slash", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/hooks/..%2Ftransfer", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		{name: "bypass pattern does not exempt a percent-encoded dot-dot", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/hooks/%2e%2e/transfer", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		{name: "bypass pattern does not exempt an encoded double slash", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/")) },
			req: post(app+"/hooks/%2F%2Fevil", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		// A wildcard segment matches "x%2Fdelete" whole, as ServeMux reads
		// the escaped path, but routers that match the decoded path (gin's
		// and gorilla/mux's defaults) serve /hooks/x/delete: exempt only a
		// path that both readings put under a bypass pattern.
		{name: "wildcard bypass exempts its one segment", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/{id}")) },
			req: post(app+"/hooks/x", "Sec-Fetch-Site", "cross-site")},
		{name: "wildcard bypass does not exempt an encoded slash that adds a segment", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /hooks/{id}")) },
			req: post(app+"/hooks/x%2Fdelete", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
		{name: "wildcard bypass exempts an encoded slash both readings match", setup: func(t *testing.T, p *csrf.Protection) {
			must(t, p.AddInsecureBypassPattern("POST /hooks/{id}"))
			must(t, p.AddInsecureBypassPattern("POST /hooks/{id}/{sub}"))
		}, req: post(app+"/hooks/x%2Fdelete", "Sec-Fetch-Site", "cross-site")},
		{name: "bypass pattern respects its method", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("PUT /hooks/")) },
			req: post(app+"/hooks/x", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonCrossSite},
	})
}

// The scheme of the request's own origin comes from the connection, never
// from r.URL: CVE-2025-24358 (gorilla/csrf) and CVE-2025-46721 (nosurf)
// read r.URL.Scheme, which net/http leaves empty on server requests.
func TestOwnSchemeNeverFromURL(t *testing.T) {
	tests := []struct {
		name      string
		urlScheme string
		tls       bool
		origin    string
		want      csrf.Reason
	}{
		{"server request over TLS, https Origin allowed", "", true, app, ""},
		{"server request over TLS, http Origin refused", "", true, "http://app.example", csrf.ReasonOriginMismatch},
		{"URL says https but the connection is plain: https Origin refused", "https", false, app, csrf.ReasonOriginMismatch},
		{"URL says http but the connection is TLS: http Origin refused", "http", true, "http://app.example", csrf.ReasonOriginMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("POST", "http://app.example/", "Origin", tt.origin)
			r.URL.Scheme = tt.urlScheme
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if got := reasonOf(csrf.New().Check(r)); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCanonicalOriginsAndProxies(t *testing.T) {
	behind := func(remote string, h ...string) func() *http.Request {
		return func() *http.Request {
			r := request("POST", "http://10.0.0.5:8080/", h...) // TLS ended at the proxy
			r.RemoteAddr = remote
			return r
		}
	}
	canonical := func(origins ...string) func(*testing.T, *csrf.Protection) {
		return func(t *testing.T, p *csrf.Protection) {
			for _, o := range origins {
				must(t, p.AddCanonicalOrigin(o))
			}
		}
	}
	proxy := func(t *testing.T, p *csrf.Protection) { must(t, p.AddTrustedProxy("10.0.0.0/8")) }
	runChecks(t, []checkCase{
		{name: "behind a proxy without configuration: fails closed", req: behind("10.1.1.1:1", "Origin", app), want: csrf.ReasonOriginMismatch},
		{name: "canonical origin allows its Origin", setup: canonical(app), req: behind("10.1.1.1:1", "Origin", app)},
		{name: "canonical origin refuses another", setup: canonical(app), req: behind("10.1.1.1:1", "Origin", "http://app.example"), want: csrf.ReasonOriginMismatch},
		{name: "several canonical origins pick by Host", setup: canonical(app, "https://admin.example"),
			req: func() *http.Request {
				r := request("POST", "http://admin.example/", "Origin", "https://admin.example")
				return r
			}},
		{name: "several canonical origins: other canonical origin refused", setup: canonical(app, "https://admin.example"),
			req: func() *http.Request { return request("POST", "http://admin.example/", "Origin", app) }, want: csrf.ReasonOriginMismatch},
		{name: "several canonical origins, unknown Host: no own origin", setup: canonical(app, "https://admin.example"),
			req: func() *http.Request {
				return request("POST", "http://other.example/", "Origin", "http://other.example")
			}, want: csrf.ReasonOriginMismatch},
		{name: "trusted proxy X-Forwarded headers allowed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example")},
		{name: "same headers from an untrusted peer ignored", setup: proxy,
			req: behind("192.0.2.1:1", "Origin", app, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example"), want: csrf.ReasonOriginMismatch},
		{name: "no proxies configured: headers ignored",
			req: behind("10.1.1.1:1", "Origin", app, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example"), want: csrf.ReasonOriginMismatch},
		{name: "last X-Forwarded value is the trusted one", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "X-Forwarded-Proto", "http, https", "X-Forwarded-Host", "evil.example, app.example")},
		{name: "client-sent first value does not win", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", "https://evil.example", "X-Forwarded-Proto", "http, https", "X-Forwarded-Host", "evil.example, app.example"), want: csrf.ReasonOriginMismatch},
		{name: "Forwarded header allowed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", `for=192.0.2.60;proto=https;host="app.example"`)},
		{name: "Forwarded and X-Forwarded-Proto that disagree fail closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "proto=http;host=app.example", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example"), want: csrf.ReasonForwardedConflict},
		{name: "Forwarded and X-Forwarded-Proto/-Host that agree allowed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "proto=https;host=app.example", "X-Forwarded-Proto", "HTTPS", "X-Forwarded-Host", "app.example:443")},
		{name: "Forwarded host against the Host an X-Forwarded-Proto reader uses fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "proto=https;host=app.example", "X-Forwarded-Proto", "https"), want: csrf.ReasonForwardedConflict},
		{name: "Forwarded and X-Forwarded-Host that disagree fail closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "proto=https;host=app.example", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"), want: csrf.ReasonForwardedConflict},
		{name: "quoted IPv6 for and host with port allowed (RFC 7239 §4)", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app+":8443", "Forwarded", `for="[2001:db8::1]:4711";proto=https;host="app.example:8443"`)},
		{name: "comma inside a quoted value: refused, naive parsers (Rack 3.0, Spring) split there", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", `for=192.0.2.1;host=app.example;proto=https, for="_a, host=evil.example";proto=https;host=app.example`), want: csrf.ReasonForwardedInvalid},
		{name: "twin: a quoted value without separators", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", `for=192.0.2.1;host=app.example;proto=https, for="_a";proto=https;host=app.example`)},
		{name: "unterminated quote swallowing the proxy's element fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", `for="_a, for=192.0.2.1;host=app.example;proto=https`), want: csrf.ReasonForwardedInvalid},
		{name: "trailing empty Forwarded element fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", `proto=https;host=app.example, `), want: csrf.ReasonForwardedInvalid},
		{name: "client's Forwarded line before the proxy's, as HAProxy add-header sends them, allowed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "for=6.6.6.6;host=evil.example;proto=http", "Forwarded", `for="::1";proto=https;host="app.example"`,
				"X-Forwarded-Proto", "http, http", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example")},
		{name: "client's malformed Forwarded line before the proxy's fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", `for="_x, host=evil`, "Forwarded", `for="::1";proto=https;host="app.example"`), want: csrf.ReasonForwardedInvalid},
		{name: "client's Forwarded passed on beside the proxy's X-Forwarded-*, as Caddy and nginx do, fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", "https://evil.example", "Forwarded", "host=evil.example;proto=https", "X-Forwarded-Proto", "http", "X-Forwarded-Host", "app.example"), want: csrf.ReasonForwardedConflict},
		{name: "empty X-Forwarded-Host fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example, "), want: csrf.ReasonForwardedInvalid},
		{name: "malformed Forwarded from trusted proxy fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "proto"), want: csrf.ReasonForwardedInvalid},
		{name: "Forwarded with empty pairs allowed (RFC 7239 grammar)", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", `;for=192.0.2.60;;proto=https;host="app.example";`)},
		{name: "Forwarded with proto twice fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "proto=http;host=app.example;proto=https"), want: csrf.ReasonForwardedInvalid},
		{name: "Forwarded with host twice fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "Forwarded", "proto=https;host=evil.example;host=app.example"), want: csrf.ReasonForwardedInvalid},
		{name: "unknown forwarded proto fails closed", setup: proxy,
			req: behind("10.1.1.1:1", "Origin", app, "X-Forwarded-Proto", "gopher"), want: csrf.ReasonForwardedInvalid},
		{name: "IPv4-mapped IPv6 peer matches IPv4 prefix", setup: proxy,
			req: behind("[::ffff:10.1.1.1]:1", "Origin", app, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example")},
		{name: "IPv4-mapped IPv6 prefix matches an IPv4 peer", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddTrustedProxy("::ffff:10.0.0.0/104")) },
			req: behind("10.1.1.1:1", "Origin", app, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example")},
		{name: "IPv4-mapped IPv6 prefix does not match a peer outside it", setup: func(t *testing.T, p *csrf.Protection) { must(t, p.AddTrustedProxy("::ffff:10.0.0.0/104")) },
			req: behind("11.1.1.1:1", "Origin", app, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "app.example"), want: csrf.ReasonOriginMismatch},
		{name: "canonical origin wins over forwarded headers", setup: func(t *testing.T, p *csrf.Protection) { proxy(t, p); canonical(app)(t, p) },
			req: behind("10.1.1.1:1", "Origin", "https://evil.example", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "evil.example"), want: csrf.ReasonOriginMismatch},
	})
}

// TestForwardedRefusalNamesCause: a refused Forwarded names the header,
// the line at fault (here the client's, before the proxy's) and the cause.
func TestForwardedRefusalNamesCause(t *testing.T) {
	p := csrf.New()
	must(t, p.AddTrustedProxy("10.0.0.0/8"))
	tests := []struct{ name, first, want string }{
		{"unterminated quote", `for="_x`, `csrf: forwarded-invalid: Forwarded "for=\"_x": unterminated quoted-string`},
		{"bad escape", "for=\"\\\x01\"", `csrf: forwarded-invalid: Forwarded "for=\"\\\x01\"": quoted-string holds ',', ';', '=' or a quoted-pair, which naive parsers read as separators`},
		{"repeated parameter", "for=a;for=b", `csrf: forwarded-invalid: Forwarded "for=a;for=b": parameter "for" repeated in one element`},
		{"empty element", "for=a,", `csrf: forwarded-invalid: Forwarded "for=a,": empty element`},
		{"well-formed (allowed)", "for=a", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := request("POST", "http://10.0.0.5:8080/", "Origin", "https://app.example", "Forwarded", tt.first, "Forwarded", "for=10.1.1.1;proto=https;host=app.example")
			r.RemoteAddr = "10.1.1.1:1"
			got := ""
			if err := p.Check(r); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		apply   func(p *csrf.Protection) error
		wantErr string // "" means accepted
	}{
		{"exact origin", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://a.example") }, ""},
		{"wildcard", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://*.a.example:8443") }, ""},
		{"host only (CVE-2025-47909)", func(p *csrf.Protection) error { return p.AddTrustedOrigin("a.example") },
			`csrf: trusted origin: invalid origin "a.example": scheme is required, as in "https://a.example"`},
		{"scheme-relative", func(p *csrf.Protection) error { return p.AddTrustedOrigin("//a.example") },
			`csrf: trusted origin: invalid origin "//a.example": scheme is required, as in "https://a.example"`},
		{"path", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://a.example/") },
			`csrf: trusted origin: invalid origin "https://a.example/": path, query and fragment are not allowed (an origin is scheme://host[:port])`},
		{"user info", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://u@a.example") },
			`csrf: trusted origin: invalid origin "https://u@a.example": user information is not allowed`},
		{"no host", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://") },
			`csrf: trusted origin: invalid origin "https://": host is required`},
		{"null", func(p *csrf.Protection) error { return p.AddTrustedOrigin("null") },
			`csrf: trusted origin: invalid origin "null": "null" is sent by sandboxed and opaque documents and cannot be trusted`},
		{"bad port", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://a.example:99999") },
			`csrf: trusted origin: invalid origin "https://a.example:99999": port "99999" is not a number from 1 to 65535`},
		{"wildcard in the middle", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://a.*.example") },
			`csrf: trusted origin: invalid origin "https://a.*.example": a wildcard must be the whole first label, as in "https://*.example.com"`},
		{"partial-label wildcard", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://a*.example") },
			`csrf: trusted origin: invalid origin "https://a*.example": a wildcard must be the whole first label, as in "https://*.example.com"`},
		{"wildcard over a TLD", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://*.com") },
			`csrf: trusted origin: invalid origin "https://*.com": a wildcard needs at least two labels after it ("*.com" would trust every .com site)`},
		{"wildcard over an IP", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://*.10.0.0.1") },
			`csrf: trusted origin: invalid origin "https://*.10.0.0.1": a wildcard cannot precede an IP address`},
		{"canonical wildcard", func(p *csrf.Protection) error { return p.AddCanonicalOrigin("https://*.a.example") },
			`csrf: canonical origin: invalid origin "https://*.a.example": wildcards are not allowed here`},
		{"canonical ok", func(p *csrf.Protection) error { return p.AddCanonicalOrigin("https://[::1]:8443") }, ""},
		{"canonical IPv6 not as browsers write it", func(p *csrf.Protection) error { return p.AddCanonicalOrigin("https://[0::1]:8443") },
			`csrf: canonical origin: invalid origin "https://[0::1]:8443": write the IPv6 address as browsers send it: https://[::1]:8443`},
		{"trusted IPv4 in brackets (not a URL host; browsers never send it)", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://[10.0.0.1]:8443") },
			`csrf: trusted origin: invalid origin "https://[10.0.0.1]:8443": an IPv4 address is written without brackets: https://10.0.0.1:8443`},
		{"trusted IPv6 ok", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://[2001:db8::1]") }, ""},
		{"trusted IPv6 with a dotted tail", func(p *csrf.Protection) error { return p.AddTrustedOrigin("https://[::ffff:10.0.0.1]") },
			`csrf: trusted origin: invalid origin "https://[::ffff:10.0.0.1]": write the IPv6 address as browsers send it: https://[::ffff:a00:1]`},
		{"proxy CIDR", func(p *csrf.Protection) error { return p.AddTrustedProxy("fd00::/8") }, ""},
		{"proxy address", func(p *csrf.Protection) error { return p.AddTrustedProxy("127.0.0.1") }, ""},
		{"proxy garbage", func(p *csrf.Protection) error { return p.AddTrustedProxy("localhost") },
			`csrf: invalid trusted proxy "localhost": not an IP address or CIDR prefix`},
		{"proxy host bits", func(p *csrf.Protection) error { return p.AddTrustedProxy("10.0.0.1/8") },
			`csrf: invalid trusted proxy "10.0.0.1/8": host bits are set (did you mean 10.0.0.1 or 10.0.0.0/8?)`},
		{"proxy /0", func(p *csrf.Protection) error { return p.AddTrustedProxy("::/0") },
			`csrf: invalid trusted proxy "::/0": a /0 prefix would trust every peer`},
		{"bypass ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST /hooks/{id}") }, ""},
		{"bypass invalid", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST /{") },
			`csrf: invalid bypass pattern "POST /{": parsing "POST /{": at offset 6: bad wildcard segment (must end with '}')`},
		// Patterns ServeMux accepts that would exempt nothing, each next
		// to its accepted twin.
		{"bypass lower-case method", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("post /hooks/") },
			`csrf: invalid bypass pattern "post /hooks/": method "post" is not upper case: methods are case-sensitive, so it would match no request (did you mean "POST /hooks/"?)`},
		{"bypass mixed-case method", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("Post\t/hooks/") },
			`csrf: invalid bypass pattern "Post\t/hooks/": method "Post" is not upper case: methods are case-sensitive, so it would match no request (did you mean "POST /hooks/"?)`},
		{"bypass upper-case method ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST\t/hooks/") }, ""},
		{"bypass upper-case custom method ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("PROPFIND /dav/") }, ""},
		{"bypass without leading slash (a host to ServeMux)", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("hooks/") },
			`csrf: invalid bypass pattern "hooks/": ServeMux would read "hooks" as a host: a path starts with '/' (did you mean "/hooks/"?)`},
		{"bypass method, no leading slash", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST hooks/{id}") },
			`csrf: invalid bypass pattern "POST hooks/{id}": ServeMux would read "hooks" as a host: a path starts with '/' (did you mean "/hooks/{id}"?)`},
		{"bypass URL (host \"https:\" to ServeMux)", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("https://a.example/hooks/") },
			`csrf: invalid bypass pattern "https://a.example/hooks/": a URL: ServeMux would read "https:" as a host; a bypass pattern is a path, or a host and a path (did you mean "/hooks/"?)`},
		{"bypass host-qualified ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST a.example/hooks/") }, ""},
		// ServeMux matches a pattern's host against the request's Host
		// without its port: one with a port matches nothing.
		{"bypass host with port", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("a.example:8443/hooks/") },
			`csrf: invalid bypass pattern "a.example:8443/hooks/": host "a.example:8443" has a port: ServeMux matches a pattern's host with the request's Host without its port, so it would match no request (did you mean "a.example/hooks/"?)`},
		{"bypass IPv6 host with port", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST [::1]:8443/hooks/") },
			`csrf: invalid bypass pattern "POST [::1]:8443/hooks/": host "[::1]:8443" has a port: ServeMux matches a pattern's host with the request's Host without its port, so it would match no request (did you mean "POST ::1/hooks/"?)`},
		{"bypass localhost ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("localhost/hooks/") }, ""},
		{"bypass host, path not clean", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("a.example/hooks//x") },
			`csrf: invalid bypass pattern "a.example/hooks//x": path "/hooks//x" is not clean: no request to it is ever exempt (did you mean "/hooks/x"?)`},
		{"bypass path only ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("/hooks/") }, ""},
		{"bypass double slash", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST /hooks//{id}") },
			`csrf: invalid bypass pattern "POST /hooks//{id}": path "/hooks//{id}" is not clean: no request to it is ever exempt (did you mean "/hooks/{id}"?)`},
		{"bypass dot-dot", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("/api/../hooks/") },
			`csrf: invalid bypass pattern "/api/../hooks/": path "/api/../hooks/" is not clean: no request to it is ever exempt (did you mean "/hooks/"?)`},
		{"bypass clean wildcard tail ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST /hooks/{rest...}") }, ""},
		{"bypass exact root ok", func(p *csrf.Protection) error { return p.AddInsecureBypassPattern("POST /{$}") }, ""},
		{"unknown mode", func(p *csrf.Protection) error { return p.SetMode(csrf.Mode(9)) }, "csrf: unknown mode 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.apply(csrf.New())
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("got %v, want %v", got, tt.wantErr)
			}
		})
	}
}

func TestBypassConflictKeepsOldPatterns(t *testing.T) {
	p := csrf.New()
	must(t, p.AddInsecureBypassPattern("POST /hooks/"))
	if err := p.AddInsecureBypassPattern("POST /hooks/"); err == nil {
		t.Fatal("got nil, want an error for a conflicting pattern")
	}
	if err := p.Check(request("POST", app+"/hooks/x", "Sec-Fetch-Site", "cross-site")); err != nil {
		t.Errorf("got %v, want the first pattern still in force", err)
	}
}

func TestErrorForm(t *testing.T) {
	err := csrf.New().Check(request("POST", app+"/", "Origin", "https://evil.example\n<b>"))
	var e *csrf.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T, want *csrf.Error", err)
	}
	if got, want := err.Error(), `csrf: origin-invalid: Origin "https://evil.example\n<b>"`; got != want {
		t.Errorf("got %v, want %v", got, want)
	}
	if r, ok := csrf.ReasonOf(errors.New("other")); ok || r != "" {
		t.Errorf("got %q %v, want no reason", r, ok)
	}
}
