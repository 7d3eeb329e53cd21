package gateway_test

import (
	"crypto/x509"
	"math/big"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/pki"
)

// crlNumbered writes a CRL with the given number revoking certs to name.
func (w *world) crlNumbered(name string, number int64, certs ...*pki.Cert) string {
	w.t.Helper()
	return w.crlAt(name, number, time.Time{}, certs...)
}

// crlAt is crlNumbered with a ThisUpdate (zero: now).
func (w *world) crlAt(name string, number int64, thisUpdate time.Time, certs ...*pki.Cert) string {
	w.t.Helper()
	opts := pki.CRLOptions{Number: big.NewInt(number), ThisUpdate: thisUpdate}
	for _, c := range certs {
		opts.Revoked = append(opts.Revoked, x509.RevocationListEntry{SerialNumber: c.Cert.SerialNumber, RevocationTime: time.Now()})
	}
	der, err := w.ca.CreateCRL(opts)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.write(name, pki.EncodeCRLPEM(der))
}

// TestReloadRefusesCRLRollback: a reload whose CRL has a lower number
// than the one in use is refused and the old CRL keeps revoking; a newer
// CRL is taken. The negative control is a gateway started afresh with the
// older CRL: without the previous state to compare with, it un-revokes.
func TestReloadRefusesCRLRollback(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("crl.pem", 2, w.web)}
	gw := w.start(cfg)
	connects := func(r *running, cert *pki.Cert) bool {
		resp, err := r.client(cert).Get(r.base + "/api/x") // a new connection: a new handshake
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}

	tests := []struct {
		name      string
		number    int64
		revoked   []*pki.Cert
		wantErr   string // "" means the reload succeeds
		wantWeb   bool   // web connects afterwards
		wantAdmin bool   // admin connects afterwards
	}{
		{"older CRL is refused, the old one keeps revoking", 1, nil, "CRL number 1 is older than the one in use (2)", false, true},
		{"same number is taken", 2, []*pki.Cert{w.web}, "", false, true},
		{"newer CRL is taken", 3, []*pki.Cert{w.web, w.admin}, "", false, false},
		{"older CRL after the newer one is refused", 2, []*pki.Cert{w.web}, "older than the one in use (3)", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w.crlNumbered("crl.pem", tt.number, tt.revoked...)
			err := gw.g.Reload(cfg)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("got %v, want a reload", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
			if got := connects(gw, w.web); got != tt.wantWeb {
				t.Errorf("web connects: got %v, want %v", got, tt.wantWeb)
			}
			if got := connects(gw, w.admin); got != tt.wantAdmin {
				t.Errorf("admin connects: got %v, want %v", got, tt.wantAdmin)
			}
		})
	}
	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	if want := `forgeproof_gateway_reloads_total{outcome="failure"} 2`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}

	t.Run("negative control: a fresh gateway takes the older CRL", func(t *testing.T) {
		fresh := w.config()
		fresh.Listeners[0].TLS.CRLFiles = []string{w.crlNumbered("old-crl.pem", 1)}
		if !connects(w.start(fresh), w.web) {
			t.Error("web refused by a gateway with the older CRL, want it to connect (un-revoked)")
		}
	})
}

// TestReloadRefusesCRLNotYetValid: a reload whose CRL's ThisUpdate is
// later than now (beyond the five minutes allowed for clock skew) is
// refused, with the config key and the file; the previous CRL keeps
// revoking. OpenSSL refuses such a CRL too ("CRL is not yet valid").
// Twin: the same revocations with ThisUpdate now are taken.
func TestReloadRefusesCRLNotYetValid(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	file := w.crlAt("crl.pem", 1, time.Time{}, w.web)
	cfg.Listeners[0].TLS.CRLFiles = []string{file}
	gw := w.start(cfg)
	connects := func(cert *pki.Cert) bool {
		resp, err := gw.client(cert).Get(gw.base + "/api/x") // a new connection: a new handshake
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	}
	w.crlAt("crl.pem", 2, time.Now().Add(time.Hour), w.web, w.admin)
	err := gw.g.Reload(cfg)
	if err == nil || !strings.Contains(err.Error(), "listeners[0].tls.crl-files[0]") || !strings.Contains(err.Error(), "crl "+file+" is not yet valid") {
		t.Fatalf("got %v, want an error naming listeners[0].tls.crl-files[0], %s and \"not yet valid\"", err, file)
	}
	if connects(w.web) || !connects(w.admin) {
		t.Error("after the refused reload: want web refused and admin connecting (the previous CRL)")
	}
	w.crlAt("crl.pem", 2, time.Time{}, w.web, w.admin)
	if err := gw.g.Reload(cfg); err != nil {
		t.Fatalf("got %v, want a reload", err)
	}
	if connects(w.admin) {
		t.Error("admin connects after the CRL revoking it was loaded")
	}
}
