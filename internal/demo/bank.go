package demo

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"sync"

	"github.com/forgeproof/forgeproof/internal/problem"
	"github.com/forgeproof/forgeproof/mtls"
)

// SessionCookie is the name of the bank's session cookie. A gateway that
// binds CSRF tokens to the session binds them to this cookie.
const SessionCookie = "session"

// TokenHeader is the request header in which the gateway hands the bank a
// fresh CSRF token, and TokenField the form field the bank embeds it in.
const (
	TokenHeader = "Forgeproof-Csrf-Token"
	TokenField  = "csrf_token"
)

// maxBody bounds every request body the bank reads.
const maxBody = 64 << 10

// maxSessions bounds the sessions the bank remembers.
const maxSessions = 10000

// BankOptions configures a Bank. The zero value is usable.
type BankOptions struct {
	// CertificateHolder names the account of the client whose certificate
	// was verified for r. If nil, the bank takes the CommonName of the
	// mtls.Identity in r's context (put there by the mtls middleware or by
	// forwarded-identity middleware in front of the bank).
	CertificateHolder func(r *http.Request) (account string, ok bool)

	// Banner, if set, is shown at the top of the page (Start uses it to say
	// whether CSRF protection is on).
	Banner string

	// Links are shown on the page as links to the attacker sites.
	Links []Link

	// ClientP12 and CAFile, if set, are the paths of the client
	// certificate (PKCS#12, empty password) and the CA certificate that a
	// page served without a client certificate tells the visitor to
	// import.
	ClientP12, CAFile string
}

// A Link is a named URL shown on the bank's page.
type Link struct {
	Name, URL string
}

// Bank is the demo application: a tiny bank that, like many real
// applications, does no CSRF checking of its own. It trusts whoever sits in
// front of it (the gateway) to refuse forged requests, and it trusts the
// certificate holder it is told about. Do not copy it into real code.
//
// Its routes:
//
//	GET  /               balance, transfer form (with the gateway's token), login form
//	POST /login          form username, password: starts a cookie session
//	POST /logout         ends the session
//	POST /transfer       form to, amount: pays from the session's user, else the certificate holder
//	POST /api/transfers  JSON {"to","amount"} (also sent as text/plain): pays from the certificate holder
//	GET  /api/balance    the certificate holder's balance, JSON
//	GET  /api/accounts   every balance and login count, JSON (the tests' oracle)
//
// No GET changes state. A Bank is safe for concurrent use.
type Bank struct {
	opts   BankOptions
	ledger *ledger
	mux    *http.ServeMux

	mu       sync.Mutex
	sessions map[string]string // session ID → account
}

// NewBank returns a bank with the demo accounts at their opening balances.
func NewBank(opts BankOptions) *Bank {
	b := &Bank{opts: opts, ledger: newLedger(), mux: http.NewServeMux(), sessions: map[string]string{}}
	b.mux.HandleFunc("GET /{$}", b.home)
	b.mux.HandleFunc("POST /login", b.login)
	b.mux.HandleFunc("POST /logout", b.logout)
	b.mux.HandleFunc("POST /transfer", b.transferForm)
	b.mux.HandleFunc("POST /api/transfers", b.transferAPI)
	b.mux.HandleFunc("GET /api/balance", b.balanceAPI)
	b.mux.HandleFunc("GET /api/accounts", b.accountsAPI)
	return b
}

// ServeHTTP serves the bank's routes.
func (b *Bank) ServeHTTP(w http.ResponseWriter, r *http.Request) { b.mux.ServeHTTP(w, r) }

// Balances returns a copy of every account's balance.
func (b *Bank) Balances() map[string]int64 {
	bal, _ := b.ledger.snapshot()
	return bal
}

// Logins returns how many times each account has logged in (a login CSRF
// shows up here).
func (b *Bank) Logins() map[string]int {
	_, logins := b.ledger.snapshot()
	return logins
}

// Transfer moves amount between two accounts atomically. It returns a
// *TransferError when the bank refuses.
func (b *Bank) Transfer(from, to string, amount int64) error {
	_, err := b.ledger.transfer(from, to, amount)
	return err
}

// holder returns the certificate holder's account name, if any.
func (b *Bank) holder(r *http.Request) (string, bool) {
	if b.opts.CertificateHolder != nil {
		return b.opts.CertificateHolder(r)
	}
	id, ok := mtls.IdentityFromContext(r.Context())
	if !ok || id.CommonName == "" {
		return "", false
	}
	return id.CommonName, true
}

// sessionUser returns the account of r's session cookie, if it is valid.
func (b *Bank) sessionUser(r *http.Request) (string, bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	u, ok := b.sessions[c.Value]
	return u, ok
}

// user is who a browser request acts for: the session's user, else the
// certificate holder. via says which.
func (b *Bank) user(r *http.Request) (account, via string, ok bool) {
	if u, ok := b.sessionUser(r); ok {
		return u, "session", true
	}
	if u, ok := b.holder(r); ok {
		return u, "certificate", true
	}
	return "", "", false
}

func (b *Bank) home(w http.ResponseWriter, r *http.Request) {
	b.render(w, r, http.StatusOK, "")
}

func (b *Bank) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := parseForm(r); err != nil {
		b.render(w, r, http.StatusBadRequest, "could not read the form")
		return
	}
	user, pass := r.PostFormValue("username"), r.PostFormValue("password")
	if !b.ledger.exists(user) || subtle.ConstantTimeCompare([]byte(pass), []byte(Password)) != 1 {
		b.render(w, r, http.StatusUnauthorized, "wrong username or password")
		return
	}
	var raw [32]byte
	rand.Read(raw[:]) // never fails (crypto/rand panics rather than return short)
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	b.mu.Lock()
	if c, err := r.Cookie(SessionCookie); err == nil {
		delete(b.sessions, c.Value)
	}
	if len(b.sessions) >= maxSessions {
		// Bound the memory a client that logs in without end can take:
		// forget an arbitrary session (map order is random).
		for k := range b.sessions {
			delete(b.sessions, k)
			break
		}
	}
	b.sessions[id] = user
	b.mu.Unlock()
	b.ledger.recordLogin(user)
	// Deliberately naive, like many real applications: no SameSite
	// attribute, so browsers apply their defaults (Chromium's Lax with the
	// two-minute Lax+POST window). The gateway, not the cookie, stops CSRF.
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: id, Path: "/", HttpOnly: true, Secure: true})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (b *Bank) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		b.mu.Lock()
		delete(b.sessions, c.Value)
		b.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: true})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (b *Bank) transferForm(w http.ResponseWriter, r *http.Request) {
	from, _, ok := b.user(r)
	if !ok {
		b.render(w, r, http.StatusUnauthorized, "log in or present a client certificate first")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := parseForm(r); err != nil {
		b.render(w, r, http.StatusBadRequest, "could not read the form")
		return
	}
	amount, err := parseAmount(r.PostFormValue("amount"))
	if err == nil {
		_, err = b.ledger.transfer(from, r.PostFormValue("to"), amount)
	}
	if err != nil {
		b.render(w, r, http.StatusBadRequest, err.Error())
		return
	}
	b.render(w, r, http.StatusOK, "sent "+r.PostFormValue("amount")+" to "+r.PostFormValue("to"))
}

// parseForm parses an urlencoded or multipart body into r.PostForm.
func parseForm(r *http.Request) error {
	err := r.ParseMultipartForm(maxBody)
	if errors.Is(err, http.ErrNotMultipart) {
		return nil // ParseMultipartForm has parsed the urlencoded body
	}
	return err
}

// transferRequest is the body of POST /api/transfers.
type transferRequest struct {
	To     string `json:"to"`
	Amount int64  `json:"amount"`
}

// parseTransferRequest reads a JSON transfer request. Unknown fields are
// ignored, as most frameworks do: that is what lets a text/plain form
// smuggle one in ({"to":…,"amount":…,"x":"="}).
func parseTransferRequest(body io.Reader) (transferRequest, error) {
	var req transferRequest
	dec := json.NewDecoder(body)
	if err := dec.Decode(&req); err != nil {
		return req, err
	}
	if dec.More() {
		return req, errors.New("trailing data after the JSON object")
	}
	return req, nil
}

func (b *Bank) transferAPI(w http.ResponseWriter, r *http.Request) {
	from, ok := b.holder(r)
	if !ok {
		refuse(w, r, http.StatusUnauthorized, "certificate-required", "a client certificate is required", "")
		return
	}
	// Deliberately naive, as many frameworks are: a text/plain body is
	// parsed as JSON too. That is what makes a cross-site text/plain form
	// (which needs no CORS preflight) a real threat to this endpoint.
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && mt != "text/plain") {
			refuse(w, r, http.StatusUnsupportedMediaType, "unsupported-media-type", "send the transfer as JSON", "")
			return
		}
	}
	req, err := parseTransferRequest(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		refuse(w, r, http.StatusBadRequest, "invalid-json", "the body is not a JSON transfer", err.Error())
		return
	}
	balance, err := b.ledger.transfer(from, req.To, req.Amount)
	if err != nil {
		var te *TransferError
		errors.As(err, &te)
		refuse(w, r, http.StatusBadRequest, te.Reason, "transfer refused", te.Msg)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"from": from, "to": req.To, "amount": req.Amount, "balance": balance})
}

func (b *Bank) balanceAPI(w http.ResponseWriter, r *http.Request) {
	who, ok := b.holder(r)
	if !ok {
		refuse(w, r, http.StatusUnauthorized, "certificate-required", "a client certificate is required", "")
		return
	}
	bal, ok := b.ledger.balance(who)
	if !ok {
		refuse(w, r, http.StatusForbidden, ReasonUnknownAccount, "no account for this certificate", "")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"account": who, "balance": bal})
}

func (b *Bank) accountsAPI(w http.ResponseWriter, r *http.Request) {
	bal, logins := b.ledger.snapshot()
	writeJSON(w, http.StatusOK, map[string]any{"balances": bal, "logins": logins})
}

func refuse(w http.ResponseWriter, r *http.Request, status int, reason, title, detail string) {
	problem.Write(w, r, problem.Details{Status: status, Reason: reason, Title: title, Detail: detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v) // maps of strings and numbers always encode
}
