package scan

import (
	"net/http"
	"testing"
)

// preflightAllows is the Fetch standard's CORS check of a preflight for a
// credentialed request: each refused answer next to its allowed twin.
func TestPreflightAllowsFetchCORSCheck(t *testing.T) {
	ok := func(o string, h ...string) *response {
		hd := http.Header{}
		hd.Set("Access-Control-Allow-Origin", o)
		hd.Set("Access-Control-Allow-Credentials", "true")
		for i := 0; i+1 < len(h); i += 2 {
			hd.Add(h[i], h[i+1])
		}
		return &response{Status: http.StatusNoContent, Header: hd}
	}
	pre := func(method, headers string) *request {
		r := &request{Method: "OPTIONS", Header: http.Header{}}
		r.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			r.Header.Set("Access-Control-Request-Headers", headers)
		}
		return r
	}
	a := attackerOrigin
	tests := []struct {
		name   string
		resp   *response
		origin string
		req    *request
		want   bool
	}{
		{"POST JSON, content-type listed", ok(a, "Access-Control-Allow-Headers", "content-type"), a, pre("POST", "content-type"), true},
		{"origin echoed, header not listed", ok(a), a, pre("POST", "content-type"), false},
		{"header listed in another case", ok(a, "Access-Control-Allow-Headers", "X-Requested-With, Content-Type"), a, pre("POST", "content-type"), true},
		{"header listed on a second line", ok(a, "Access-Control-Allow-Headers", "x-a", "Access-Control-Allow-Headers", "content-type"), a, pre("POST", "content-type"), true},
		{"headers '*' with credentials", ok(a, "Access-Control-Allow-Headers", "*"), a, pre("POST", "content-type"), false},
		{"PUT listed", ok(a, "Access-Control-Allow-Methods", "GET, PUT"), a, pre("PUT", ""), true},
		{"PUT not listed", ok(a, "Access-Control-Allow-Methods", "GET, POST"), a, pre("PUT", ""), false},
		{"PUT listed in lower case (methods are case-sensitive)", ok(a, "Access-Control-Allow-Methods", "put"), a, pre("PUT", ""), false},
		{"methods '*' with credentials", ok(a, "Access-Control-Allow-Methods", "*"), a, pre("PUT", ""), false},
		{"POST safelisted, no methods listed", ok(a), a, pre("POST", ""), true},
		{"Access-Control-Allow-Origin: *", &response{Status: 204, Header: http.Header{"Access-Control-Allow-Origin": {"*"}, "Access-Control-Allow-Credentials": {"true"}}}, a, pre("POST", ""), false},
		{"Access-Control-Allow-Credentials: TRUE (the check is case-sensitive)", &response{Status: 204, Header: http.Header{"Access-Control-Allow-Origin": {a}, "Access-Control-Allow-Credentials": {"TRUE"}}}, a, pre("POST", ""), false},
		{"Access-Control-Allow-Credentials: ' true ' (whitespace is trimmed)", &response{Status: 204, Header: http.Header{"Access-Control-Allow-Origin": {a}, "Access-Control-Allow-Credentials": {" true "}}}, a, pre("POST", ""), true},
		{"no Access-Control-Allow-Credentials", &response{Status: 204, Header: http.Header{"Access-Control-Allow-Origin": {a}}}, a, pre("POST", ""), false},
		{"not an ok status", &response{Status: http.StatusFound, Header: ok(a).Header}, a, pre("POST", ""), false},
		{"Origin: null allowed", ok("null", "Access-Control-Allow-Headers", "content-type"), "null", pre("POST", "content-type"), true},
		{"another origin allowed, not null", ok(a, "Access-Control-Allow-Headers", "content-type"), "null", pre("POST", "content-type"), false},
	}
	for _, tt := range tests {
		if got := preflightAllows(tt.resp, tt.origin, tt.req); got != tt.want {
			t.Errorf("%s: preflightAllows = %v, want %v", tt.name, got, tt.want)
		}
	}
}
