package csrf_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// Refuse writes byte for byte what Handler writes for the same refusal:
// status, headers and body, with the default deny response (JSON and text)
// and with a custom deny handler.
func TestRefuseMatchesHandler(t *testing.T) {
	custom := func(w http.ResponseWriter, r *http.Request, err *csrf.Error) {
		w.Header().Set("X-Refused", string(err.Reason))
		http.Error(w, "no", http.StatusTeapot)
	}
	tests := []struct {
		name   string
		deny   csrf.DenyHandler
		accept string
	}{
		{"default, JSON", nil, "application/json"},
		{"default, text", nil, "text/html"},
		{"custom deny handler", custom, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := csrf.New()
			p.SetDenyHandler(tt.deny)
			reached := false
			h := p.Handler(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
			r := request("POST", app+"/transfer", "Sec-Fetch-Site", "cross-site", "Accept", tt.accept)

			viaHandler := httptest.NewRecorder()
			h.ServeHTTP(viaHandler, r)
			if reached {
				t.Fatal("Handler let the cross-site POST through")
			}
			var e *csrf.Error
			if !errors.As(p.Check(r), &e) {
				t.Fatal("Check: got no *csrf.Error for a cross-site POST")
			}
			viaRefuse := httptest.NewRecorder()
			p.Refuse(viaRefuse, r, e)

			if viaRefuse.Code != viaHandler.Code {
				t.Errorf("status: got %d, want %d", viaRefuse.Code, viaHandler.Code)
			}
			if got, want := fmt.Sprint(viaRefuse.Header()), fmt.Sprint(viaHandler.Header()); got != want {
				t.Errorf("headers: got %s, want %s", got, want)
			}
			if got, want := viaRefuse.Body.String(), viaHandler.Body.String(); got != want {
				t.Errorf("body: got %q, want %q", got, want)
			}
		})
	}
}

// A nil refusal is still a refusal (fail closed), not a panic.
func TestRefuseNil(t *testing.T) {
	rec := httptest.NewRecorder()
	csrf.New().Refuse(rec, request("GET", app+"/ws"), nil)
	if rec.Code != http.StatusForbidden {
		t.Errorf("got %d, want 403", rec.Code)
	}
}
