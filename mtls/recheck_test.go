package mtls_test

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// openConn makes one real TLS connection to a listener served with s and
// returns the server side's ConnectionState; the connection stays open
// until the test ends. A refused handshake fails the test.
func openConn(t testing.TB, s *mtls.Server, ca *pki.CA, cert *pki.Cert) tls.ConnectionState {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", s.TLSConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	type result struct {
		cs  tls.ConnectionState
		err error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		t.Cleanup(func() { c.Close() })
		tc := c.(*tls.Conn)
		err = tc.Handshake()
		done <- result{tc.ConnectionState(), err}
	}()
	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost"}
	if cert != nil {
		tc := cert.TLSCertificate()
		conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	c, err := tls.Dial("tcp", ln.Addr().String(), conf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := <-done
	if r.err != nil {
		t.Fatalf("handshake: %v", r.err)
	}
	return r.cs
}

// TestRecheck: each change a new handshake would be refused for refuses
// an open connection's Recheck with the same reason, and the hook is not
// called; the unchanged twin passes.
func TestRecheck(t *testing.T) {
	ca := pkitest.CA(t)
	tests := []struct {
		name string
		// change changes what s trusts after the connection is open;
		// clock moves s's clock.
		change     func(t *testing.T, s *mtls.Server, dir string, cli *pki.Cert, deny *atomic.Bool)
		clock      time.Duration
		shortLived bool        // the client certificate expires in an hour
		wantReason mtls.Reason // "" means accepted
		wantNewGen bool
	}{
		{name: "unchanged"},
		{
			name:       "reload without a change is a new generation, still accepted",
			change:     func(t *testing.T, s *mtls.Server, _ string, _ *pki.Cert, _ *atomic.Bool) { mustReload(t, s) },
			wantNewGen: true,
		},
		{
			name: "revoked by reload",
			change: func(t *testing.T, s *mtls.Server, dir string, cli *pki.Cert, _ *atomic.Bool) {
				revokeInDir(t, ca, dir, cli.Cert.SerialNumber)
				mustReload(t, s)
			},
			wantReason: mtls.ReasonRevoked,
			wantNewGen: true,
		},
		{
			name: "another certificate revoked by reload",
			change: func(t *testing.T, s *mtls.Server, dir string, _ *pki.Cert, _ *atomic.Bool) {
				revokeInDir(t, ca, dir, pkitest.Client(t, ca, pki.ClientOptions{CommonName: "other"}).Cert.SerialNumber)
				mustReload(t, s)
			},
			wantNewGen: true,
		},
		{
			name: "CA removed by reload",
			change: func(t *testing.T, s *mtls.Server, dir string, _ *pki.Cert, _ *atomic.Bool) {
				other := pkitest.CA(t)
				der, err := other.Revoke(nil)
				if err != nil {
					t.Fatal(err)
				}
				write(t, filepath.Join(dir, pki.CAFile), pki.EncodeCertsPEM(other.Cert))
				write(t, filepath.Join(dir, pki.CRLFile), pki.EncodeCRLPEM(der))
				mustReload(t, s)
			},
			wantReason: mtls.ReasonUnknownAuthority,
			wantNewGen: true,
		},
		{
			name:       "authorization withdrawn",
			change:     func(_ *testing.T, _ *mtls.Server, _ string, _ *pki.Cert, deny *atomic.Bool) { deny.Store(true) },
			wantReason: mtls.ReasonIdentityDenied,
		},
		{name: "expired since the handshake", clock: 2 * time.Hour, shortLived: true, wantReason: mtls.ReasonExpired},
		{name: "not expired yet", clock: 30 * time.Minute, shortLived: true},
		{name: "crl stale since the handshake", clock: 30 * 24 * time.Hour, wantReason: mtls.ReasonCRLStale},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, cfg := pkiDir(t, ca)
			opts := pki.ClientOptions{CommonName: "web"}
			if tt.shortLived {
				opts.NotAfter = time.Now().Add(time.Hour)
			}
			cli := pkitest.Client(t, ca, opts)
			var deny atomic.Bool
			cfg.Authorizer = func(id mtls.Identity) error {
				if deny.Load() {
					return &mtls.Error{Reason: mtls.ReasonIdentityDenied, Detail: id.String()}
				}
				return nil
			}
			var hook failures
			cfg.OnHandshakeFailure = hook.add
			s := newServer(t, cfg)
			cs := openConn(t, s, ca, cli)
			if !(mtls.Checked{}).Expired(s, time.Now()) {
				t.Fatal("zero Checked: got not expired, want expired")
			}
			first, err := s.Recheck(&cs)
			if err != nil {
				t.Fatalf("before the change: got %v, want accepted", err)
			}
			if first.Generation != s.Generation() || first.Expired(s, time.Now()) {
				t.Fatalf("before the change: got %+v, want generation %d, not expired", first, s.Generation())
			}
			if tt.change != nil {
				tt.change(t, s, dir, cli, &deny)
			}
			now := time.Now().Add(tt.clock)
			mtls.SetNow(s, func() time.Time { return now })
			wantExpired := tt.wantNewGen || now.After(first.Until)
			if got := first.Expired(s, now); got != wantExpired {
				t.Errorf("Expired: got %v, want %v", got, wantExpired)
			}
			checked, err := s.Recheck(&cs)
			var herr *mtls.Error
			switch {
			case tt.wantReason == "" && err != nil:
				t.Fatalf("got %v, want accepted", err)
			case tt.wantReason != "" && (!errors.As(err, &herr) || herr.Reason != tt.wantReason):
				t.Fatalf("got %v, want reason %s", err, tt.wantReason)
			case tt.wantReason == "" && (checked.Generation != s.Generation() || checked.Expired(s, now)):
				t.Errorf("got %+v, want generation %d, not expired", checked, s.Generation())
			}
			if (first.Generation != s.Generation()) != tt.wantNewGen {
				t.Errorf("generation %d → %d, want changed %v", first.Generation, s.Generation(), tt.wantNewGen)
			}
			if f, ok := hook.last(); ok {
				t.Errorf("OnHandshakeFailure called with %s, want not called", f.Reason)
			}
			// The twin: the same change refuses a new handshake with the
			// same reason (and that one is reported).
			if tt.wantReason != "" {
				if _, err := dial(t, serve(t, s.TLSConfig()), ca, cli, nil); err == nil {
					t.Errorf("new handshake accepted, want refused")
				}
				if f, ok := hook.last(); !ok || f.Reason != tt.wantReason {
					t.Errorf("new handshake: got reason %q, want %s", f.Reason, tt.wantReason)
				}
			}
		})
	}
}

// TestRecheckUntil: Until is the earliest NotAfter in the chain or the
// time the CRL goes stale, whichever comes first; with stale CRLs
// allowed the CRL does not count.
func TestRecheckUntil(t *testing.T) {
	ca := pkitest.CA(t)
	soon := time.Now().Add(time.Hour).Truncate(time.Second)
	tests := []struct {
		name       string
		notAfter   time.Time
		grace      time.Duration
		allowStale bool
		want       func(crlStale time.Time) time.Time
	}{
		{"leaf expires first", soon, 0, false, func(time.Time) time.Time { return soon }},
		{"crl goes stale first", time.Now().AddDate(1, 0, 0), time.Hour, false, func(s time.Time) time.Time { return s.Add(time.Hour) }},
		{"stale crl allowed: the chain's expiry", time.Now().AddDate(0, 0, 100).Truncate(time.Second), 0, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cfg := pkiDir(t, ca)
			cfg.CRLGracePeriod, cfg.InsecureAllowStaleCRL = tt.grace, tt.allowStale
			s := newServer(t, cfg)
			cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web", NotAfter: tt.notAfter})
			cs := openConn(t, s, ca, cli)
			got, err := s.Recheck(&cs)
			if err != nil {
				t.Fatal(err)
			}
			crl, err := pki.LoadCRL(filepath.Dir(cfg.CRLFiles[0]))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.notAfter
			if ca.Cert.NotAfter.Before(want) {
				want = ca.Cert.NotAfter
			}
			if tt.want != nil {
				want = tt.want(crl.NextUpdate)
			}
			if !got.Until.Equal(want) {
				t.Errorf("got Until %v, want %v", got.Until, want)
			}
		})
	}
}

// TestRecheckNoCertificate: without a certificate, Recheck passes where
// the handshake does (verify-if-given) and refuses where it does not.
func TestRecheckNoCertificate(t *testing.T) {
	ca := pkitest.CA(t)
	tests := []struct {
		name       string
		mode       mtls.ClientAuthMode
		wantReason mtls.Reason
	}{
		{"verify-if-given", mtls.VerifyClientCertIfGiven, ""},
		{"require", mtls.RequireClientCert, mtls.ReasonNoCertificate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, cfg := pkiDir(t, ca)
			cfg.ClientAuth = tt.mode
			s := newServer(t, cfg)
			var cs tls.ConnectionState // what a connection without a certificate has
			got, err := s.Recheck(&cs)
			var herr *mtls.Error
			switch {
			case tt.wantReason == "" && (err != nil || !got.Until.IsZero()):
				t.Errorf("got %+v, %v, want accepted with no Until", got, err)
			case tt.wantReason != "" && (!errors.As(err, &herr) || herr.Reason != tt.wantReason):
				t.Errorf("got %v, want reason %s", err, tt.wantReason)
			}
		})
	}
	s := newServer(t, func() mtls.ServerConfig { _, c := pkiDir(t, ca); return c }())
	if _, err := s.Recheck(nil); err == nil {
		t.Error("Recheck(nil): got nil, want an error")
	}
}

// TestRecheckUsesChainCache: after a reload the first Recheck verifies
// the chain in full, the next ones take it from the new state's cache.
func TestRecheckUsesChainCache(t *testing.T) {
	ca := pkitest.CA(t)
	_, cfg := pkiDir(t, ca)
	s := newServer(t, cfg)
	cs := openConn(t, s, ca, pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web"}))
	mustReload(t, s)
	for i, want := range []int64{0, 1, 2} {
		if _, err := s.Recheck(&cs); err != nil {
			t.Fatal(err)
		}
		if hits, _ := mtls.VerifiedChainHits(s); hits != want {
			t.Errorf("Recheck %d: got %d cache hits, want %d", i+1, hits, want)
		}
	}
}

func mustReload(t *testing.T, s *mtls.Server) {
	t.Helper()
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
}

func write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkRecheck compares what a request on a keep-alive connection
// pays when nothing changed (Checked.Expired) with a Recheck from the
// chain cache (after a reload) and one in full (a cache miss):
//
//	go test -run '^$' -bench BenchmarkRecheck ./mtls
func BenchmarkRecheck(b *testing.B) {
	ca := pkitest.CA(b)
	_, cfg := pkiDir(b, ca)
	s := newServer(b, cfg)
	cs := openConn(b, s, ca, pkitest.Client(b, ca, pki.ClientOptions{CommonName: "web"}))
	checked, err := s.Recheck(&cs)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		now := time.Now()
		for b.Loop() {
			if checked.Expired(s, now) {
				b.Fatal("expired")
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Recheck(&cs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("full", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if err := s.Reload(); err != nil { // an empty chain cache
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := s.Recheck(&cs); err != nil {
				b.Fatal(err)
			}
		}
	})
}
