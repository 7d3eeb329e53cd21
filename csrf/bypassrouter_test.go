package csrf_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// Bypass patterns against routers that read the request otherwise than
// ServeMux. Each refused case sits next to its
// allowed twin.
//
// chi, echo and gorilla/mux with UseEncodedPath route by the escaped path
// as written: "/api/%77ebhooks/x" is not under their static segment
// "webhooks" but fills a {version} parameter, while ServeMux, and so the
// bypass check, decode the segment to "webhooks". A POST-only bypass for
// "/api/webhooks/{id}" let a cross-site POST to
// /api/%77ebhooks/account-delete reach chi's /api/{version}/account-delete
// handler (reproduced with chi v5.5.0, echo v4.16.6, gorilla/mux v1.8.1).
func TestBypassRawPathAsWritten(t *testing.T) {
	post := func(target string, h ...string) func() *http.Request {
		return func() *http.Request { return request("POST", target, h...) }
	}
	cross := []string{"Sec-Fetch-Site", "cross-site"}
	hooks := func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("POST /api/webhooks/{id}")) }
	runChecks(t, []checkCase{
		{name: "bypass exempts its path", setup: hooks, req: post(app+"/api/webhooks/account-delete", cross...)},
		{name: "bypass does not exempt an encoded letter in a static segment", setup: hooks,
			req: post(app+"/api/%77ebhooks/account-delete", cross...), want: csrf.ReasonCrossSite},
		{name: "bypass does not exempt an encoded letter in a static segment, upper-case hex", setup: hooks,
			req: post(app+"/api/webhook%73/x", cross...), want: csrf.ReasonCrossSite},
		{name: "bypass exempts an escape inside its wildcard segment", setup: hooks, req: post(app+"/api/webhooks/a%20b", cross...)},
		{name: "bypass exempts an encoded letter inside its wildcard segment", setup: hooks, req: post(app+"/api/webhooks/%61", cross...)},
	})
}

// overrideMiddleware is gorilla/handlers' HTTPMethodOverrideHandler
// (v1.5.2), which echo's MethodOverride with MethodFromForm("_method")
// matches: a POST's _method form field or X-HTTP-Method-Override header,
// read with r.FormValue, names the method the router dispatches on.
func overrideMiddleware(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			om := r.FormValue("_method")
			if om == "" {
				om = r.Header.Get("X-HTTP-Method-Override")
			}
			if om == http.MethodPut || om == http.MethodPatch || om == http.MethodDelete {
				r.Method = om
			}
		}
		h.ServeHTTP(w, r)
	})
}

// A bypass pattern that names a method ("POST /hooks/settings") exempts
// that method; method-override middleware behind Handler turned a
// cross-site form POST carrying _method=DELETE, which the bypass let
// through as a POST, into a DELETE of the same path that the pattern did
// not name (reproduced with gorilla/handlers v1.5.2 and echo v4.16.6's
// MethodOverride). Real sockets, a form as a cross-site page posts it.
func TestBypassMethodOverrideBehindHandler(t *testing.T) {
	app := http.NewServeMux()
	app.HandleFunc("POST /hooks/settings", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "received "+r.FormValue("payload"))
	})
	app.HandleFunc("DELETE /hooks/settings", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "deleted")
	})
	multipartBody := func(fields ...string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for i := 0; i+1 < len(fields); i += 2 {
			mw.WriteField(fields[i], fields[i+1])
		}
		mw.Close()
		return mw.FormDataContentType(), b.String()
	}
	mpDelete, mpDeleteBody := multipartBody("_method", "DELETE")
	mpPayload, mpPayloadBody := multipartBody("payload", "x")
	cross := []string{"Sec-Fetch-Site", "cross-site"}
	same := []string{"Sec-Fetch-Site", "same-origin"}
	form := "application/x-www-form-urlencoded"
	for _, tt := range []struct {
		name     string
		pattern  string
		target   string
		ctype    string
		body     string
		header   []string
		wantCode int
		wantBody string
	}{
		{"cross-site form POST with _method=DELETE refused", "POST /hooks/settings", "/hooks/settings", form, "_method=DELETE", cross, 403, ""},
		{"cross-site multipart POST with _method=DELETE refused", "POST /hooks/settings", "/hooks/settings", mpDelete, mpDeleteBody, cross, 403, ""},
		{"cross-site form POST with ?_method=DELETE refused", "POST /hooks/settings", "/hooks/settings?_method=DELETE", form, "payload=x", cross, 403, ""},
		{"cross-site form POST with _METHOD=delete refused (readers that fold case)", "POST /hooks/settings", "/hooks/settings", form, "_METHOD=delete", cross, 403, ""},
		// Go's ParseForm (so gorilla's and echo's FormValue) reads a body
		// whose Content-Type has a malformed parameter, which mime.ParseMediaType
		// reports with the media type and an error; a no-cors fetch may send
		// one. Rack reads a POST without a Content-Type as a form.
		{"cross-site form POST with a malformed Content-Type parameter and _method=DELETE refused", "POST /hooks/settings", "/hooks/settings", form + "; a", "_method=DELETE", cross, 403, ""},
		{"cross-site form POST with a malformed Content-Type parameter allowed, body intact", "POST /hooks/settings", "/hooks/settings", form + "; a", "payload=x", cross, 200, "received x"},
		{"same-origin form POST with _method=DELETE allowed", "POST /hooks/settings", "/hooks/settings", form, "_method=DELETE", same, 200, "deleted"},
		{"cross-site form POST without an override allowed, body intact", "POST /hooks/settings", "/hooks/settings", form, "payload=x", cross, 200, "received x"},
		{"cross-site multipart POST without an override allowed, body intact", "POST /hooks/settings", "/hooks/settings", mpPayload, mpPayloadBody, cross, 200, "received x"},
		{"cross-site form POST with _method=GET allowed", "POST /hooks/settings", "/hooks/settings", form, "_method=GET&payload=x", cross, 200, "received x"},
		// A pattern without a method exempts the path whatever method the
		// application reads.
		{"method-less bypass: cross-site form POST with _method=DELETE allowed", "/hooks/settings", "/hooks/settings", form, "_method=DELETE", cross, 200, "deleted"},
		// Negative control: the same pattern naming DELETE as well.
		{"POST and DELETE bypassed: cross-site form POST with _method=DELETE allowed", "/hooks/", "/hooks/settings", form, "_method=DELETE", cross, 200, "deleted"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := csrf.New()
			must(t, p.AddInsecureBypassPattern(tt.pattern))
			srv := httptest.NewServer(p.Handler(overrideMiddleware(app)))
			defer srv.Close()
			req, err := http.NewRequest("POST", srv.URL+tt.target, bytes.NewReader([]byte(tt.body)))
			must(t, err)
			req.Header.Set("Content-Type", tt.ctype)
			for i := 0; i+1 < len(tt.header); i += 2 {
				req.Header.Set(tt.header[i], tt.header[i+1])
			}
			resp, err := http.DefaultClient.Do(req)
			must(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantCode || tt.wantBody != "" && string(b) != tt.wantBody {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, b, tt.wantCode, tt.wantBody)
			}
		})
	}
}
