package demo

import (
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
)

// Demo accounts and their opening balances. The client certificate that
// Start issues is alice's; mallory is the attacker who wants her money.
var openingBalances = map[string]int64{
	"alice":   1000,
	"bob":     1000,
	"mallory": 10,
}

// Password is the password of every demo account. The bank's page says so:
// this is a demo, not a secret.
const Password = "demo"

// MaxAmount is the largest amount one transfer may move.
const MaxAmount = 1_000_000

// Reason codes of a refused transfer (TransferError.Reason).
const (
	ReasonUnknownAccount    = "unknown-account"
	ReasonInvalidAmount     = "invalid-amount"
	ReasonInsufficientFunds = "insufficient-funds"
	ReasonSameAccount       = "same-account"
)

// TransferError says why the bank refused a transfer. Reason is one of the
// Reason… constants.
type TransferError struct {
	Reason string
	Msg    string
}

func (e *TransferError) Error() string { return "transfer refused: " + e.Msg }

// ledger holds the balances; every operation is atomic under mu.
type ledger struct {
	mu       sync.Mutex
	balances map[string]int64
	logins   map[string]int
}

func newLedger() *ledger {
	return &ledger{balances: maps.Clone(openingBalances), logins: map[string]int{}}
}

func (l *ledger) exists(account string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.balances[account]
	return ok
}

func (l *ledger) balance(account string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.balances[account]
	return b, ok
}

// transfer moves amount from one account to another, all or nothing, and
// returns the sender's new balance.
func (l *ledger) transfer(from, to string, amount int64) (int64, error) {
	if amount < 1 || amount > MaxAmount {
		return 0, &TransferError{ReasonInvalidAmount, fmt.Sprintf("amount %d is out of range 1..%d", amount, MaxAmount)}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	fb, ok := l.balances[from]
	if !ok {
		return 0, &TransferError{ReasonUnknownAccount, fmt.Sprintf("no account %q", from)}
	}
	if _, ok := l.balances[to]; !ok {
		return 0, &TransferError{ReasonUnknownAccount, fmt.Sprintf("no account %q", to)}
	}
	if from == to {
		return 0, &TransferError{ReasonSameAccount, "cannot transfer to the same account"}
	}
	if fb < amount {
		return 0, &TransferError{ReasonInsufficientFunds, fmt.Sprintf("balance %d is less than %d", fb, amount)}
	}
	l.balances[from] = fb - amount
	l.balances[to] += amount
	return fb - amount, nil
}

func (l *ledger) recordLogin(account string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.logins[account]++
}

func (l *ledger) snapshot() (balances map[string]int64, logins map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.balances), maps.Clone(l.logins)
}

// parseAmount parses a form's amount: decimal digits only, in range.
func parseAmount(s string) (int64, error) {
	// At most 7 digits: MaxAmount's, and ParseInt cannot overflow.
	if s != "" && len(s) <= 7 && strings.Trim(s, "0123456789") == "" {
		if n, _ := strconv.ParseInt(s, 10, 64); n >= 1 && n <= MaxAmount {
			return n, nil
		}
	}
	return 0, &TransferError{ReasonInvalidAmount, fmt.Sprintf("amount %q is not a whole number from 1 to %d", s, MaxAmount)}
}
