package mtls_test

import (
	"crypto/tls"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestResumedSessionCachedChain: a resumed session whose chain was
// verified before skips only the signature checks (the cache is hit), and
// is still refused once its CA is removed, its certificate revoked, its
// certificate expired or its identity disallowed.
func TestResumedSessionCachedChain(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	start := time.Now()
	cli := pkitest.Client(t, ca, pki.ClientOptions{SPIFFEID: "spiffe://prod.example/web", NotAfter: start.Add(time.Hour)})
	type env struct {
		s       *mtls.Server
		dir     string
		allowed *atomic.Bool
		clock   *atomic.Int64 // offset from the real time, in nanoseconds
	}
	reload := func(t *testing.T, e env) {
		if err := e.s.Reload(); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name       string
		change     func(*testing.T, env)
		wantReason mtls.Reason
	}{
		{name: "unchanged resumes from the cache", change: func(*testing.T, env) {}},
		{name: "later but valid resumes from the cache", change: func(_ *testing.T, e env) {
			e.clock.Store(int64(30 * time.Minute))
		}},
		{name: "expired since refused", change: func(_ *testing.T, e env) {
			e.clock.Store(int64(90 * time.Minute))
		}, wantReason: mtls.ReasonExpired},
		{name: "disallowed since refused", change: func(_ *testing.T, e env) {
			e.allowed.Store(false)
		}, wantReason: mtls.ReasonIdentityDenied},
		{name: "revoked since refused", change: func(t *testing.T, e env) {
			revokeInDir(t, ca, e.dir, cli.Cert.SerialNumber)
			reload(t, e)
		}, wantReason: mtls.ReasonRevoked},
		{name: "CA removed since refused", change: func(t *testing.T, e env) {
			other := pkitest.CA(t)
			if err := pki.WritePublicFile(filepath.Join(e.dir, pki.CAFile), pki.EncodeCertsPEM(other.Cert)); err != nil {
				t.Fatal(err)
			}
			der, _ := other.Revoke(nil)
			if err := pki.SaveCRL(e.dir, der); err != nil {
				t.Fatal(err)
			}
			reload(t, e)
		}, wantReason: mtls.ReasonUnknownAuthority},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := pkiDir(t, ca)
			e := env{dir: dir, allowed: new(atomic.Bool), clock: new(atomic.Int64)}
			e.allowed.Store(true)
			cfg.Authorizer = func(mtls.Identity) error {
				if e.allowed.Load() {
					return nil
				}
				return &mtls.Error{Reason: mtls.ReasonIdentityDenied, Detail: "switched off"}
			}
			var got failures
			cfg.OnHandshakeFailure = got.add
			cfg.Time = func() time.Time { return time.Now().Add(time.Duration(e.clock.Load())) }
			e.s = newServer(t, cfg)
			addr := serve(t, e.s.TLSConfig())
			cache := tls.NewLRUClientSessionCache(4)
			if r, err := dial(t, addr, ca, cli, cache); err != nil || r.resumed {
				t.Fatalf("first connection: got %v resumed=%v, want a full handshake", err, r.resumed)
			}
			if hits, _ := mtls.VerifiedChainHits(e.s); hits != 0 {
				t.Fatalf("full handshake: got %d cache hits, want 0", hits)
			}
			if r, err := dial(t, addr, ca, cli, cache); err != nil || !r.resumed {
				t.Fatalf("second connection: got %v resumed=%v, want a resumed session", err, r.resumed)
			}
			if hits, _ := mtls.VerifiedChainHits(e.s); hits != 1 {
				t.Fatalf("resumed session: got %d cache hits, want 1", hits)
			}
			tt.change(t, e)
			r, err := dial(t, addr, ca, cli, cache)
			if tt.wantReason == "" {
				if err != nil || !r.resumed || r.name != "spiffe://prod.example/web" {
					t.Fatalf("got %v resumed=%v name=%q, want a resumed session of spiffe://prod.example/web", err, r.resumed, r.name)
				}
				if hits, _ := mtls.VerifiedChainHits(e.s); hits != 2 {
					t.Errorf("got %d cache hits, want 2", hits)
				}
				return
			}
			if err == nil {
				t.Fatalf("got accepted (resumed=%v), want refused with %s", r.resumed, tt.wantReason)
			}
			f, ok := got.last()
			if !ok || f.Reason != tt.wantReason || !f.Resumed {
				t.Errorf("got reason %q resumed=%v (%v), want %s on a resumed session", f.Reason, f.Resumed, f.Err, tt.wantReason)
			}
		})
	}
}
