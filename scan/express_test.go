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
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// expressApp mimics an Express 4 service behind mTLS, as found in the
// field: express.json() and express.urlencoded() both mounted (so a JSON
// API also parses form bodies, and a text/plain body leaves req.body
// empty), method-override('_method') (which reads the override from the
// query string only, never from the body), cors({origin: true,
// credentials: true}) on /api (the Origin echoed with credentials), and
// express-session's connect.sid cookie. No CSRF defence. The twins turn
// one of those off: jsonOnly (express.json() alone on /api), noOverride (no
// method-override), noCORS (no cors()).
type expressApp struct {
	jsonOnly, noOverride, noCORS bool

	mu      sync.Mutex
	balance int
	items   int
}

func (a *expressApp) body(r *http.Request) map[string]string {
	out := map[string]string{}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	switch ct {
	case "application/json": // express.json(): application/json only
		var m map[string]any
		if json.Unmarshal(b, &m) == nil {
			for k, v := range m {
				out[k] = fmt.Sprint(v)
			}
		}
	case "application/x-www-form-urlencoded": // express.urlencoded()
		if a.jsonOnly && strings.HasPrefix(r.URL.Path, "/api/") {
			break // the API router has express.json() only
		}
		q, _ := url.ParseQuery(string(b))
		for k := range q {
			out[k] = q.Get(k)
		}
	}
	return out // text/plain, multipart: req.body stays {}
}

func (a *expressApp) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Powered-By", "Express")
	if strings.HasPrefix(r.URL.Path, "/api/") && !a.noCORS {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
	}
	method := r.Method
	if method == "POST" && !a.noOverride { // methodOverride('_method'): ?_method= only
		if m := r.URL.Query().Get("_method"); m != "" {
			method = strings.ToUpper(m)
		}
	}
	fields := a.body(r)
	if method == "POST" && r.URL.Path == "/login" {
		if fields["password"] != "demo" {
			http.Error(w, "bad", http.StatusForbidden)
			return
		}
		http.SetCookie(w, &http.Cookie{Name: "connect.sid", Value: "s:alice", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	if c, err := r.Cookie("connect.sid"); err != nil || c.Value != "s:alice" {
		http.Error(w, "login first", http.StatusUnauthorized)
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case method == "GET" && r.URL.Path == "/":
		fmt.Fprintf(w, `<!doctype html><html><body><p>Balance <span id="b">%d</span></p><script>fetch("/api/balance")</script></body></html>`, a.balance)
	case method == "GET" && r.URL.Path == "/api/balance":
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"balance":%d,"items":%d}`, a.balance, a.items)
	case method == "POST" && r.URL.Path == "/api/transfers":
		n, _ := strconv.Atoi(fields["amount"])
		if fields["to"] == "" || n <= 0 {
			http.Error(w, "bad fields", http.StatusBadRequest)
			return
		}
		a.balance -= n
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	case method == "PUT" && r.URL.Path == "/api/items":
		a.items++
		a.balance-- // so that the verification sees it
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	default:
		http.Error(w, "Cannot "+r.Method+" "+r.URL.Path, http.StatusNotFound)
	}
}

func startExpress(t *testing.T, p *testPKI, app *expressApp) *httptest.Server {
	t.Helper()
	app.balance = 1000
	srv := httptest.NewUnstartedServer(app)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the preflights' failed handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func expressScan(t *testing.T, app *expressApp, verify *scan.Verification, eps ...scan.Endpoint) *scan.Report {
	t.Helper()
	p := newTestPKI(t)
	srv := startExpress(t, p, app)
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: srv.URL + "/", TLS: p.clientTLS(), Rate: 1000, Verify: verify, Endpoints: eps, Discover: true,
		Login: &scan.Login{Path: "/login", Form: map[string]string{"username": "alice", "password": "demo"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func findingAt(rep *scan.Report, rule, path string) bool {
	return slices.ContainsFunc(rep.Findings, func(f scan.Finding) bool {
		return f.Rule == rule && strings.HasSuffix(f.URL, path)
	})
}

// TestJSONAPIAcceptsFormFields: a JSON API that also parses urlencoded
// bodies (Express with express.urlencoded) is forged by a plain
// cross-site form whose fields are the JSON's members, although a
// text/plain body is refused. Twin: with express.json() alone, no form
// body reaches the handler and nothing is reported.
func TestJSONAPIAcceptsFormFields(t *testing.T) {
	ep := scan.Endpoint{Method: "POST", Path: "/api/transfers", JSON: []byte(`{"to":"mallory","amount":1}`)}
	rep := expressScan(t, &expressApp{}, balance, ep)
	if !findingAt(rep, scan.RuleCrossSiteForgery, "/api/transfers") {
		t.Errorf("findings %v: want %s on /api/transfers (a cross-site urlencoded form is accepted)", rulesOf(rep), scan.RuleCrossSiteForgery)
	}
	if findingAt(rep, scan.RuleTextPlainJSON, "/api/transfers") {
		t.Errorf("findings %v: %s, but a text/plain body leaves req.body empty", rulesOf(rep), scan.RuleTextPlainJSON)
	}
	if rep := expressScan(t, &expressApp{jsonOnly: true}, balance, ep); findingAt(rep, scan.RuleCrossSiteForgery, "/api/transfers") {
		t.Errorf("JSON-only twin: findings %v, want no %s", rulesOf(rep), scan.RuleCrossSiteForgery)
	}
}

// TestMethodOverrideInQuery: Express's method-override('_method') reads
// the override from the query string: a cross-site form POST to
// ?_method=PUT reaches the PUT handler. Twin: without method-override
// it does not, and nothing is reported.
func TestMethodOverrideInQuery(t *testing.T) {
	ep := scan.Endpoint{Method: "PUT", Path: "/api/items", Form: map[string]string{"name": "x"}}
	if rep := expressScan(t, &expressApp{}, balance, ep); !findingAt(rep, scan.RuleMethodOverride, "/api/items") {
		t.Errorf("findings %v: want %s on /api/items", rulesOf(rep), scan.RuleMethodOverride)
	}
	if rep := expressScan(t, &expressApp{noOverride: true}, balance, ep); findingAt(rep, scan.RuleMethodOverride, "/api/items") {
		t.Errorf("no-override twin: findings %v, want no %s", rulesOf(rep), scan.RuleMethodOverride)
	}
}

// TestCORSOnDiscoveredVerification: without --verify-url, the JSON GET
// the scanner discovers and reads as the oracle is checked for CORS as a
// given verification URL is. Twin: without cors() nothing is reported.
func TestCORSOnDiscoveredVerification(t *testing.T) {
	ep := scan.Endpoint{Method: "POST", Path: "/api/transfers", JSON: []byte(`{"to":"mallory","amount":1}`)}
	if rep := expressScan(t, &expressApp{}, nil, ep); !findingAt(rep, scan.RuleCORSCredentials, "/api/balance") {
		t.Errorf("findings %v: want %s on /api/balance", rulesOf(rep), scan.RuleCORSCredentials)
	}
	if rep := expressScan(t, &expressApp{noCORS: true}, nil, ep); findingAt(rep, scan.RuleCORSCredentials, "/api/balance") {
		t.Errorf("no-CORS twin: findings %v, want no %s", rulesOf(rep), scan.RuleCORSCredentials)
	}
}
