package csrf_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// TestZeroProtection checks what the Protection doc says of the zero
// value, used without New: origin checks on, tokens off (Token reports
// ErrNoKeys), and a mode that needs tokens without a key ring refuses
// every unsafe request (ReasonNoKeys) rather than let it through.
func TestZeroProtection(t *testing.T) {
	var p csrf.Protection
	served := 0
	h := p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { served++ }))
	for _, tc := range []struct {
		name, site string
		want       int
	}{
		{"same-origin passes", "same-origin", http.StatusOK},
		{"cross-site refused", "cross-site", http.StatusForbidden},
	} {
		r := httptest.NewRequest("POST", "https://bank.example/transfer", nil)
		r.Header.Set("Sec-Fetch-Site", tc.site)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, w.Code, tc.want)
		}
	}
	if served != 1 {
		t.Errorf("got %d requests served, want 1", served)
	}

	if _, err := p.Token(httptest.NewRequest("GET", "https://bank.example/", nil)); !errors.Is(err, csrf.ErrNoKeys) {
		t.Errorf("Token: got %v, want ErrNoKeys", err)
	}

	var q csrf.Protection
	if err := q.SetMode(csrf.ModeOriginAndToken); err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest("POST", "https://bank.example/transfer", nil)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	if reason, _ := csrf.ReasonOf(q.Check(r)); reason != csrf.ReasonNoKeys {
		t.Errorf("token mode without keys: got %q, want %q", reason, csrf.ReasonNoKeys)
	}
	// A program's request (no browser headers) too.
	r = httptest.NewRequest("POST", "https://bank.example/transfer", nil)
	if reason, _ := csrf.ReasonOf(q.Check(r)); reason != csrf.ReasonNoKeys {
		t.Errorf("token mode without keys, no browser headers: got %q, want %q", reason, csrf.ReasonNoKeys)
	}
	if err := q.SetMode(csrf.Mode(99)); err == nil {
		t.Error("SetMode(99): got nil error, want one")
	}
}

// TestErrorMatching checks that callers can branch on refusals with
// errors.As and on their causes with errors.Is through *Error.
func TestErrorMatching(t *testing.T) {
	p := csrf.New()
	r := httptest.NewRequest("POST", "https://bank.example/transfer", nil)
	r.Header.Set("Origin", "https://evil.example")
	err := p.Check(r)
	var e *csrf.Error
	if !errors.As(err, &e) || e.Reason != csrf.ReasonOriginMismatch || e.Header != "Origin" {
		t.Fatalf("got %#v, want an *Error with reason %q and header Origin", err, csrf.ReasonOriginMismatch)
	}
	cause := errors.New("session store down")
	wrapped := &csrf.Error{Reason: csrf.ReasonBindingUnavailable, Err: cause}
	if !errors.Is(wrapped, cause) {
		t.Error("errors.Is does not see the cause through *Error")
	}
	if _, ok := csrf.ReasonOf(errors.New("other")); ok {
		t.Error("ReasonOf of a foreign error: got ok, want not")
	}
}
