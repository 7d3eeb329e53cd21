package scan_test

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// bankOptions choose the (deliberately broken or correct) defences of a
// small test bank: GET / (the transfer form; sets the session), POST
// /transfer (form: to, amount, csrf_token), POST /api/transfers (JSON),
// GET /api/balance.
type bankOptions struct {
	// origin is the origin check on POSTs:
	//   "full"       Sec-Fetch-Site, then the full Origin (correct)
	//   "none"       no check
	//   "host-only"  Go's http.CrossOriginProtection (compares the Origin host only)
	//   "fetch-only" refuses cross-site/same-site Sec-Fetch-Site, allows when absent
	//   "same-site"  refuses only Sec-Fetch-Site: cross-site
	//   "null-ok"    compares Origin only, and lets "null" through
	origin string
	// token: "none", "unbound" (any token the bank issued), "bound" (HMAC
	// of the session), "unchecked" (bound tokens in the form, never checked)
	token string
	// cookie is the session cookie's attributes after the value.
	cookie     string
	cookieName string
	// corsReflect echoes any Origin with credentials.
	corsReflect bool
	// getTransfer also performs transfers on GET /transfer;
	// getChecksSite makes that GET refuse Sec-Fetch-Site: cross-site.
	getTransfer, getChecksSite bool
	// put serves PUT /transfer, which (like many frameworks' checks) is
	// not origin-checked: only a form POST is. methodOverride turns a POST
	// with _method=PUT into that PUT.
	put, methodOverride bool
	// textPlainJSON parses /api/transfers bodies whatever the Content-Type.
	textPlainJSON bool
	// pageNeedsCert refuses GET / without a verified client certificate.
	pageNeedsCert bool
	// certOnly keeps the account by client certificate: the session
	// cookie is set but not needed.
	certOnly bool
}

const goodCookie = "Path=/; Secure; HttpOnly; SameSite=Lax"

type bank struct {
	opts bankOptions
	key  []byte

	mu       sync.Mutex
	balances map[string]int
	issued   map[string]bool
}

func newBank(opts bankOptions) *bank {
	if opts.cookieName == "" {
		opts.cookieName = "__Host-session"
	}
	if opts.cookie == "" {
		opts.cookie = goodCookie
	}
	key := make([]byte, 32)
	rand.Read(key)
	return &bank{opts: opts, key: key, balances: map[string]int{}, issued: map[string]bool{}}
}

// start serves the bank over mTLS (certificates verified when given) on
// loopback.
func (b *bank) start(t testing.TB, p *testPKI) *httptest.Server {
	srv := httptest.NewUnstartedServer(b)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientCAs:    p.pool,
		ClientAuth:   tls.VerifyClientCertIfGiven,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// startStrict serves the bank on a listener that requires a client
// certificate in the handshake.
func (b *bank) startStrict(t testing.TB, p *testPKI) *httptest.Server {
	srv := httptest.NewUnstartedServer(b)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{p.server},
		ClientCAs:    p.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the handshake failures are the point
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func (b *bank) session(w http.ResponseWriter, r *http.Request, create bool) (string, bool) {
	if b.opts.certOnly && r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		id := "cert:" + r.TLS.PeerCertificates[0].Subject.CommonName
		b.mu.Lock()
		if _, ok := b.balances[id]; !ok {
			b.balances[id] = 100
		}
		b.mu.Unlock()
		return id, true
	}
	if c, err := r.Cookie(b.opts.cookieName); err == nil {
		b.mu.Lock()
		_, ok := b.balances[c.Value]
		b.mu.Unlock()
		if ok {
			return c.Value, true
		}
	}
	if !create {
		return "", false
	}
	id := randomString()
	b.mu.Lock()
	b.balances[id] = 100
	b.mu.Unlock()
	w.Header().Add("Set-Cookie", b.opts.cookieName+"="+id+"; "+b.opts.cookie)
	return id, true
}

func randomString() string {
	buf := make([]byte, 16)
	rand.Read(buf)
	return base64.RawURLEncoding.EncodeToString(buf)
}

func (b *bank) newToken(session string) string {
	switch b.opts.token {
	case "bound", "unchecked":
		m := hmac.New(sha256.New, b.key)
		m.Write([]byte(session))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	case "unbound":
		tok := randomString()
		b.mu.Lock()
		b.issued[tok] = true
		b.mu.Unlock()
		return tok
	}
	return ""
}

func (b *bank) tokenOK(session, tok string) bool {
	switch b.opts.token {
	case "bound":
		return tok != "" && hmac.Equal([]byte(tok), []byte(b.newToken(session)))
	case "unbound":
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.issued[tok]
	}
	return true
}

// originOK is the bank's origin check.
func (b *bank) originOK(r *http.Request) bool {
	self := "https://" + r.Host
	site, o := r.Header.Get("Sec-Fetch-Site"), r.Header.Get("Origin")
	switch b.opts.origin {
	case "none":
		return true
	case "host-only":
		return http.NewCrossOriginProtection().Check(r) == nil
	case "fetch-only":
		return site != "cross-site" && site != "same-site"
	case "same-site":
		return site != "cross-site"
	case "null-ok":
		return o == "" || o == self || o == "null"
	}
	if site != "" {
		return site == "same-origin" || site == "none"
	}
	return o == "" || o == self
}

func (b *bank) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if b.opts.corsReflect {
		if o := r.Header.Get("Origin"); o != "" {
			w.Header().Set("Access-Control-Allow-Origin", o)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "content-type")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	if b.opts.methodOverride && r.Method == http.MethodPost && r.PostFormValue("_method") == http.MethodPut {
		r.Method = http.MethodPut
	}
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		if b.opts.pageNeedsCert && (r.TLS == nil || len(r.TLS.VerifiedChains) == 0) {
			http.Error(w, "client certificate required", http.StatusUnauthorized)
			return
		}
		id, _ := b.session(w, r, true)
		tok := ""
		if b.opts.token != "none" && b.opts.token != "" {
			tok = `<input type="hidden" name="csrf_token" value="` + html.EscapeString(b.newToken(id)) + `">`
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>Bank</title><h1>Transfer</h1>
<form method="post" action="/transfer">%s
<input name="to" value="mallory"><input type="number" name="amount" value="1"><button>Send</button></form>`, tok)
	case r.URL.Path == "/login" && r.Method == http.MethodPost:
		if !b.originOK(r) {
			http.Error(w, "cross-origin request refused", http.StatusForbidden)
			return
		}
		if r.PostFormValue("user") != "alice" || r.PostFormValue("password") != "wonderland" {
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		id := randomString()
		b.mu.Lock()
		b.balances[id] = 100
		b.mu.Unlock()
		w.Header().Add("Set-Cookie", b.opts.cookieName+"="+id+"; "+b.opts.cookie)
		http.Redirect(w, r, "/", http.StatusSeeOther)
	case r.URL.Path == "/api/balance" && r.Method == http.MethodGet:
		id, ok := b.session(w, r, false)
		if !ok {
			http.Error(w, "no session", http.StatusUnauthorized)
			return
		}
		b.mu.Lock()
		bal := b.balances[id]
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"balance": bal})
	case r.URL.Path == "/transfer" && (r.Method == http.MethodPost || r.Method == http.MethodGet && b.opts.getTransfer || r.Method == http.MethodPut && b.opts.put):
		b.transfer(w, r, false)
	case r.URL.Path == "/api/transfers" && r.Method == http.MethodPost:
		b.transfer(w, r, true)
	case r.URL.Path == "/transfer" || r.URL.Path == "/api/transfers":
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

func (b *bank) transfer(w http.ResponseWriter, r *http.Request, isJSON bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	id, ok := b.session(w, r, false)
	if !ok {
		http.Error(w, "no session", http.StatusUnauthorized)
		return
	}
	if r.Method == http.MethodPost && !b.originOK(r) ||
		r.Method == http.MethodGet && b.opts.getChecksSite && r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		http.Error(w, "cross-origin request refused", http.StatusForbidden)
		return
	}
	var amount int
	if isJSON {
		ct := r.Header.Get("Content-Type")
		if !b.opts.textPlainJSON && !strings.HasPrefix(ct, "application/json") {
			http.Error(w, "want JSON", http.StatusUnsupportedMediaType)
			return
		}
		var body struct {
			To     string `json:"to"`
			Amount int    `json:"amount"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, "bad JSON", http.StatusBadRequest)
			return
		}
		amount = body.Amount
	} else {
		if r.Method != http.MethodGet && !b.tokenOK(id, r.PostFormValue("csrf_token")) {
			http.Error(w, "invalid token", http.StatusForbidden)
			return
		}
		a, err := strconv.Atoi(r.FormValue("amount"))
		if err != nil {
			http.Error(w, "bad amount", http.StatusBadRequest)
			return
		}
		amount = a
	}
	if ok {
		b.mu.Lock()
		b.balances[id] -= amount
		b.mu.Unlock()
	}
	if isJSON {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintln(w, `{"status":"ok"}`)
		return
	}
	http.Redirect(w, r, "/", http.StatusSeeOther)
}
