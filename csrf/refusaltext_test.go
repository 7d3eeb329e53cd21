package csrf_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// A same-origin request refused for its token is not called a cross-site
// request forgery: the text says the page did not include the token and
// where to put it (issue 12). Its twin, a cross-site refusal, still says
// cross-site; and the same-origin request with its token passes.
func TestRefusalTextNamesTheCause(t *testing.T) {
	p := tokenProtection(t, csrf.ModeOriginAndToken, testRing(t))
	tok := mintFor(t, p, "alice")
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	tests := []struct {
		name, site, body string
		maxBytes         int64
		wantStatus       int
		wantReason       string
		want, notWant    []string
	}{
		{"same-origin form without its token", "same-origin", "amount=1", 0, 403, "token-missing",
			[]string{"did not include", "csrf_token", csrf.HeaderName, "passed the origin checks"}, []string{"cross-site", "forgery"}},
		{"same-origin form with a wrong token", "same-origin", "csrf_token=" + flip(tok, 7), 0, 403, "token-invalid",
			[]string{"not valid", "reload the page"}, []string{"cross-site", "forgery"}},
		{"same-origin form larger than the token search", "same-origin", "amount=1&" + csrf.FormField + "=" + tok, 8, 403, "token-missing",
			[]string{"larger than the limit", csrf.HeaderName}, []string{"cross-site", "forgery"}},
		{"cross-site form (the twin)", "cross-site", "amount=1&" + csrf.FormField + "=" + tok, 0, 403, "cross-site",
			[]string{"cross-site request forgery", "another site"}, nil},
		{"same-origin form with its token (allowed)", "same-origin", "amount=1&" + csrf.FormField + "=" + tok, 0, 204, "", nil, nil},
	}
	for _, tt := range tests {
		for _, accept := range []string{"text/html", "application/json"} {
			t.Run(tt.name+", "+accept, func(t *testing.T) {
				p.SetMaxFormBytes(tt.maxBytes)
				r := request("POST", app+"/", "X-Test-Session", "alice", "Sec-Fetch-Site", tt.site,
					"Content-Type", "application/x-www-form-urlencoded", "Accept", accept)
				r.Body = io.NopCloser(strings.NewReader(tt.body))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				if rec.Code != tt.wantStatus {
					t.Fatalf("status: got %d, want %d (%s)", rec.Code, tt.wantStatus, rec.Body)
				}
				text := rec.Body.String()
				if accept == "application/json" && tt.wantStatus == 403 {
					var doc struct{ Reason, Title, Detail string }
					if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Reason != tt.wantReason {
						t.Fatalf("got %s (%v), want reason %q", text, err, tt.wantReason)
					}
					text = doc.Title + ": " + doc.Detail
				}
				for _, s := range tt.want {
					if !strings.Contains(text, s) {
						t.Errorf("got %q, want it to contain %q", text, s)
					}
				}
				for _, s := range tt.notWant {
					if strings.Contains(text, s) {
						t.Errorf("got %q, want no %q", text, s)
					}
				}
			})
		}
	}
}

// A forwarded-conflict refusal named neither origin, so an operator could
// not tell which proxy's header was wrong: the error (for the observer
// and logs) now names both, while the response body still quotes
// nothing of the request. The twin: agreeing headers pass.
func TestForwardedConflictNamesOrigins(t *testing.T) {
	p := csrf.New()
	if err := p.AddTrustedProxy("10.0.0.0/8"); err != nil {
		t.Fatal(err)
	}
	req := func(forwarded string) *http.Request {
		r := httptest.NewRequest("POST", "http://10.0.0.5:8080/", nil)
		r.RemoteAddr = "10.1.1.1:1"
		r.Header = http.Header{"Origin": {"https://app.example"}, "Forwarded": {forwarded},
			"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}, "Accept": {"application/json"}}
		return r
	}
	if err := p.Check(req("proto=https;host=app.example")); err != nil {
		t.Fatalf("agreeing headers: got %v, want nil", err)
	}
	err := p.Check(req("proto=https;host=evil.example"))
	const want = `csrf: forwarded-conflict: Forwarded "proto=https;host=evil.example": names another origin than X-Forwarded-Proto and X-Forwarded-Host: ` +
		`Forwarded names "https://evil.example", X-Forwarded-Proto/-Host "https://app.example"`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	rec := httptest.NewRecorder()
	p.Handler(http.NotFoundHandler()).ServeHTTP(rec, req("proto=https;host=evil.example"))
	if rec.Code != http.StatusForbidden || strings.Contains(rec.Body.String(), "evil.example") {
		t.Errorf("response: got %d %s, want 403 without the request's values", rec.Code, rec.Body)
	}
}

// The plain-text refusal is "403 TITLE: DETAIL (reason: …)": a detail
// that opened with its title's words read "the CSRF token cannot be
// checked: the CSRF token cannot be checked: no session …" for
// binding-unavailable. No detail repeats its title.
func TestRefusalDetailDoesNotRepeatTitle(t *testing.T) {
	reasons := []csrf.Reason{
		csrf.ReasonCrossSite, csrf.ReasonSameSite, csrf.ReasonFetchSiteInvalid, csrf.ReasonOriginMismatch,
		csrf.ReasonOriginNull, csrf.ReasonOriginInvalid, csrf.ReasonRefererMismatch, csrf.ReasonRefererInvalid,
		csrf.ReasonForwardedInvalid, csrf.ReasonForwardedConflict, csrf.ReasonTokenMissing, csrf.ReasonTokenInvalid,
		csrf.ReasonBindingUnavailable, csrf.ReasonHeaderRepeated, csrf.ReasonNoKeys,
	}
	for _, reason := range reasons {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "https://app.example/", nil)
		r.Header.Set("Accept", "application/json")
		csrf.WriteProblem(rec, r, &csrf.Error{Reason: reason})
		var doc struct{ Reason, Title, Detail string }
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || doc.Reason != string(reason) {
			t.Fatalf("%s: got %s (%v)", reason, rec.Body, err)
		}
		if doc.Detail == "" {
			t.Errorf("%s: no detail", reason)
		}
		if words := strings.TrimPrefix(doc.Title, "refused: "); strings.Contains(doc.Detail, words) {
			t.Errorf("%s: detail %q repeats its title %q", reason, doc.Detail, doc.Title)
		}
	}
}
