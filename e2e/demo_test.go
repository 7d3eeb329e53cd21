package e2e_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/internal/demo"
	"github.com/forgeproof/forgeproof/pki"
)

// TestDemoInBrowser runs the demo (gateway, bank, attacker sites) and a
// real Chromium that holds alice's client certificate, first with CSRF
// protection on, then with --insecure-no-csrf as the negative control.
// The bank's balances and login counts are the oracle; the report table
// in the log says, per case, what the browser sent, what the gateway saw
// and decided, and what happened to the money.
func TestDemoInBrowser(t *testing.T) {
	t.Parallel()
	tools := browsertest.Tools(t)
	for _, mode := range []struct {
		name     string
		insecure bool
	}{
		{name: "csrf on", insecure: false},
		{name: "insecure-no-csrf (negative control)", insecure: true},
	} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel() // a demo and a browser of its own
			s := startScenario(t, tools, mode.insecure)
			defer s.printReport(t)
			t.Run("legitimate", s.testLegitimate)
			t.Run("forgeries", s.testForgeries)
		})
	}
}

// scenario is one demo and one browser, kept for a whole mode: session
// cookies do not survive a browser restart.
type scenario struct {
	run      *demo.Running
	b        *browser.Browser
	gw       *browser.AccessLog
	insecure bool
	report   []reportRow
	// aliceSince is when the browser last logged in as alice, zero when
	// its session may be another (or none): the forgeries log in again
	// only then, or when the cookie's Lax+POST window (two minutes from
	// when it was set) nears its end.
	aliceSince time.Time
}

func startScenario(t *testing.T, tools browser.Tools, insecure bool) *scenario {
	t.Helper()
	gw := &browser.AccessLog{}
	run, err := demo.Start(t.Context(), demo.Options{
		Dir:            t.TempDir(),
		Listen:         "localhost:0",
		InsecureNoCSRF: insecure,
		Logger:         slog.New(gw),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := run.Close(); err != nil {
			t.Errorf("demo: %v", err)
		}
	})
	caPEM, err := os.ReadFile(run.Files.CA)
	if err != nil {
		t.Fatal(err)
	}
	p12, err := os.ReadFile(run.Files.ClientP12)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCertPEM(caPEM)
	if err != nil {
		t.Fatalf("%s: %v", run.Files.CA, err)
	}
	b := startBrowser(t, tools, browser.Profile{
		CACertsPEM: caPEM,
		ClientP12:  p12,
		AutoSelect: []string{run.URL},
		IssuerCN:   ca.Subject.CommonName,
	})
	t.Logf("bank %s, cross-site attacker %s, same-site attacker %s", run.URL, run.AttackerURL, run.SiblingURL)
	return &scenario{run: run, b: b, gw: gw, insecure: insecure}
}

// state is the oracle: balances and login counts.
type state struct {
	balances map[string]int64
	logins   map[string]int
}

func (s *scenario) state() state {
	return state{s.run.Bank.Balances(), s.run.Bank.Logins()}
}

// effect describes what changed between two states, "none" if nothing.
func effect(before, after state) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(after.balances)) {
		if d := after.balances[name] - before.balances[name]; d != 0 {
			parts = append(parts, fmt.Sprintf("%s%+d", name, d))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(after.logins)) {
		if d := after.logins[name] - before.logins[name]; d != 0 {
			parts = append(parts, fmt.Sprintf("login %s", name))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// reportRow is one line of the per-case table.
type reportRow struct {
	name, from       string
	sent             browser.Sent
	gw               browser.Access
	effect, verdict  string
	browserSentKnown bool
}

// observe waits until the gateway has handled the request and the
// browser has finished it, then records a report row.
func (s *scenario) observe(t *testing.T, name, from string, gwMark, sentMark int, method, path string, fromBrowser bool) (browser.Access, browser.Sent) {
	t.Helper()
	acc, err := s.gw.Wait(waitCtx(t), gwMark, browser.Handled(method, path))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var sent browser.Sent
	if fromBrowser {
		sent, err = s.b.WaitSent(t.Context(), sentMark, browser.SentTo(method, s.run.URL+strings.SplitN(path, "?", 2)[0]))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	s.report = append(s.report, reportRow{name: name, from: from, sent: sent, gw: acc, browserSentKnown: fromBrowser})
	return acc, sent
}

func (s *scenario) conclude(effect, verdict string) {
	s.report[len(s.report)-1].effect = effect
	s.report[len(s.report)-1].verdict = verdict
}

// concludePaid concludes a legitimate payment: the request answered
// wantStatus and changed exactly wantEffect since before.
func (s *scenario) concludePaid(t *testing.T, what string, before state, status, wantStatus int, wantEffect string) {
	t.Helper()
	got := effect(before, s.state())
	ok := status == wantStatus && got == wantEffect
	s.conclude(got, verdict(ok, "paid"))
	if !ok {
		t.Errorf("%s: status %d, effect %q; want %d, %q", what, status, got, wantStatus, wantEffect)
	}
}

// login loads the bank and logs in as alice with the page's own form.
func (s *scenario) login(t *testing.T) {
	t.Helper()
	if status, err := s.b.Navigate(t.Context(), s.run.URL+"/"); err != nil || status != http.StatusOK {
		t.Fatalf("load the bank: status %d, %v", status, err)
	}
	status, err := s.b.Follow(t.Context(), `(() => {
		const f = document.getElementById("login-form");
		f.username.value = "alice"; f.password.value = "`+demo.Password+`";
		f.querySelector("button").click();
	})()`)
	if err != nil || status != http.StatusOK {
		t.Fatalf("log in: status %d, %v", status, err)
	}
	var via string
	if err := s.b.Eval(t.Context(), `document.getElementById("via")?.textContent ?? ""`, &via); err != nil {
		t.Fatal(err)
	}
	if via != "session" {
		t.Fatalf("after logging in the bank acts by %q, want \"session\"", via)
	}

	s.aliceSince = time.Now()
}

// testLegitimate: what a real user and a real service do must work, with
// the defence on as well as off.
func (s *scenario) testLegitimate(t *testing.T) {
	const from = "bank page"

	// Load the bank: the certificate is presented and seen by the gateway.
	gwMark, sentMark := s.gw.Mark(), s.b.Mark()
	if status, err := s.b.Navigate(t.Context(), s.run.URL+"/"); err != nil || status != http.StatusOK {
		t.Fatalf("load the bank: status %d, %v; want 200", status, err)
	}
	acc, _ := s.observe(t, "load the bank", from, gwMark, sentMark, "GET", "/", true)
	var holder string
	if err := s.b.Eval(t.Context(), `document.getElementById("holder")?.textContent ?? ""`, &holder); err != nil {
		t.Fatal(err)
	}
	ok := holder == demo.ClientName && strings.Contains(acc.Identity, demo.ClientName)
	s.conclude("none", verdict(ok, "certificate seen"))
	if !ok {
		t.Errorf("load the bank: page shows holder %q, gateway saw identity %q; want %q in both", holder, acc.Identity, demo.ClientName)
	}

	// Log in with the login form (its token included).
	before := s.state()
	gwMark, sentMark = s.gw.Mark(), s.b.Mark()
	s.login(t)
	s.observe(t, "log in (form with token)", from, gwMark, sentMark, "POST", "/login", true)
	after := s.state()
	got := effect(before, after)
	s.conclude(got, verdict(got == "login alice", "logged in"))
	if got != "login alice" {
		t.Errorf("log in: effect %q, want %q", got, "login alice")
	}

	// Submit the transfer form with its token.
	before = s.state()
	gwMark, sentMark = s.gw.Mark(), s.b.Mark()
	status, err := s.b.Follow(t.Context(), `(() => {
		const f = document.getElementById("transfer-form");
		f.to.value = "bob"; f.amount.value = "7";
		f.querySelector("button").click();
	})()`)
	if err != nil {
		t.Fatal(err)
	}
	s.observe(t, "transfer form with token", from, gwMark, sentMark, "POST", "/transfer", true)
	s.concludePaid(t, "transfer form", before, status, http.StatusOK, "alice-7 bob+7")

	// A same-origin fetch with the token in its header.
	before = s.state()
	gwMark, sentMark = s.gw.Mark(), s.b.Mark()
	var fetchStatus int
	err = s.b.Eval(t.Context(), `fetch("/api/transfers", {method: "POST",
		headers: {"Content-Type": "application/json",
			"`+csrf.HeaderName+`": document.querySelector("#transfer-form [name=csrf_token]").value},
		body: JSON.stringify({to: "bob", amount: 3})}).then(r => r.status)`, &fetchStatus)
	if err != nil {
		t.Fatal(err)
	}
	s.observe(t, "same-origin fetch with token header", from, gwMark, sentMark, "POST", "/api/transfers", true)
	s.concludePaid(t, "same-origin fetch", before, fetchStatus, http.StatusCreated, "alice-3 bob+3")

	// A Go service with alice's certificate calls the JSON API: no browser
	// headers, no token, and it must pass untouched.
	before = s.state()
	gwMark = s.gw.Mark()
	resp, err := s.run.ServiceClient().Post(s.run.URL+"/api/transfers", "application/json", strings.NewReader(`{"to":"bob","amount":5}`))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	s.observe(t, "Go service client (JSON API)", "Go http.Client", gwMark, 0, "POST", "/api/transfers", false)
	s.concludePaid(t, "service client", before, resp.StatusCode, http.StatusCreated, "alice-5 bob+5")
}

// forgery is one attack page opened from one attacker origin.
type forgery struct {
	attack demo.Attack
	// noCookie clears every cookie first: the certificate is the only
	// credential the forged request carries.
	noCookie bool
	// top opens the page's top-level variant (?top=1): the form is
	// submitted as a navigation of the tab, as a real attack page does,
	// and carries the session cookie (Chromium's Lax+POST window); the
	// page then shows the bank's answer, not its own report.
	top bool
}

func (f forgery) name() string {
	switch {
	case f.noCookie:
		return f.attack.Description + ", certificate only (no cookie)"
	case f.top:
		return f.attack.Description + ", at the top level"
	}
	return f.attack.Description
}

func (f forgery) path() string {
	if f.top {
		return f.attack.Path + "?top=1"
	}
	return f.attack.Path
}

// wantEffect is what the forgery achieves when nothing stops it.
func (f forgery) wantEffect() string {
	switch {
	case f.attack.Method == "GET":
		return "none" // no GET changes state, defence or not
	case f.attack.Target == "/login":
		return "login mallory"
	}
	return "alice-100 mallory+100"
}

// outcome names what the case shows when its effect is the expected one.
func (f forgery) outcome(insecure bool) string {
	switch {
	case f.attack.Method == "GET":
		return "no state change (safe method)"
	case insecure:
		return "forgery worked (defence off)"
	}
	return "blocked"
}

// wantVerdict is what the attack page shows once the bank has answered.
func (f forgery) wantVerdict(insecure bool) string {
	switch {
	case f.attack.Method == "GET":
		return strings.ToUpper(demo.VerdictNoChange)
	case !insecure:
		return strings.ToUpper(demo.VerdictBlocked)
	case f.attack.Target == "/login":
		return strings.ToUpper(demo.VerdictLogin)
	}
	return strings.ToUpper(demo.VerdictMoneyMoved)
}

// pageReport is what an attack page shows about its forgery.
type pageReport struct {
	Verdict, Answer             string
	BeforeMallory, AfterMallory string
	Back, GuardOff              bool
}

// pageReport waits until the attack page in the tab shows its verdict
// and returns what it shows.
func (s *scenario) pageReport(t *testing.T) pageReport {
	t.Helper()
	var r pageReport
	err := s.b.Eval(waitCtx(t), `new Promise(resolve => {
		const text = id => document.getElementById(id)?.textContent ?? "";
		(function wait() {
			if (!text("verdict")) { setTimeout(wait, 50); return; }
			resolve({Verdict: text("verdict"), Answer: text("answer"),
				BeforeMallory: text("before-mallory"), AfterMallory: text("after-mallory"),
				Back: !!document.querySelector('a[href="/"]'), GuardOff: text("mode").includes("OFF")});
		})();
	})`, &r)
	if err != nil {
		t.Fatalf("the attack page shows no verdict: %v", err)
	}
	return r
}

// testForgeries opens every attack page from the cross-site and the
// same-site attacker. With the defence on nothing may change; with it off
// every forgery but the image GET must work, or the test proves nothing.
func (s *scenario) testForgeries(t *testing.T) {
	var forgeries []forgery
	for _, a := range demo.Attacks {
		forgeries = append(forgeries, forgery{attack: a})
		if a.Path == "/form" {
			forgeries = append(forgeries, forgery{attack: a, noCookie: true})
		}
		if a.Path == "/form" || a.Path == "/login" {
			forgeries = append(forgeries, forgery{attack: a, top: true})
		}
	}
	for _, site := range []struct{ name, url string }{
		{"cross-site", s.run.AttackerURL},
		{"same-site", s.run.SiblingURL},
	} {
		for _, f := range forgeries {
			name := site.name + ": " + f.name()
			t.Run(name, func(t *testing.T) {
				// An alice session (the login CSRF replaces it, so it is
				// logged in again after one), or none at all.
				loggedIn := s.aliceSince
				s.aliceSince = time.Time{} // until this case ends as it should
				if f.noCookie {
					if err := s.b.ClearCookies(t.Context()); err != nil {
						t.Fatal(err)
					}
				} else if loggedIn.IsZero() || time.Since(loggedIn) > time.Minute {
					s.login(t)
					loggedIn = s.aliceSince
					s.aliceSince = time.Time{} // login sets it; a login CSRF must not leave it set
				}
				before := s.state()
				gwMark, sentMark := s.gw.Mark(), s.b.Mark()
				if err := s.b.Open(t.Context(), site.url+f.path()); err != nil {
					t.Fatal(err)
				}
				acc, sent := s.observe(t, name, site.url, gwMark, sentMark, f.attack.Method, f.attack.Target, true)
				got := effect(before, s.state())
				want := "none"
				if s.insecure {
					want = f.wantEffect()
				}
				ok := got == want
				s.conclude(got, verdict(ok, f.outcome(s.insecure)))
				if !ok {
					t.Errorf("effect: got %q, want %q (gateway: %d %s %s)", got, want, acc.Status, acc.Decision, acc.Reason)
				}

				// The page itself says what happened, before undo changes
				// the balances back: "blocked" with the guard on, "money
				// moved" with it off (issue 12).
				if !f.top { // a top-level variant's tab shows the bank's answer instead
					shown := s.pageReport(t)
					if w := f.wantVerdict(s.insecure); shown.Verdict != w {
						t.Errorf("the page shows verdict %q, want %q (answer %q)", shown.Verdict, w, shown.Answer)
					}
					if !shown.Back || shown.BeforeMallory == "" || shown.AfterMallory == "" || shown.Answer == "" {
						t.Errorf("the page lacks a link back, the balances or the answer: %+v", shown)
					}
					if s.insecure != shown.GuardOff {
						t.Errorf("the page says the guard is off: %v, want %v", shown.GuardOff, s.insecure)
					}
				}

				// The premises: the browser really sent the forgery from
				// the attacker's site, with alice's certificate.
				if fs := sent.Header.Get("Sec-Fetch-Site"); fs != site.name {
					t.Errorf("Sec-Fetch-Site: got %q, want %q", fs, site.name)
				}
				if o := sent.Header.Get("Origin"); f.attack.Method == "POST" && o != site.url {
					t.Errorf("Origin: got %q, want %q", o, site.url)
				}
				if f.noCookie && len(sent.Cookies()) > 0 {
					t.Errorf("certificate-only forgery sent cookies %v", sent.Cookies())
				}
				if !strings.Contains(acc.Identity, demo.ClientName) {
					t.Errorf("gateway saw identity %q: the browser did not present alice's certificate, so the case proves nothing", acc.Identity)
				}

				// With the defence on, the gateway refused every unsafe
				// forgery itself, with the reason code of its site.
				if !s.insecure && f.attack.Method != "GET" && (acc.Status != http.StatusForbidden || acc.Reason != site.name) {
					t.Errorf("gateway: got %d %q, want %d %q", acc.Status, acc.Reason, http.StatusForbidden, site.name)
				}
				s.undo(t, before)
				if !f.noCookie && f.attack.Target != "/login" && !t.Failed() {
					s.aliceSince = loggedIn
				}
			})
		}
	}
}

// undo gives back what a forgery took, so that alice never runs out of
// money over the cases.
func (s *scenario) undo(t *testing.T, before state) {
	t.Helper()
	if d := s.run.Bank.Balances()["mallory"] - before.balances["mallory"]; d > 0 {
		if err := s.run.Bank.Transfer("mallory", demo.ClientName, d); err != nil {
			t.Fatal(err)
		}
	}
}

func verdict(ok bool, what string) string {
	if ok {
		return "PASS: " + what
	}
	return "FAIL: " + what
}

// printReport logs the per-case table.
func (s *scenario) printReport(t *testing.T) {
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', 0)
	mode := "CSRF protection on"
	if s.insecure {
		mode = "--insecure-no-csrf (negative control)"
	}
	fmt.Fprintf(w, "\nReport: %s; bank %s\n", mode, s.run.URL)
	fmt.Fprintln(w, "case\tfrom\tOrigin\tSec-Fetch-Site/Mode/Dest\tcookies\tcertificate (gateway)\tgateway\teffect\tverdict")
	for _, r := range s.report {
		origin, fetch, cookies := "-", "-", "-"
		if r.browserSentKnown {
			origin = orNone(r.sent.Header.Get("Origin"))
			fetch = fmt.Sprintf("%s/%s/%s", orNone(r.sent.Header.Get("Sec-Fetch-Site")),
				orNone(r.sent.Header.Get("Sec-Fetch-Mode")), orNone(r.sent.Header.Get("Sec-Fetch-Dest")))
			cookies = orNone(strings.Join(r.sent.Cookies(), ","))
		}
		gw := fmt.Sprintf("%d %s", r.gw.Status, r.gw.Decision)
		if r.gw.Reason != "" {
			gw += " (" + r.gw.Reason + ")"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.name, r.from, origin, fetch, cookies, orNone(r.gw.Identity), gw, r.effect, r.verdict)
	}
	w.Flush()
	t.Log(buf.String())
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
