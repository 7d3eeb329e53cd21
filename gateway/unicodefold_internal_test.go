package gateway

import "testing"

// TestPathAmbiguousFullUpperCase: a router that upper-cases the path in
// JavaScript (toUpperCase), Python (upper) or Ruby (upcase) applies the
// full case mapping, under which one letter can become two or three:
// "/conﬁg" is "/CONFIG", "/claß" "/CLASS", "/ﬆatus" "/STATUS". Each
// such spelling of a route's prefix is ambiguous; its twins (the same
// letters where no route has them, and the plain path, which reaches
// its own route) are not.
func TestPathAmbiguousFullUpperCase(t *testing.T) {
	c := &compiled{routes: []*route{
		{name: "config", prefix: "/config", policy: policyAdmin},
		{name: "status", prefix: "/status", policy: policyAdmin},
		{name: "class", prefix: "/class", policy: policyAdmin},
		{name: "root", prefix: "/", policy: policyAPI},
	}}
	for _, tt := range []struct {
		path      string
		ambiguous bool
	}{
		{"/con%EF%AC%81g", true},    // ﬁ (U+FB01)
		{"/con%EF%AC%81g/x", true},  // below it
		{"/%EF%AC%86atus", true},    // ﬆ (U+FB06)
		{"/cla%C3%9F", true},        // ß
		{"/CLA%C3%9F", true},        // ß among upper case
		{"/con%EF%AC%81gs", false},  // twin: no route "/configs"
		{"/%EF%AC%81le", false},     // twin: no route "/file"
		{"/stra%C3%9Fe", false},     // twin: no route "/strasse"
		{"/config", false},          // twin: its own route
		{"/cla%C3%9F%C3%9F", false}, // twin: "/CLASSSS"
	} {
		want := c.findRoute("", tt.path)
		if got := c.pathAmbiguous("", tt.path, want); got != tt.ambiguous {
			t.Errorf("%q (gateway route %s): got %v, want %v", tt.path, want.name, got, tt.ambiguous)
		}
	}
}
