package scan_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// ctAPI is a JSON API whose only CSRF defence is its Content-Type check:
// POST /api/transfers is refused (415) unless ctOK accepts the request's
// Content-Type, and its body is then read as JSON whatever the type said
// (json.NewDecoder(r.Body), as most Go handlers do). It is authorised by
// the client certificate; preflights come without one (browsers never
// present it there), so the listener asks for a certificate without
// requiring it, and OPTIONS is answered before the certificate check, as
// a CORS middleware mounted first does.
type ctAPI struct {
	ctOK func(ct string) bool
	// cors: "" answers no preflight; "reflect" echoes the Origin with
	// Access-Control-Allow-Credentials: true and allows the requested
	// headers (cors({origin: true, credentials: true})); "star" allows
	// any origin without credentials (Access-Control-Allow-Origin: *,
	// Access-Control-Allow-Headers: content-type); "null" is "reflect"
	// for Origin: null only (a sandboxed iframe's); "origin-only" echoes
	// the Origin with credentials but lists no method or header.
	cors string
	// originCheck also refuses a request whose Sec-Fetch-Site is
	// cross-site (an origin check besides the Content-Type one).
	originCheck bool

	mu      sync.Mutex
	balance int
}

// The Content-Type checks of the field.
var (
	// mime.ParseMediaType(ct) == "application/json": strict.
	ctStrict = func(ct string) bool {
		mt, _, err := mime.ParseMediaType(ct)
		return err == nil && mt == "application/json"
	}
	// strings.Contains(ct, "json"): text/plain;application/json passes.
	ctContains = func(ct string) bool { return strings.Contains(ct, "json") }
	// strings.HasPrefix(ct, "application/json"): takes
	// application/jsonp too, but no browser sends that cross-site
	// without a preflight.
	ctPrefix = func(ct string) bool { return strings.HasPrefix(ct, "application/json") }
	// No check: express.json({type: '*/*'}), json.NewDecoder(r.Body).
	ctAny = func(string) bool { return true }
)

func (a *ctAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == "OPTIONS" {
		switch a.cors {
		case "reflect":
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "GET,HEAD,PUT,PATCH,POST,DELETE")
			w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			w.WriteHeader(http.StatusNoContent)
		case "null":
			if r.Header.Get("Origin") == "null" {
				w.Header().Set("Access-Control-Allow-Origin", "null")
				w.Header().Set("Access-Control-Allow-Credentials", "true")
				w.Header().Set("Access-Control-Allow-Headers", r.Header.Get("Access-Control-Request-Headers"))
			}
			w.WriteHeader(http.StatusNoContent)
		case "origin-only":
			w.Header().Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.WriteHeader(http.StatusNoContent)
		case "star":
			w.Header().Set("Access-Control-Allow-Origin", "*")
			w.Header().Set("Access-Control-Allow-Headers", "content-type")
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Allow", "GET, POST")
			w.WriteHeader(http.StatusOK)
		}
		return
	}
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case r.Method == "GET" && r.URL.Path == "/":
		fmt.Fprint(w, `<!doctype html><html><body><p>API</p></body></html>`)
	case r.Method == "GET" && r.URL.Path == "/api/balance":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"balance":%d}`, a.balance)
	case r.Method == "POST" && r.URL.Path == "/api/transfers":
		if a.originCheck {
			if s := r.Header.Get("Sec-Fetch-Site"); s != "" && s != "same-origin" && s != "none" {
				http.Error(w, "cross-site request refused", http.StatusForbidden)
				return
			}
		}
		if !a.ctOK(r.Header.Get("Content-Type")) {
			http.Error(w, "want application/json", http.StatusUnsupportedMediaType)
			return
		}
		var in struct {
			To     string `json:"to"`
			Amount int    `json:"amount"`
		}
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.To == "" || in.Amount <= 0 {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		a.balance -= in.Amount
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	default:
		http.NotFound(w, r)
	}
}

func ctScan(t *testing.T, app *ctAPI) *scan.Report {
	t.Helper()
	p := newTestPKI(t)
	app.balance = 1000
	srv := httptest.NewUnstartedServer(app)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Verify: balance,
		Endpoints: []scan.Endpoint{{Method: "POST", Path: "/api/transfers", JSON: []byte(`{"to":"mallory","amount":1}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// findingOn returns the finding of rule on POST path, or nil.
func findingOn(rep *scan.Report, rule, path string) *scan.Finding {
	i := slices.IndexFunc(rep.Findings, func(f scan.Finding) bool {
		return f.Rule == rule && f.Method == "POST" && strings.HasSuffix(f.URL, path)
	})
	if i < 0 {
		return nil
	}
	return &rep.Findings[i]
}

// familyOn returns the outcome of rule's family on path, "" if none.
func familyOn(rep *scan.Report, rule, path string) scan.FamilyResult {
	for _, e := range rep.Endpoints {
		if strings.HasSuffix(e.URL, path) {
			for _, f := range e.Families {
				if f.Rule == rule {
					return f
				}
			}
		}
	}
	return scan.FamilyResult{}
}

// TestContentTypeOnly: a JSON API whose only defence is a strict
// Content-Type check, and no CORS, is not exposed: every form and
// no-cors fetch is refused. The report says, at info level, that its
// protection depends on that check and on CORS staying closed: the same
// JSON request from another site, which a browser sends only after a
// preflight that allows it, was accepted. Twin: with an origin check as
// well, that request is refused and nothing is said.
func TestContentTypeOnly(t *testing.T) {
	const path = "/api/transfers"
	rep := ctScan(t, &ctAPI{ctOK: ctStrict})
	if got := forgeries(rep, path); len(got) != 0 {
		t.Errorf("strict Content-Type, no CORS: forgeries %v, want none", got)
	}
	f := findingOn(rep, scan.RulePreflightOnly, path)
	if f == nil {
		t.Fatalf("findings %v: want %s on %s", rulesOf(rep), scan.RulePreflightOnly, path)
	}
	if f.Severity != scan.SeverityInfo {
		t.Errorf("%s severity %s, want info", f.Rule, f.Severity)
	}
	for _, w := range []string{"Content-Type", "preflight", "CORS"} {
		if !strings.Contains(f.Evidence, w) {
			t.Errorf("evidence %q does not mention %s", f.Evidence, w)
		}
	}
	if f.Confidence != scan.Confirmed || f.Oracle != scan.OracleVerification {
		t.Errorf("%s: %s by %s, want confirmed by the verification", f.Rule, f.Confidence, f.Oracle)
	}
	if rep.AtLeast(scan.SeverityMedium) != 0 {
		t.Errorf("findings %v: want none at medium or above (the default --fail-on)", rulesOf(rep))
	}

	twin := ctScan(t, &ctAPI{ctOK: ctStrict, originCheck: true})
	if f := findingOn(twin, scan.RulePreflightOnly, path); f != nil {
		t.Errorf("origin-check twin: %s (%s), want none", f.Rule, f.Evidence)
	}
	if fr := familyOn(twin, scan.RulePreflightOnly, path); fr.Outcome != scan.OutcomeRefused {
		t.Errorf("origin-check twin: family %+v, want refused", fr)
	}
}

// TestContentTypeOnlyOpenCORS: the same API, but its preflight echoes
// any origin with credentials and allows content-type: any site can send
// the JSON request, and it is accepted. That is cors-credentials (high)
// on the endpoint, whose evidence says the request it opens was accepted
// and that the Content-Type check was the only defence; the info note is
// covered by it. Twin: Access-Control-Allow-Origin: * (no credentials)
// opens nothing to a credentialed request, and only the note is made.
func TestContentTypeOnlyOpenCORS(t *testing.T) {
	const path = "/api/transfers"
	rep := ctScan(t, &ctAPI{ctOK: ctStrict, cors: "reflect"})
	f := findingOn(rep, scan.RuleCORSCredentials, path)
	if f == nil {
		t.Fatalf("findings %v: want %s on POST %s", rulesOf(rep), scan.RuleCORSCredentials, path)
	}
	if f.Severity != scan.SeverityHigh {
		t.Errorf("%s severity %s, want high", f.Rule, f.Severity)
	}
	for _, w := range []string{"was accepted", "Content-Type", "only defence"} {
		if !strings.Contains(f.Evidence, w) {
			t.Errorf("evidence %q does not say %q", f.Evidence, w)
		}
	}
	if g := findingOn(rep, scan.RulePreflightOnly, path); g != nil {
		t.Errorf("%s reported besides %s: %s", g.Rule, f.Rule, g.Evidence)
	}
	if fr := familyOn(rep, scan.RulePreflightOnly, path); fr.Outcome != scan.OutcomeSkipped || !strings.Contains(fr.Reason, scan.RuleCORSCredentials) {
		t.Errorf("family %+v, want skipped, covered by %s", fr, scan.RuleCORSCredentials)
	}

	star := ctScan(t, &ctAPI{ctOK: ctStrict, cors: "star"})
	if findingOn(star, scan.RuleCORSCredentials, path) != nil || star.AtLeast(scan.SeverityMedium) != 0 {
		t.Errorf("Access-Control-Allow-Origin: * twin: findings %v, want nothing at medium or above", rulesOf(star))
	}
	if findingOn(star, scan.RulePreflightOnly, path) == nil {
		t.Errorf("Access-Control-Allow-Origin: * twin: findings %v, want %s", rulesOf(star), scan.RulePreflightOnly)
	}
}

// TestContentTypeLaxCheck: strings.Contains(ct, "json") takes
// "text/plain;application/json", which is CORS-safelisted (its essence
// is text/plain), so a no-cors fetch sends it with the JSON as is and no
// preflight: text-plain-json. Twin: strings.HasPrefix(ct,
// "application/json") takes application/jsonp too, which no page on
// another site can send without a preflight: not exposed.
func TestContentTypeLaxCheck(t *testing.T) {
	const path = "/api/transfers"
	rep := ctScan(t, &ctAPI{ctOK: ctContains})
	f := findingOn(rep, scan.RuleTextPlainJSON, path)
	if f == nil {
		t.Fatalf("Contains(ct, \"json\"): findings %v, want %s", rulesOf(rep), scan.RuleTextPlainJSON)
	}
	if !strings.Contains(f.Probe, "text/plain;application/json") || !strings.Contains(f.Reproduce, "text/plain;application/json") {
		t.Errorf("probe %q, reproduce %q: want the Content-Type text/plain;application/json", f.Probe, f.Reproduce)
	}
	if f.Severity != scan.SeverityHigh || f.Confidence != scan.Confirmed {
		t.Errorf("%s: %s, %s; want high, confirmed", f.Rule, f.Severity, f.Confidence)
	}
	twin := ctScan(t, &ctAPI{ctOK: ctPrefix})
	if got := forgeries(twin, path); len(got) != 0 {
		t.Errorf("HasPrefix(ct, \"application/json\") twin: forgeries %v, want none", got)
	}
}

// TestContentTypeAnyJSON: a handler that decodes JSON whatever the
// Content-Type (express.json({type: '*/*'}), json.NewDecoder without a
// check) is forged by a text/plain body shaped as JSON. Twin: the strict
// check (TestContentTypeOnly's API) is not.
func TestContentTypeAnyJSON(t *testing.T) {
	const path = "/api/transfers"
	rep := ctScan(t, &ctAPI{ctOK: ctAny})
	f := findingOn(rep, scan.RuleTextPlainJSON, path)
	if f == nil {
		t.Fatalf("no Content-Type check: findings %v, want %s", rulesOf(rep), scan.RuleTextPlainJSON)
	}
	if !strings.Contains(f.Probe, "text/plain") || !strings.Contains(f.Reproduce, "text/plain") {
		t.Errorf("probe %q, reproduce %q: want a text/plain request", f.Probe, f.Reproduce)
	}
	if findingOn(rep, scan.RulePreflightOnly, path) != nil {
		t.Errorf("findings %v: %s besides a forgery", rulesOf(rep), scan.RulePreflightOnly)
	}
	twin := ctScan(t, &ctAPI{ctOK: ctStrict})
	if got := forgeries(twin, path); len(got) != 0 {
		t.Errorf("strict twin: forgeries %v, want none", got)
	}
}

// A preflight that allows Origin: null only (a sandboxed iframe's) opens
// the endpoint as much as one that echoes any origin: cors-credentials,
// found by the preflight sent again from null, with the request itself
// sent from null and accepted. The twin echoes the origin with
// credentials but lists no header, so a browser refuses the JSON request:
// no cors-credentials (an echoed origin alone was a false alarm), and
// preflight-only says the endpoint rests on its Content-Type check.
func TestContentTypeOnlyCORSFromNull(t *testing.T) {
	const path = "/api/transfers"
	rep := ctScan(t, &ctAPI{ctOK: ctStrict, cors: "null"})
	f := findingOn(rep, scan.RuleCORSCredentials, path)
	if f == nil {
		t.Fatalf("findings %v: want %s on POST %s", rulesOf(rep), scan.RuleCORSCredentials, path)
	}
	if !strings.Contains(f.Probe, "Origin: null") || !strings.Contains(f.Evidence, "was accepted") {
		t.Errorf("%s: probe %q, evidence %q; want the preflight from Origin: null and the request accepted", f.Rule, f.Probe, f.Evidence)
	}

	twin := ctScan(t, &ctAPI{ctOK: ctStrict, cors: "origin-only"})
	if f := findingOn(twin, scan.RuleCORSCredentials, path); f != nil {
		t.Errorf("origin echoed, no header listed: %s (%s), want none", f.Rule, f.Evidence)
	}
	if findingOn(twin, scan.RulePreflightOnly, path) == nil {
		t.Errorf("origin echoed, no header listed: findings %v, want %s", rulesOf(twin), scan.RulePreflightOnly)
	}
}
