package pki

import (
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"
	"time"
)

// CRLOptions configures CA.CreateCRL.
type CRLOptions struct {
	// Number is the CRL number; nil means 1. It must grow with every CRL
	// the CA issues.
	Number *big.Int
	// ThisUpdate defaults to now, NextUpdate to ThisUpdate plus
	// DefaultCRLValidity. A NextUpdate in the past makes a stale CRL.
	ThisUpdate, NextUpdate time.Time
	// Revoked lists the revoked certificates. RevocationTime defaults to
	// ThisUpdate.
	Revoked []x509.RevocationListEntry
}

// CreateCRL issues a DER-encoded CRL signed by the CA.
func (ca *CA) CreateCRL(opts CRLOptions) ([]byte, error) {
	if err := ca.check(); err != nil {
		return nil, err
	}
	number := opts.Number
	if number == nil {
		number = big.NewInt(1)
	}
	thisUpdate := opts.ThisUpdate
	if thisUpdate.IsZero() {
		thisUpdate = time.Now()
	}
	thisUpdate = thisUpdate.UTC().Truncate(time.Second)
	nextUpdate := opts.NextUpdate
	if nextUpdate.IsZero() {
		nextUpdate = thisUpdate.Add(DefaultCRLValidity)
	}
	entries := make([]x509.RevocationListEntry, len(opts.Revoked))
	for i, e := range opts.Revoked {
		if e.SerialNumber == nil {
			return nil, fmt.Errorf("pki: revoked entry %d has no serial number", i)
		}
		if e.RevocationTime.IsZero() {
			e.RevocationTime = thisUpdate
		}
		entries[i] = e
	}
	tmpl := &x509.RevocationList{
		Number:                    number,
		ThisUpdate:                thisUpdate,
		NextUpdate:                nextUpdate.UTC().Truncate(time.Second),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, ca.Cert, ca.Key)
	if err != nil {
		return nil, fmt.Errorf("pki: creating CRL: %w", err)
	}
	return der, nil
}

// Revoke issues a new CRL that holds every entry of prev plus the given
// serial numbers (those already listed are kept once), with the next CRL
// number. prev may be nil (no CRL yet); otherwise its signature must check
// against this CA. This is what `forgeproof pki revoke` does.
func (ca *CA) Revoke(prev *x509.RevocationList, serials ...*big.Int) ([]byte, error) {
	opts := CRLOptions{Number: big.NewInt(1)}
	seen := map[string]bool{}
	if prev != nil {
		if err := prev.CheckSignatureFrom(ca.Cert); err != nil {
			return nil, fmt.Errorf("pki: existing CRL is not signed by this CA: %w", err)
		}
		if prev.Number != nil {
			opts.Number = new(big.Int).Add(prev.Number, big.NewInt(1))
		}
		for _, e := range prev.RevokedCertificateEntries {
			seen[e.SerialNumber.String()] = true
			opts.Revoked = append(opts.Revoked, x509.RevocationListEntry{
				SerialNumber:   e.SerialNumber,
				RevocationTime: e.RevocationTime,
				ReasonCode:     e.ReasonCode,
			})
		}
	}
	for _, s := range serials {
		if s == nil || s.Sign() <= 0 {
			return nil, fmt.Errorf("pki: invalid serial number %v", s)
		}
		if seen[s.String()] {
			continue
		}
		seen[s.String()] = true
		opts.Revoked = append(opts.Revoked, x509.RevocationListEntry{SerialNumber: s})
	}
	return ca.CreateCRL(opts)
}

// ParseSerial parses a serial number as printed by tools: decimal, or
// hexadecimal with a 0x prefix, with colons (openssl style "3a:f2:…"),
// or as the line "openssl x509 -noout -serial" prints ("serial=3AF2…").
// Bare digits are decimal: openssl's bare hex "10" would be another
// certificate's serial, so hex needs one of those three forms.
func ParseSerial(s string) (*big.Int, error) {
	n := new(big.Int)
	var ok bool
	switch {
	case len(s) > len("serial=") && strings.EqualFold(s[:len("serial=")], "serial="):
		_, ok = n.SetString(s[len("serial="):], 16)
	case len(s) > 2 && (s[:2] == "0x" || s[:2] == "0X"):
		_, ok = n.SetString(s[2:], 16)
	case containsColon(s):
		h := make([]byte, 0, len(s))
		for i := 0; i < len(s); i++ {
			if s[i] != ':' {
				h = append(h, s[i])
			}
		}
		_, ok = n.SetString(string(h), 16)
	default:
		_, ok = n.SetString(s, 10)
	}
	// big.Int reads a sign ("+5", "0x+5"): no tool prints one in a serial.
	if !ok || n.Sign() <= 0 || strings.ContainsAny(s, "+-") {
		return nil, fmt.Errorf("invalid serial number %q: want a positive decimal, 0x-hex, colon-separated hex or openssl's serial=HEX", s)
	}
	return n, nil
}

func containsColon(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' {
			return true
		}
	}
	return false
}
