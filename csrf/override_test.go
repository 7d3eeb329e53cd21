package csrf_test

import (
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// A safe method that a method override turns into an unsafe one is
// checked as the unsafe one (redteam finding): Rack::MethodOverride,
// Laravel, Symfony, Express's method-override, Slim, CakePHP and
// hand-written middleware read _method or X-HTTP-Method-Override, some on
// every method, so a cross-site GET /account?_method=DELETE (a link, an
// <img>) is a DELETE to them. Each refused case sits next to its allowed
// twin: the same request from the same origin, or an override naming a
// safe method, or no override at all.
func TestCheckMethodOverride(t *testing.T) {
	get := func(method, target string, h ...string) func() *http.Request {
		return func() *http.Request { return request(method, target, h...) }
	}
	cross := []string{"Sec-Fetch-Site", "cross-site"}
	same := []string{"Sec-Fetch-Site", "same-origin"}
	with := func(base []string, kv ...string) []string { return append(append([]string(nil), base...), kv...) }
	runChecks(t, []checkCase{
		{name: "cross-site GET with X-HTTP-Method-Override: DELETE refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "DELETE")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-HTTP-Method: PUT refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method", "PUT")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-Method-Override: patch refused", req: get("GET", app+"/", with(cross, "X-Method-Override", "patch")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with an override list naming POST refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "GET, POST")...), want: csrf.ReasonCrossSite},
		{name: "cross-site HEAD with an override refused", req: get("HEAD", app+"/", with(cross, "X-HTTP-Method-Override", "DELETE")...), want: csrf.ReasonCrossSite},
		{name: "cross-site OPTIONS with an override refused", req: get("OPTIONS", app+"/", with(cross, "X-HTTP-Method-Override", "DELETE")...), want: csrf.ReasonCrossSite},
		{name: "same-origin GET with X-HTTP-Method-Override: DELETE allowed", req: get("GET", app+"/", with(same, "X-HTTP-Method-Override", "DELETE")...)},
		{name: "cross-site GET with X-HTTP-Method-Override: GET allowed", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "get")...)},
		{name: "cross-site GET with an empty override allowed", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "")...)},

		{name: "cross-site GET ?_method=DELETE refused", req: get("GET", app+"/account?_method=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_METHOD=put refused", req: get("GET", app+"/account?a=1&_METHOD=put", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?%5Fmethod=POST refused", req: get("GET", app+"/account?%5Fmethod=POST", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method=%44ELETE refused", req: get("GET", app+"/account?_method=%44ELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?x=1;_method=DELETE refused", req: get("GET", app+"/account?x=1;_method=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "Origin-only browser GET ?_method=DELETE from another site refused", req: get("GET", app+"/account?_method=DELETE", "Origin", "https://evil.example"), want: csrf.ReasonOriginMismatch},
		{name: "same-origin GET ?_method=DELETE allowed", req: get("GET", app+"/account?_method=DELETE", same...)},
		{name: "cross-site GET ?_method=GET allowed", req: get("GET", app+"/account?_method=GET", cross...)},
		{name: "cross-site GET ?x=_method allowed", req: get("GET", app+"/account?x=_method&y=DELETE", cross...)},
		{name: "cross-site GET ?my_method=DELETE allowed", req: get("GET", app+"/account?my_method=DELETE", cross...)},
		{name: "cross-site GET without an override allowed", req: get("GET", app+"/account", cross...)},

		{name: "cross-site POST with _method=GET refused as ever", req: get("POST", app+"/account?_method=GET", cross...), want: csrf.ReasonCrossSite},
	})
}

// The negative control: Go's own http.CrossOriginProtection looks at the
// request line only and lets a cross-site GET that an override makes a
// DELETE through; ours refuses it, and lets the same GET without the
// override through.
func TestMethodOverrideNegativeControl(t *testing.T) {
	for _, r := range []*http.Request{
		request("GET", app+"/account", "Sec-Fetch-Site", "cross-site", "X-HTTP-Method-Override", "DELETE"),
		request("GET", app+"/account?_method=DELETE", "Sec-Fetch-Site", "cross-site"),
	} {
		if err := http.NewCrossOriginProtection().Check(r); err != nil {
			t.Fatalf("stdlib: got %v, want the request let through (GET is safe)", err)
		}
		if got := reasonOf(csrf.New().Check(r)); got != csrf.ReasonCrossSite {
			t.Errorf("csrf %s: got %q, want %q", r.URL, got, csrf.ReasonCrossSite)
		}
		r.Header.Del("X-HTTP-Method-Override")
		r.URL.RawQuery = ""
		if err := csrf.New().Check(r); err != nil {
			t.Errorf("csrf without the override: got %v, want allowed", err)
		}
	}
}
