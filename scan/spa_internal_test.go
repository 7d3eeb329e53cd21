package scan

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestRecordedEndpoint(t *testing.T) {
	target, _ := url.Parse("https://app.example/")
	h := func(kv ...string) http.Header {
		out := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			out.Set(kv[i], kv[i+1])
		}
		return out
	}
	tests := []struct {
		name    string
		r       RecordedRequest
		check   func(e Endpoint) bool
		wantErr string
	}{
		{"JSON with a token header", RecordedRequest{Method: "POST", URL: "https://app.example/api/notes?x=1", Body: []byte(`{"text":"a"}`),
			Header: h("Content-Type", "application/json", "X-CSRF-Token", "t0k", "Origin", "https://app.example", "Sec-Fetch-Mode", "cors")},
			func(e Endpoint) bool {
				return e.Path == "/api/notes?x=1" && string(e.JSON) == `{"text":"a"}` && len(e.Headers) == 1 && e.Headers["X-Csrf-Token"] == "t0k"
			}, ""},
		{"urlencoded with a token field", RecordedRequest{Method: "post", URL: "https://app.example/save", Body: []byte("a=1&csrf_token=t"),
			Header: h("Content-Type", "application/x-www-form-urlencoded"), Page: "https://app.example/edit"},
			func(e Endpoint) bool {
				return e.Method == "POST" && e.Form["a"] == "1" && e.TokenField == "csrf_token" && e.TokenPage == "/edit"
			}, ""},
		{"text/plain JSON", RecordedRequest{Method: "PUT", URL: "https://app.example/x", Body: []byte(`[1]`), Header: h("Content-Type", "text/plain;charset=UTF-8")},
			func(e Endpoint) bool { return string(e.JSON) == `[1]` }, ""},
		{"no body", RecordedRequest{Method: "DELETE", URL: "https://app.example/x/1"}, func(e Endpoint) bool { return e.Method == "DELETE" }, ""},
		{"JSON carrying a token", RecordedRequest{Method: "POST", URL: "https://app.example/x", Body: []byte(`{"csrfToken":"t","a":1}`), Header: h("Content-Type", "application/json")},
			nil, `member "csrfToken"`},
		{"GET", RecordedRequest{Method: "GET", URL: "https://app.example/x"}, nil, "not a state-changing"},
		{"another origin", RecordedRequest{Method: "POST", URL: "https://cdn.example/x"}, nil, "not on the target"},
		{"other body", RecordedRequest{Method: "POST", URL: "https://app.example/x", Body: []byte("\x00"), Header: h("Content-Type", "application/octet-stream")}, nil, "is not a form or JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := recordedEndpoint(tt.r, target)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %+v, %v; want an error containing %q", e, err, tt.wantErr)
				}
				return
			}
			if err != nil || !tt.check(e) || e.source != "browser" {
				t.Errorf("got %+v, %v", e, err)
			}
		})
	}
}

// TestEndpointHeaders: an endpoint's headers go with the legitimate
// request only, redacted in its curl command; forgeries never carry them.
func TestEndpointHeaders(t *testing.T) {
	target, _ := url.Parse("https://app.example/")
	e := &Endpoint{Method: "POST", Path: "/api/notes", JSON: []byte(`{"a":1}`), Headers: map[string]string{"x-csrf-token": "s3cret"}}
	u, _ := resolve(target, e.Path)
	base := build(e, u, baselineVariant(e), "", &jar{}, target)
	if base.Header.Get("X-Csrf-Token") != "s3cret" {
		t.Errorf("baseline: header %q, want it sent", base.Header.Get("X-Csrf-Token"))
	}
	if c := curlCommand(base, nil); strings.Contains(c, "s3cret") || !strings.Contains(c, "X-Csrf-Token: REDACTED") {
		t.Errorf("baseline curl: %s", c)
	}
	for _, f := range families(e, target) {
		for _, v := range f.variants {
			if r := build(e, u, v, "", &jar{}, target); r.Header.Get("X-Csrf-Token") != "" {
				t.Errorf("%s: forgery carries the header", v.label)
			}
		}
	}
	bad := Endpoint{Method: "POST", Path: "/x", Headers: map[string]string{"Cookie": "a=b"}}
	if err := bad.validate(); err == nil {
		t.Errorf("Cookie header: got no error")
	}
	bad.Headers = map[string]string{"X-A": "1\r\nX-B: 2"}
	if err := bad.validate(); err == nil {
		t.Errorf("header value with CRLF: got no error")
	}
}

func FuzzRecordedEndpoint(f *testing.F) {
	f.Add("POST", "application/json", []byte(`{"text":"a","csrf":"t"}`))
	f.Add("PUT", "application/x-www-form-urlencoded", []byte("a=1&b=%zz"))
	f.Add("POST", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--x--\r\n"))
	f.Add("DELETE", "text/plain", []byte("[1,2"))
	target, _ := url.Parse("https://app.example/")
	f.Fuzz(func(t *testing.T, method, ct string, body []byte) {
		r := RecordedRequest{Method: method, URL: "https://app.example/x", Header: http.Header{"Content-Type": {ct}}, Body: body}
		e, err := recordedEndpoint(r, target)
		if err != nil {
			return
		}
		if e.validate() != nil || e.Method == "GET" || (len(e.JSON) > 0 && len(e.Form) > 0) {
			t.Fatalf("endpoint %+v from %q %q %q", e, method, ct, body)
		}
	})
}
