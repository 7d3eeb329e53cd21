package demo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
)

var attemptRE = regexp.MustCompile(`fetch\("/result\?id=" \+  ?(\d+) ?,`)

// An attack page reports what the bank answered its forgery, the
// balances before and after, and the verdict: "blocked" with the guard
// on, "money moved" with it off (the negative control). A Go client plays
// the browser: it loads the page, sends the forgery as Chromium does, and
// asks the page's /result.
func TestAttackPageReportsOutcome(t *testing.T) {
	for _, tt := range []struct {
		name          string
		insecure      bool
		site          string
		wantVerdict   string
		wantAnswer    string
		wantMalloryUp bool
	}{
		{"guard on, cross-site", false, "cross-site", demo.VerdictBlocked, "403 Forbidden, refused by forgeproof", false},
		{"guard on, same-site", false, "same-site", demo.VerdictBlocked, "reason same-site", false},
		{"guard off, cross-site (negative control)", true, "cross-site", demo.VerdictMoneyMoved, "200 OK, from the bank itself", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := startDemo(t, tt.insecure)
			attacker := r.AttackerURL
			if tt.site == "same-site" {
				attacker = r.SiblingURL
			}
			c := browserClient(r, true)
			page := send(t, c, "GET", attacker+"/form", fetchMeta{}, "", "")
			m := attemptRE.FindStringSubmatch(page.body)
			if m == nil {
				t.Fatalf("no attempt id in the page:\n%s", page.body)
			}
			if !strings.Contains(page.body, `id="before-mallory">10<`) {
				t.Errorf("page does not show mallory's balance before:\n%s", page.body)
			}
			// Nothing sent yet: not done.
			if res := result(t, r, attacker, m[1]); res.Done {
				t.Fatalf("got %+v before the forgery, want not done", res)
			}
			send(t, c, "POST", r.URL+"/transfer", fetchMeta{origin: attacker, site: tt.site, mode: "navigate", dest: "iframe"},
				"application/x-www-form-urlencoded", "to=mallory&amount=100")
			res := result(t, r, attacker, m[1])
			if !res.Done || res.Verdict != tt.wantVerdict || !strings.Contains(res.Answer, tt.wantAnswer) {
				t.Errorf("got %+v, want verdict %q and answer with %q", res, tt.wantVerdict, tt.wantAnswer)
			}
			if up := res.After["mallory"] > res.Before["mallory"]; up != tt.wantMalloryUp || res.Before["mallory"] != 10 {
				t.Errorf("before %v, after %v: want mallory up %v", res.Before, res.After, tt.wantMalloryUp)
			}
			if tt.wantVerdict == demo.VerdictBlocked && !strings.Contains(res.Explanation, "Sec-Fetch-Site") {
				t.Errorf("explanation %q does not say why", res.Explanation)
			}
		})
	}
}

func result(t *testing.T, r *demo.Running, attacker, id string) demo.Result {
	t.Helper()
	s := send(t, browserClient(r, false), "GET", attacker+"/result?id="+id, fetchMeta{}, "", "")
	var res demo.Result
	if err := json.Unmarshal([]byte(s.body), &res); err != nil {
		t.Fatalf("GET /result: %d %s: %v", s.status, s.body, err)
	}
	return res
}

// The bank's page without a certificate says how to present one; with
// one, it does not.
func TestBankPageWithoutCertificate(t *testing.T) {
	r := startDemo(t, false)
	without := send(t, browserClient(r, false), "GET", r.URL+"/", fetchMeta{site: "none", mode: "navigate", dest: "document"}, "", "")
	for _, w := range []string{`id="no-certificate"`, r.Files.ClientP12, "chrome://certificate-manager", "Firefox", "View Certificates", "restart the browser"} {
		if !strings.Contains(without.body, w) {
			t.Errorf("page without a certificate lacks %q", w)
		}
	}
	with := send(t, browserClient(r, true), "GET", r.URL+"/", fetchMeta{site: "none", mode: "navigate", dest: "document"}, "", "")
	if strings.Contains(with.body, `id="no-certificate"`) || !strings.Contains(with.body, `id="holder">alice<`) {
		t.Errorf("page with a certificate:\n%s", with.body)
	}
}

// Each refusal is one access-log line (issue 12: it was two), as is
// each allowed request (its twin: a same-origin transfer).
func TestRefusalLoggedOnce(t *testing.T) {
	var buf bytes.Buffer
	mu := &syncWriter{w: &buf}
	r, err := demo.Start(context.Background(), demo.Options{
		Dir: t.TempDir(), Listen: "localhost:0", AttackerAddr: "127.0.0.2:0", SiblingAddr: "localhost:0",
		Logger: slog.New(slog.NewTextHandler(mu, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	c := browserClient(r, true)
	s := send(t, c, "POST", r.URL+"/transfer", fetchMeta{origin: r.AttackerURL, site: "cross-site", mode: "navigate", dest: "document"},
		"application/x-www-form-urlencoded", "to=mallory&amount=1")
	if s.status != 403 {
		t.Fatalf("cross-site: got status %d, want 403", s.status)
	}
	s = send(t, c, "POST", r.URL+"/api/transfers", fetchMeta{origin: r.URL, site: "same-origin", mode: "cors", dest: "empty"},
		"application/json", `{"to":"bob","amount":1}`)
	if s.status != 201 {
		t.Fatalf("same-origin: got status %d, want 201", s.status)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	log := mu.String()
	if n := strings.Count(log, "reason=cross-site"); n != 1 {
		t.Errorf("the refusal is logged %d times, want once:\n%s", n, log)
	}
	if n := strings.Count(log, "path=/api/transfers"); n != 1 || !strings.Contains(log, "decision=allow") {
		t.Errorf("the allowed transfer is logged %d times, want once with decision=allow:\n%s", n, log)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func (s *syncWriter) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.String()
}
