package gateway

import (
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

func TestRequestHost(t *testing.T) {
	tests := []struct {
		name, host, want string
	}{
		{"name and port", "API.Example.com:8443", "api.example.com"},
		{"name", "api.example.com", "api.example.com"},
		{"trailing dot", "api.example.com.", "api.example.com"},
		{"IPv4 and port", "127.0.0.1:8443", "127.0.0.1"},
		{"IPv6 and port", "[::1]:8443", "::1"},
		{"IPv6", "[::1]", "::1"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		r := &http.Request{Host: tt.host}
		if got := requestHost(r.Host); got != tt.want {
			t.Errorf("%s: requestHost(%q): got %q, want %q", tt.name, tt.host, got, tt.want)
		}
	}
}

func TestRouteMatches(t *testing.T) {
	tests := []struct {
		name, prefix, host, path string
		routeHost                string
		want                     bool
	}{
		{"exact prefix", "/api", "", "/api", "", true},
		{"below the prefix", "/api", "", "/api/x", "", true},
		{"sibling sharing letters", "/api", "", "/apix", "", false},
		{"root matches all", "/", "", "/anything", "", true},
		{"host must match", "/", "a.example", "/", "b.example", false},
		{"host matches", "/", "a.example", "/", "a.example", true},
	}
	for _, tt := range tests {
		r := &route{prefix: tt.prefix, host: tt.routeHost}
		if got := r.matches(tt.host, tt.path); got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

// FuzzRouting: any Host and path either match no route or a route whose
// host and prefix really cover them; never a panic.
func FuzzRouting(f *testing.F) {
	for _, s := range [][2]string{
		{"api.example.com", "/api/x"}, {"[::1]:1", "//admin"}, {"", "/"}, {"A:B:C", "/api/../admin"},
		{"x.example.", "/apix"}, {"[", "%2e"},
	} {
		f.Add(s[0], s[1])
	}
	c := &compiled{routes: []*route{
		{name: "a", host: "api.example.com", prefix: "/api"},
		{name: "b", prefix: "/admin"},
		{name: "c", prefix: "/api"},
	}}
	f.Fuzz(func(t *testing.T, host, path string) {
		r := &http.Request{Host: host, URL: &url.URL{Path: path}}
		if hasDotSegments(path) {
			return
		}
		rt := c.findRoute(requestHost(r.Host), path)
		if rt == nil {
			return
		}
		clean := cleanPath(path)
		if rt.host != "" && rt.host != requestHost(r.Host) {
			t.Fatalf("route %s (host %q) chosen for host %q", rt.name, rt.host, host)
		}
		if !strings.HasPrefix(clean, rt.prefix) {
			t.Fatalf("route %s (prefix %q) chosen for path %q", rt.name, rt.prefix, clean)
		}
		if rt.name == "c" && strings.HasPrefix(clean, "/admin") {
			t.Fatalf("admin path %q routed to %s", clean, rt.name)
		}
	})
}

// TestRouteHostCanonical: a route's IP host is kept in the canonical form
// requests are routed by (parseHost refuses others).
func TestRouteHostCanonical(t *testing.T) {
	p := &compiler{cfg: &Config{}}
	for in, want := range map[string]string{"[::0001]": "::1", "::0001": "::1", "127.0.0.1": "127.0.0.1", "API.example.": "api.example"} {
		if got := p.routeHost("host", in); got != want {
			t.Errorf("routeHost(%q): got %q, want %q", in, got, want)
		}
	}
	if len(p.errs) != 0 {
		t.Errorf("errors: %v", p.errs)
	}
}

// TestRoutePolicy: routes differing only in where they go share a
// policy; any other setting makes another.
func TestRoutePolicy(t *testing.T) {
	yes := true
	base := Route{Name: "a", PathPrefix: "/a", Upstream: "http://a", Allow: Allow{AnyVerified: true}}
	same := Route{Name: "b", Host: "b.example", PathPrefix: "/b", Upstream: "https://b", UpstreamServerName: "b", Browsers: &yes, CSRF: RouteCSRF{Mode: csrf.ModeOriginOnly}, Allow: Allow{AnyVerified: true}}
	if !reflect.DeepEqual(policyOf(base), policyOf(same)) {
		t.Errorf("routes differing in name, host, prefix, upstream and written-out defaults: different policies")
	}
	for name, change := range map[string]func(*Route){
		"allow":    func(r *Route) { r.Allow.Unauthenticated = true },
		"browsers": func(r *Route) { r.Browsers = new(false) },
		"csrf":     func(r *Route) { r.CSRF.InsecureOff = true },
	} {
		other := base
		change(&other)
		if reflect.DeepEqual(policyOf(base), policyOf(other)) {
			t.Errorf("routes differing in %s: same policy", name)
		}
	}
}
