package demo_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/demo"
)

// FuzzTransferAPI sends arbitrary bodies and content types to
// POST /api/transfers and checks the bank's invariants: no panic, no money
// created or lost, no negative balance, and money moves exactly when the
// answer is 201, by the amount it reports.
func FuzzTransferAPI(f *testing.F) {
	for _, seed := range []struct{ ct, body string }{
		{"application/json", `{"to":"bob","amount":5}`},
		{"text/plain", demo.TextPlainBody + "\r\n"},
		{"", `{"to":"mallory","amount":1000}`},
		{"application/json", `{"to":"bob","amount":"5"}`},
		{"application/json", `{"to":"bob","amount":5.5}`},
		{"application/json", `{"to":"bob","amount":-5}`},
		{"application/json", `{"to":"alice","amount":5}`},
		{"application/json", `{"to":"bob","amount":1001}`},
		{"application/json", `{"to":"bob","amount":9223372036854775807}`},
		{"application/json", `{"to":"bob","amount":5}{"to":"bob","amount":5}`},
		{"application/x-www-form-urlencoded", "to=bob&amount=5"},
		{"text/plain; charset=utf-8", `{"to":"bob","amount":1,"to":"mallory"}`},
		{"application/json; charset", `{}`},
	} {
		f.Add(seed.ct, seed.body)
	}
	f.Fuzz(func(t *testing.T, ct, body string) {
		bank := demo.NewBank(demo.BankOptions{
			CertificateHolder: func(*http.Request) (string, bool) { return "alice", true },
		})
		req := httptest.NewRequest("POST", "/api/transfers", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		rec := httptest.NewRecorder()
		bank.ServeHTTP(rec, req)
		checkInvariants(t, bank, rec)
	})
}

// FuzzTransferForm does the same for the form endpoint, POST /transfer.
func FuzzTransferForm(f *testing.F) {
	for _, seed := range []string{
		"to=mallory&amount=100", "to=bob&amount=0", "to=bob&amount=-1", "to=bob&amount=+5",
		"to=bob&amount=1000001", "to=bob&amount=0x10", "to=bob&amount=1e3", "to=bob&amount= 5",
		"to=eve&amount=1", "to=alice&amount=1", "to=bob&to=mallory&amount=1", "amount=5", "%zz",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		bank := demo.NewBank(demo.BankOptions{
			CertificateHolder: func(*http.Request) (string, bool) { return "alice", true },
		})
		req := httptest.NewRequest("POST", "/transfer", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		bank.ServeHTTP(rec, req)
		checkInvariants(t, bank, rec)
	})
}

func checkInvariants(t *testing.T, bank *demo.Bank, rec *httptest.ResponseRecorder) {
	t.Helper()
	bal := bank.Balances()
	var total int64
	for name, b := range bal {
		if b < 0 {
			t.Fatalf("%s has a negative balance %d", name, b)
		}
		total += b
	}
	if total != 2010 {
		t.Fatalf("money created or lost: %v", bal)
	}
	moved := bal["alice"] != 1000
	ok := rec.Code == http.StatusOK || rec.Code == http.StatusCreated
	if moved != ok {
		t.Fatalf("status %d but moved %v: %v", rec.Code, moved, bal)
	}
	if rec.Code == http.StatusCreated {
		var resp struct{ Amount int64 }
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil || 1000-bal["alice"] != resp.Amount {
			t.Fatalf("reported amount %d (err %v), alice paid %d", resp.Amount, err, 1000-bal["alice"])
		}
	}
}
