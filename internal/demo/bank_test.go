package demo_test

import (
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
)

// holderHeader lets these tests say who the certificate holder is without
// a TLS connection; the real wiring (Start) takes it from the gateway's
// forwarded identity.
const holderHeader = "Test-Holder"

func newTestBank(t *testing.T) (*demo.Bank, *httptest.Server) {
	t.Helper()
	bank := demo.NewBank(demo.BankOptions{
		CertificateHolder: func(r *http.Request) (string, bool) {
			h := r.Header.Get(holderHeader)
			return h, h != ""
		},
	})
	srv := httptest.NewServer(bank)
	t.Cleanup(srv.Close)
	return bank, srv
}

type req struct {
	method, path string
	holder       string
	cookie       string
	contentType  string
	body         string
}

func do(t *testing.T, srv *httptest.Server, r req) (*http.Response, string) {
	t.Helper()
	hr, err := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	if r.holder != "" {
		hr.Header.Set(holderHeader, r.holder)
	}
	if r.cookie != "" {
		hr.AddCookie(&http.Cookie{Name: demo.SessionCookie, Value: r.cookie})
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func login(t *testing.T, srv *httptest.Server, user string) string {
	t.Helper()
	resp, _ := do(t, srv, req{method: "POST", path: "/login", contentType: "application/x-www-form-urlencoded",
		body: url.Values{"username": {user}, "password": {demo.Password}}.Encode()})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: got status %d, want 303", user, resp.StatusCode)
	}
	for _, c := range resp.Cookies() {
		if c.Name == demo.SessionCookie {
			return c.Value
		}
	}
	t.Fatalf("login %s: no session cookie", user)
	return ""
}

func multipartBody(t *testing.T, fields map[string]string) (string, string) {
	var sb strings.Builder
	mw := multipart.NewWriter(&sb)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	mw.Close()
	return sb.String(), mw.FormDataContentType()
}

func TestBankTransfers(t *testing.T) {
	form := "application/x-www-form-urlencoded"
	mp, mpType := multipartBody(t, map[string]string{"to": "mallory", "amount": "100"})
	tests := []struct {
		name       string
		req        req
		session    string // log in as this user first; the cookie is sent
		wantStatus int
		wantAlice  int64
		wantBob    int64
		wantMal    int64
	}{
		{"form by certificate holder", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=mallory&amount=100"}, "", 200, 900, 1000, 110},
		{"multipart form by certificate holder", req{method: "POST", path: "/transfer", holder: "alice", contentType: mpType, body: mp}, "", 200, 900, 1000, 110},
		{"form by session user beats certificate", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=mallory&amount=100"}, "bob", 200, 1000, 900, 110},
		{"form with neither session nor certificate", req{method: "POST", path: "/transfer", contentType: form, body: "to=mallory&amount=100"}, "", 401, 1000, 1000, 10},
		{"form amount zero", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=mallory&amount=0"}, "", 400, 1000, 1000, 10},
		{"form amount negative", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=mallory&amount=-5"}, "", 400, 1000, 1000, 10},
		{"form amount too large", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=mallory&amount=1000001"}, "", 400, 1000, 1000, 10},
		{"form amount over balance", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=mallory&amount=1001"}, "", 400, 1000, 1000, 10},
		{"form unknown recipient", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=eve&amount=1"}, "", 400, 1000, 1000, 10},
		{"form to self", req{method: "POST", path: "/transfer", holder: "alice", contentType: form, body: "to=alice&amount=1"}, "", 400, 1000, 1000, 10},
		{"form by unknown certificate holder", req{method: "POST", path: "/transfer", holder: "eve", contentType: form, body: "to=mallory&amount=1"}, "", 400, 1000, 1000, 10},
		{"GET transfer changes nothing", req{method: "GET", path: "/transfer?to=mallory&amount=100", holder: "alice"}, "", 405, 1000, 1000, 10},
		{"api JSON", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: "application/json", body: `{"to":"bob","amount":5}`}, "", 201, 995, 1005, 10},
		{"api text/plain JSON (naive on purpose)", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: "text/plain", body: demo.TextPlainBody + "\r\n"}, "", 201, 900, 1000, 110},
		{"api no content type", req{method: "POST", path: "/api/transfers", holder: "alice", body: `{"to":"bob","amount":5}`}, "", 201, 995, 1005, 10},
		{"api ignores the session", req{method: "POST", path: "/api/transfers", contentType: "application/json", body: `{"to":"bob","amount":5}`}, "mallory", 401, 1000, 1000, 10},
		{"api form content type refused", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: form, body: `{"to":"bob","amount":5}`}, "", 415, 1000, 1000, 10},
		{"api amount as string", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: "application/json", body: `{"to":"bob","amount":"5"}`}, "", 400, 1000, 1000, 10},
		{"api amount fraction", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: "application/json", body: `{"to":"bob","amount":5.5}`}, "", 400, 1000, 1000, 10},
		{"api missing amount", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: "application/json", body: `{"to":"bob"}`}, "", 400, 1000, 1000, 10},
		{"api two objects", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: "application/json", body: `{"to":"bob","amount":5}{"to":"bob","amount":5}`}, "", 400, 1000, 1000, 10},
		{"api not JSON", req{method: "POST", path: "/api/transfers", holder: "alice", contentType: "application/json", body: `to=bob`}, "", 400, 1000, 1000, 10},
		{"api GET changes nothing", req{method: "GET", path: "/api/transfers", holder: "alice"}, "", 405, 1000, 1000, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bank, srv := newTestBank(t)
			r := tt.req
			if tt.session != "" {
				r.cookie = login(t, srv, tt.session)
			}
			resp, body := do(t, srv, r)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got status %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			got := bank.Balances()
			if got["alice"] != tt.wantAlice || got["bob"] != tt.wantBob || got["mallory"] != tt.wantMal {
				t.Errorf("got balances %v, want alice %d bob %d mallory %d", got, tt.wantAlice, tt.wantBob, tt.wantMal)
			}
		})
	}
}

func TestBankLogin(t *testing.T) {
	tests := []struct {
		name       string
		user, pass string
		wantStatus int
	}{
		{"right password", "mallory", demo.Password, 303},
		{"wrong password", "mallory", "nope", 401},
		{"unknown user", "eve", demo.Password, 401},
		{"empty", "", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bank, srv := newTestBank(t)
			resp, _ := do(t, srv, req{method: "POST", path: "/login", contentType: "application/x-www-form-urlencoded",
				body: url.Values{"username": {tt.user}, "password": {tt.pass}}.Encode()})
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("got status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			wantLogins := 0
			if tt.wantStatus == 303 {
				wantLogins = 1
			}
			if got := bank.Logins()[tt.user]; got != wantLogins {
				t.Errorf("got %d logins, want %d", got, wantLogins)
			}
		})
	}
}

func TestBankSessionLifecycle(t *testing.T) {
	_, srv := newTestBank(t)
	sid := login(t, srv, "bob")
	_, page := do(t, srv, req{method: "GET", path: "/", cookie: sid, holder: "alice"})
	if !strings.Contains(page, `<b id="user">bob</b>`) {
		t.Errorf("page does not act for bob's session:\n%s", page)
	}
	// Logging in again replaces the old session.
	sid2 := login2(t, srv, "alice", sid)
	_, page = do(t, srv, req{method: "GET", path: "/", cookie: sid})
	if strings.Contains(page, `id="user"`) {
		t.Errorf("old session still valid after a new login")
	}
	resp, _ := do(t, srv, req{method: "POST", path: "/logout", cookie: sid2})
	if resp.StatusCode != http.StatusSeeOther {
		t.Errorf("logout: got status %d, want 303", resp.StatusCode)
	}
	_, page = do(t, srv, req{method: "GET", path: "/", cookie: sid2})
	if strings.Contains(page, `id="user"`) {
		t.Errorf("session still valid after logout")
	}
}

func login2(t *testing.T, srv *httptest.Server, user, oldSession string) string {
	t.Helper()
	resp, _ := do(t, srv, req{method: "POST", path: "/login", cookie: oldSession, contentType: "application/x-www-form-urlencoded",
		body: url.Values{"username": {user}, "password": {demo.Password}}.Encode()})
	for _, c := range resp.Cookies() {
		if c.Name == demo.SessionCookie {
			return c.Value
		}
	}
	t.Fatalf("login %s: no session cookie", user)
	return ""
}

func TestBankPage(t *testing.T) {
	_, srv := newTestBank(t)
	hr, _ := http.NewRequest("GET", srv.URL+"/", nil)
	hr.Header.Set(holderHeader, "alice")
	hr.Header.Set(demo.TokenHeader, `tok"<en>`)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	page := string(b)
	for _, want := range []string{
		`<b id="user">alice</b>`,
		`<b id="balance">1000</b>`,
		`name="csrf_token" value="tok&#34;&lt;en&gt;"`,
		`<code>demo</code>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if got := resp.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("got Cache-Control %q, want no-store", got)
	}
}

func TestBankEscapesMessages(t *testing.T) {
	_, srv := newTestBank(t)
	_, page := do(t, srv, req{method: "POST", path: "/transfer", holder: "alice", contentType: "application/x-www-form-urlencoded",
		body: url.Values{"to": {"<script>x</script>"}, "amount": {"1"}}.Encode()})
	if strings.Contains(page, "<script>x") {
		t.Errorf("page reflects markup unescaped:\n%s", page)
	}
}

func TestBankAPIs(t *testing.T) {
	_, srv := newTestBank(t)
	resp, body := do(t, srv, req{method: "GET", path: "/api/balance", holder: "alice"})
	var bal struct {
		Account string
		Balance int64
	}
	if err := json.Unmarshal([]byte(body), &bal); err != nil || resp.StatusCode != 200 {
		t.Fatalf("balance: status %d, body %s, err %v", resp.StatusCode, body, err)
	}
	if bal.Account != "alice" || bal.Balance != 1000 {
		t.Errorf("got %+v, want alice 1000", bal)
	}
	if resp, _ := do(t, srv, req{method: "GET", path: "/api/balance"}); resp.StatusCode != 401 {
		t.Errorf("balance without certificate: got status %d, want 401", resp.StatusCode)
	}
	if resp, _ := do(t, srv, req{method: "GET", path: "/api/balance", holder: "eve"}); resp.StatusCode != 403 {
		t.Errorf("balance of unknown holder: got status %d, want 403", resp.StatusCode)
	}
	_, body = do(t, srv, req{method: "GET", path: "/api/accounts"})
	var acc struct {
		Balances map[string]int64
		Logins   map[string]int
	}
	if err := json.Unmarshal([]byte(body), &acc); err != nil {
		t.Fatal(err)
	}
	if acc.Balances["mallory"] != 10 || len(acc.Balances) != 3 {
		t.Errorf("got balances %v, want 3 accounts with mallory 10", acc.Balances)
	}
}

func TestTransferAtomic(t *testing.T) {
	bank := demo.NewBank(demo.BankOptions{})
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				bank.Transfer("alice", "bob", 1)
				bank.Transfer("bob", "alice", 1)
				bank.Transfer("mallory", "alice", 3)
			}
		})
	}
	wg.Wait()
	var total int64
	for _, b := range bank.Balances() {
		if b < 0 {
			t.Errorf("negative balance: %v", bank.Balances())
		}
		total += b
	}
	if total != 2010 {
		t.Errorf("got total %d, want 2010 (money created or lost)", total)
	}
}

func TestTransferErrors(t *testing.T) {
	tests := []struct {
		name       string
		from, to   string
		amount     int64
		wantReason string
	}{
		{"ok", "alice", "bob", 1, ""},
		{"zero", "alice", "bob", 0, demo.ReasonInvalidAmount},
		{"too much", "alice", "bob", demo.MaxAmount + 1, demo.ReasonInvalidAmount},
		{"unknown sender", "eve", "bob", 1, demo.ReasonUnknownAccount},
		{"unknown recipient", "alice", "eve", 1, demo.ReasonUnknownAccount},
		{"same", "alice", "alice", 1, demo.ReasonSameAccount},
		{"overdraft", "mallory", "alice", 11, demo.ReasonInsufficientFunds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := demo.NewBank(demo.BankOptions{}).Transfer(tt.from, tt.to, tt.amount)
			var te *demo.TransferError
			got := ""
			if errors.As(err, &te) {
				got = te.Reason
			} else if err != nil {
				t.Fatalf("got untyped error %v", err)
			}
			if got != tt.wantReason {
				t.Errorf("got reason %q, want %q", got, tt.wantReason)
			}
		})
	}
}
