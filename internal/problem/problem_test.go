package problem_test

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/problem"
)

func TestWrite(t *testing.T) {
	d := problem.Details{Status: 403, Reason: "cross-site", Title: "cross-site request refused", Detail: `origin "<script>" is not allowed`}
	tests := []struct {
		name     string
		accept   string
		wantType string
	}{
		{"json", "application/json", "application/problem+json"},
		{"problem json", "application/problem+json", "application/problem+json"},
		{"browser", "text/html,application/xhtml+xml,*/*;q=0.8", "text/plain; charset=utf-8"},
		{"json refused by q=0", "application/json;q=0, text/plain", "text/plain; charset=utf-8"},
		{"no accept", "", "text/plain; charset=utf-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", nil)
			if tt.accept != "" {
				r.Header.Set("Accept", tt.accept)
			}
			w := httptest.NewRecorder()
			problem.Write(w, r, d)
			if got := w.Code; got != 403 {
				t.Errorf("status: got %d, want 403", got)
			}
			if got := w.Header().Get("Content-Type"); got != tt.wantType {
				t.Errorf("content type: got %q, want %q", got, tt.wantType)
			}
			body := w.Body.String()
			if strings.Contains(body, "<script>") && tt.wantType != "text/plain; charset=utf-8" {
				t.Errorf("JSON body echoes markup unescaped: %s", body)
			}
			if !strings.Contains(body, "cross-site") {
				t.Errorf("body lacks the reason code: %s", body)
			}
			if tt.wantType == "application/problem+json" {
				var got map[string]any
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("body is not JSON: %v", err)
				}
				if got["type"] != "urn:forgeproof:problem:cross-site" || got["status"] != float64(403) || got["reason"] != "cross-site" {
					t.Errorf("got %v", got)
				}
			}
			if w.Header().Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("missing nosniff")
			}
			if got := w.Header().Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control: got %q, want no-store", got)
			}
			if got := w.Header().Values("Vary"); len(got) != 1 || got[0] != "Accept" {
				t.Errorf("Vary: got %q, want Accept", got)
			}
		})
	}
}

func TestAcceptsJSONIgnoresGarbage(t *testing.T) {
	for _, v := range []string{";;;", "application/", "\x00", "*/*", "text/json"} {
		if problem.AcceptsJSON([]string{v}) {
			t.Errorf("AcceptsJSON(%q): got true, want false", v)
		}
	}
	if !problem.AcceptsJSON([]string{"text/html", "application/vnd.api+json"}) {
		t.Errorf("AcceptsJSON(+json in second header): got false, want true")
	}
}

// FuzzAcceptsJSON: the Accept header is client input; parsing it never
// panics, and only a header that names a JSON type gets JSON.
func FuzzAcceptsJSON(f *testing.F) {
	for _, s := range []string{"application/json", "application/problem+json", "text/html,application/xhtml+xml,*/*;q=0.8",
		"application/json;q=0, text/plain", "application/json;q=0.000", "application/json;q=0.001", `application/json; x="a,b"`, "*/*", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, accept string) {
		if problem.AcceptsJSON([]string{accept}) && !strings.Contains(strings.ToLower(accept), "json") {
			t.Errorf("got JSON for Accept %q, want text", accept)
		}
	})
}
