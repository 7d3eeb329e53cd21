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
		// Value spellings in the headers: any case, spaces around it, a
		// list (Express takes its first element, others the whole line),
		// a second line.
		{name: "cross-site GET with X-HTTP-Method-Override: delete refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "delete")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-HTTP-Method-Override: ' DELETE ' refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", " DELETE ")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-HTTP-Method-Override: GET, DELETE refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "GET, DELETE")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-HTTP-Method: GET,delete refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method", "GET,delete")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-HTTP-Method-Override on two lines refused", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "GET", "X-HTTP-Method-Override", "DELETE")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-Method-Override: \tput\t refused", req: get("GET", app+"/", with(cross, "X-Method-Override", "\tput\t")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-HTTP-Method-Override: OPTIONſ refused (no Unicode case folding)", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "OPTIONſ")...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET with X-HTTP-Method-Override: ' get , HEAD ' allowed", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", " get , HEAD ")...)},
		{name: "cross-site GET with X-HTTP-Method-Override: Options allowed", req: get("GET", app+"/", with(cross, "X-HTTP-Method-Override", "Options")...)},
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

		// Other spellings of the key that some reader takes for _method
		// (override.go says which): a cross-site GET with each is refused,
		// and the same key naming GET is allowed.
		{name: "cross-site GET ?_method[]=DELETE refused (PHP, Rack, qs arrays)", req: get("GET", app+"/account?_method[]=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method[0]=DELETE refused", req: get("GET", app+"/account?_method[0]=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method%5B%5D=DELETE refused (qs decodes, then reads brackets)", req: get("GET", app+"/account?_method%5B%5D=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?%255Fmethod=DELETE refused (decoded twice)", req: get("GET", app+"/account?%255Fmethod=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?%25255Fmethod=DELETE refused (decoded three times)", req: get("GET", app+"/account?%25255Fmethod=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?.method=DELETE refused (PHP reads . as _)", req: get("GET", app+"/account?.method=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?+_method=DELETE refused (PHP drops leading spaces)", req: get("GET", app+"/account?+_method=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?x=1&%20_method=DELETE refused (PHP drops leading spaces, decoded)", req: get("GET", app+"/account?x=1&%20_method=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method%00x=DELETE refused (PHP cuts names at NUL)", req: get("GET", app+"/account?_method%00x=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?[_method]=DELETE refused (Rack 2 drops leading brackets)", req: get("GET", app+"/account?[_method]=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method]=DELETE refused (Rack 2 drops trailing brackets)", req: get("GET", app+"/account?_method]=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?%u005Fmethod=DELETE refused (ASP.NET decodes %u)", req: get("GET", app+"/account?%u005Fmethod=DELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method%3DDELETE refused (decoded before split)", req: get("GET", app+"/account?_method%3DDELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?x=1%26_method%3DDELETE refused (decoded before split)", req: get("GET", app+"/account?x=1%26_method%3DDELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method=+delete refused (value in lower case, with a space)", req: get("GET", app+"/account?_method=+delete", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method=GET%2CDELETE refused (a list)", req: get("GET", app+"/account?_method=GET%2CDELETE", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method=OPTION%C5%BF refused (no Unicode case folding)", req: get("GET", app+"/account?_method=OPTION%C5%BF", cross...), want: csrf.ReasonCrossSite},
		{name: "cross-site GET ?_method[]=GET allowed", req: get("GET", app+"/account?_method[]=GET", cross...)},
		{name: "cross-site GET ?%255Fmethod=get allowed", req: get("GET", app+"/account?%255Fmethod=get", cross...)},
		{name: "cross-site GET ?.method=+head+ allowed", req: get("GET", app+"/account?.method=+head+", cross...)},
		{name: "cross-site GET ?_methods=DELETE allowed", req: get("GET", app+"/account?_methods=DELETE", cross...)},
		{name: "cross-site GET ?q=%25_method allowed", req: get("GET", app+"/account?q=%25_method&y=DELETE", cross...)},
		{name: "cross-site GET ?next=%2Fa%3Fb%3D1%26c%3D2 allowed", req: get("GET", app+"/account?next=%2Fa%3Fb%3D1%26c%3D2", cross...)},
		{name: "cross-site GET ?method=DELETE allowed (another name)", req: get("GET", app+"/account?method=DELETE", cross...)},

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
