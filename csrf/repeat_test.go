package csrf_test

import (
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// Issue 11, class 7: a request that carries a decision header twice
// (Origin, Sec-Fetch-Site, Referer) has no single meaning, and a check that
// reads the first copy (the own origin) lets through what an application
// reading the other (evil) decides on. Browsers send each once. Each
// refused case sits next to its allowed twin, which carries one copy.
func TestCheckRepeatedDecisionHeaders(t *testing.T) {
	post := func(target string, h ...string) func() *http.Request {
		return func() *http.Request { return request("POST", target, h...) }
	}
	runChecks(t, []checkCase{
		{name: "two Origin lines, own first, refused", req: post(app+"/", "Origin", app, "Origin", "https://evil.example"), want: csrf.ReasonHeaderRepeated},
		{name: "two equal Origin lines refused", req: post(app+"/", "Origin", app, "Origin", app), want: csrf.ReasonHeaderRepeated},
		{name: "Origin values joined with a comma refused", req: post(app+"/", "Origin", app+", https://evil.example"), want: csrf.ReasonHeaderRepeated},
		{name: "one Origin allowed", req: post(app+"/", "Origin", app)},

		{name: "two Sec-Fetch-Site lines refused", req: post(app+"/", "Sec-Fetch-Site", "same-origin", "Sec-Fetch-Site", "cross-site"), want: csrf.ReasonHeaderRepeated},
		{name: "Sec-Fetch-Site values joined refused", req: post(app+"/", "Sec-Fetch-Site", "same-origin, cross-site"), want: csrf.ReasonHeaderRepeated},
		{name: "one Sec-Fetch-Site allowed", req: post(app+"/", "Sec-Fetch-Site", "same-origin")},
		{name: "repeated Origin refused even when Sec-Fetch-Site would allow", req: post(app+"/", "Sec-Fetch-Site", "same-origin", "Origin", app, "Origin", app), want: csrf.ReasonHeaderRepeated},

		{name: "two Referer lines refused", req: post(app+"/", "Referer", app+"/form", "Referer", "https://evil.example/"), want: csrf.ReasonHeaderRepeated},
		{name: "Referer URLs joined refused", req: post(app+"/", "Referer", app+"/form, https://evil.example/"), want: csrf.ReasonHeaderRepeated},
		{name: "Referer URLs joined without space refused", req: post(app+"/", "Referer", app+"/form,HTTP://evil.example/"), want: csrf.ReasonHeaderRepeated},
		{name: "one Referer with commas in its query allowed", req: post(app+"/", "Referer", app+"/form?ids=1,2,3&next=a,b")},
		{name: "one Referer allowed", req: post(app+"/", "Referer", app+"/form")},
		// A page's own URL may hold ",https://" in its query, and browsers
		// send it whole in a same-origin Referer, with Sec-Fetch-Site and
		// Origin, which decide: the Referer is then not read.
		{name: "Referer query with comma-joined URLs allowed when Sec-Fetch-Site decides", req: post(app+"/", "Sec-Fetch-Site", "same-origin", "Origin", app, "Referer", app+"/apps?redirect_uris=https://a.example/cb,https://b.example/cb")},
		{name: "Referer query with comma-joined URLs allowed when Origin decides", req: post(app+"/", "Origin", app, "Referer", app+"/apps?redirect_uris=https://a.example/cb,https://b.example/cb")},
		{name: "two Referer lines refused when Sec-Fetch-Site decides", req: post(app+"/", "Sec-Fetch-Site", "same-origin", "Origin", app, "Referer", app+"/form", "Referer", "https://evil.example/"), want: csrf.ReasonHeaderRepeated},

		{name: "GET with two Origin lines allowed (safe methods are not checked)", req: func() *http.Request {
			return request("GET", app+"/", "Origin", app, "Origin", "https://evil.example")
		}},
	})
}

// The negative control: Go's own http.CrossOriginProtection reads the first
// Origin only, so it lets the two-Origin request through; ours refuses it
// and accepts the same request with only the evil copy removed.
func TestRepeatedOriginNegativeControl(t *testing.T) {
	r := request("POST", app+"/", "Origin", app, "Origin", "https://evil.example")
	if err := http.NewCrossOriginProtection().Check(r); err != nil {
		t.Fatalf("stdlib: got %v, want the request let through (reads the first Origin)", err)
	}
	if got := reasonOf(csrf.New().Check(r)); got != csrf.ReasonHeaderRepeated {
		t.Errorf("csrf: got %q, want %q", got, csrf.ReasonHeaderRepeated)
	}
	r.Header["Origin"] = r.Header["Origin"][:1]
	if err := csrf.New().Check(r); err != nil {
		t.Errorf("csrf with one Origin: got %v, want allowed", err)
	}
}

// Host is compared case-insensitively with the Origin's and the Referer's
// host: a proxy that passes "Host: APP.EXAMPLE" does not turn the own
// origin into a foreign one. The twins: another host is still refused.
func TestCheckHostCaseInsensitive(t *testing.T) {
	post := func(target string, h ...string) func() *http.Request {
		return func() *http.Request { return request("POST", target, h...) }
	}
	canonical := func(t *testing.T, p *csrf.Protection) {
		must(t, p.AddCanonicalOrigin(app))
		must(t, p.AddCanonicalOrigin("https://other.example"))
	}
	runChecks(t, []checkCase{
		{name: "upper-case Host, own Origin allowed", req: post("https://APP.EXAMPLE/", "Origin", app)},
		{name: "mixed-case Host with port, own Origin allowed", req: post("https://App.Example:8443/", "Origin", "https://app.example:8443")},
		{name: "upper-case Host, other Origin refused", req: post("https://APP.EXAMPLE/", "Origin", "https://evil.example"), want: csrf.ReasonOriginMismatch},
		{name: "upper-case Host, Origin of another port refused", req: post("https://APP.EXAMPLE/", "Origin", "https://app.example:8443"), want: csrf.ReasonOriginMismatch},
		{name: "upper-case Host, own Referer allowed", req: post("https://APP.EXAMPLE/", "Referer", app+"/form")},
		{name: "upper-case Host, other Referer refused", req: post("https://APP.EXAMPLE/", "Referer", "https://evil.example/form"), want: csrf.ReasonRefererMismatch},
		{name: "canonical origins: upper-case Host picks its origin", setup: canonical, req: post("https://OTHER.example/", "Origin", "https://other.example")},
		{name: "canonical origins: upper-case Host, the other origin refused", setup: canonical, req: post("https://OTHER.example/", "Origin", app), want: csrf.ReasonOriginMismatch},
	})
}
