package csrfbench_test

import (
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// TestOriginOutcomes checks that every library answers every benchmarked
// request as it must, and that without a middleware every request reaches
// the handler (the negative control: the refusal comes from the library).
func TestOriginOutcomes(t *testing.T) {
	for _, tc := range originCases() {
		for _, l := range originLibs(t) {
			t.Run(tc.name+"/"+l.name, func(t *testing.T) {
				w := newRecorder()
				l.wrap(ok).ServeHTTP(w, tc.req)
				if got := accepted(w.status()); got != tc.accept {
					t.Errorf("accepted: got %v (status %d), want %v", got, w.status(), tc.accept)
				}
			})
		}
		t.Run(tc.name+"/no-middleware", func(t *testing.T) {
			w := newRecorder()
			ok.ServeHTTP(w, tc.req)
			if got := w.status(); got != http.StatusOK {
				t.Errorf("status: got %d, want 200", got)
			}
		})
	}
}

// TestTokenOutcomes does the same for the token libraries, and adds the
// twins that show the token is what decides: a POST without a token, and
// one with a token minted for another visitor, are refused.
func TestTokenOutcomes(t *testing.T) {
	for _, l := range tokenLibs(t) {
		alice, mallory := newTokenFixture(t, l), newTokenFixture(t, l)
		cases := append(tokenCases(alice),
			tcase{name: "same-origin without token", accept: false,
				req: newRequest("POST", "Sec-Fetch-Site", "same-origin", "Origin", selfOrigin, "Cookie", alice.cookie)},
			tcase{name: "token of another visitor", accept: false,
				req: newRequest("POST", "Sec-Fetch-Site", "same-origin", "Origin", selfOrigin, "Cookie", alice.cookie, csrf.HeaderName, mallory.token)},
		)
		for _, tc := range cases {
			t.Run(l.name+"/"+tc.name, func(t *testing.T) {
				*alice.minted = ""
				w := newRecorder()
				alice.handler.ServeHTTP(w, tc.req)
				if got := accepted(w.status()); got != tc.accept {
					t.Errorf("accepted: got %v (status %d), want %v", got, w.status(), tc.accept)
				}
				if tc.name == "mint" && *alice.minted == "" {
					t.Error("mint: no token minted")
				}
			})
			t.Run(tc.name+"/no-middleware", func(t *testing.T) {
				w := newRecorder()
				ok.ServeHTTP(w, tc.req)
				if got := w.status(); got != http.StatusOK {
					t.Errorf("status: got %d, want 200", got)
				}
			})
		}
	}
}
