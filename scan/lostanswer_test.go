package scan_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// TestProbeAnswerLost: a service that acts on a same-site forgery and
// then drops the connection before answering (a crash, a proxy timeout)
// is judged by the verification request all the same: the forgery is
// found, and the change it made is not put on the probe after it (the
// oracle is read again). Twin: a service that drops that connection
// without acting finds nothing, the probe inconclusive.
func TestProbeAnswerLost(t *testing.T) {
	for _, tt := range []struct {
		name string
		acts bool
	}{
		{"acts, then drops the connection", true},
		{"drops the connection", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestPKI(t)
			var transfers atomic.Int64
			mux := http.NewServeMux()
			mux.HandleFunc("/transfer", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				if r.Method == http.MethodGet {
					fmt.Fprint(w, `<!doctype html><title>bank</title><form method="post" action="/transfer"><input name="amount" value="1"></form>`)
					return
				}
				origin := r.Header.Get("Origin")
				switch site := r.Header.Get("Sec-Fetch-Site"); {
				case (site == "" || site == "same-origin") && (origin == "" || origin == "https://"+r.Host):
					transfers.Add(1)
					fmt.Fprint(w, `<!doctype html><title>bank</title>sent`)
				case site == "same-site":
					if tt.acts {
						transfers.Add(1)
					}
					conn, _, err := http.NewResponseController(w).Hijack()
					if err == nil {
						conn.Close()
					}
				default:
					http.Error(w, "cross-site", http.StatusForbidden)
				}
			})
			mux.HandleFunc("/balance", func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintf(w, `{"transfers":%d}`, transfers.Load())
			})
			srv := httptest.NewUnstartedServer(mux)
			srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
			srv.StartTLS()
			t.Cleanup(srv.Close)
			rep, err := scan.Run(context.Background(), scan.Config{Target: srv.URL + "/transfer", TLS: p.clientTLS(), Rate: 1000, Discover: true,
				Verify: &scan.Verification{Path: "/balance", Pointer: "/transfers"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(rep.Endpoints) != 1 || rep.Endpoints[0].Oracle != scan.OracleVerification {
				t.Fatalf("endpoints %+v, want POST /transfer judged by the verification request; notes %q", rep.Endpoints, rep.Notes)
			}
			got := forgeries(rep, "/transfer")
			same := familyOf(rep.Endpoints[0], scan.RuleSameSiteForgery)
			if tt.acts {
				if !slices.Equal(got, []string{scan.RuleSameSiteForgery}) {
					t.Errorf("findings %v, want only %s", got, scan.RuleSameSiteForgery)
				}
				for _, f := range rep.Findings {
					if f.Rule == scan.RuleSameSiteForgery && !strings.Contains(f.Evidence, "answer was lost") {
						t.Errorf("evidence %q, want the lost answer said", f.Evidence)
					}
				}
				return
			}
			if len(got) != 0 {
				t.Errorf("findings %v, want none", got)
			}
			if same.Outcome != scan.OutcomeInconclusive || !strings.Contains(same.Reason, "the probe failed") {
				t.Errorf("same-site-forgery: %s (%q), want inconclusive: the probe failed", same.Outcome, same.Reason)
			}
		})
	}
}
