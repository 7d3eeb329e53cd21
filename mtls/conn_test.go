package mtls_test

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"sync"
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

// TestCheck: each change a new handshake would be refused for refuses an
// open connection's next Check with the same reason, and the hook is not
// called (Check reports nothing; Handler does); the unchanged twin passes.
func TestCheck(t *testing.T) {
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
			name: "authorization withdrawn, then a reload",
			change: func(t *testing.T, s *mtls.Server, _ string, _ *pki.Cert, deny *atomic.Bool) {
				deny.Store(true)
				mustReload(t, s)
			},
			wantReason: mtls.ReasonIdentityDenied,
			wantNewGen: true,
		},
		{
			// An Authorizer that changes its answer by itself is asked
			// again at the next reload or expiry, not at every request.
			name:   "authorization withdrawn without a reload: kept",
			change: func(_ *testing.T, _ *mtls.Server, _ string, _ *pki.Cert, deny *atomic.Bool) { deny.Store(true) },
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
			var clock atomic.Int64 // checked tt.clock later, after the change
			cfg.Time = func() time.Time { return time.Now().Add(time.Duration(clock.Load())) }
			s := newServer(t, cfg)
			r := connRequest(s, openConn(t, s, ca, cli))
			if id, err := s.Check(r); err != nil || id == nil || id.CommonName != "web" {
				t.Fatalf("before the change: got %v, %v, want web accepted", id, err)
			}
			gen, _ := mtls.LastCheck(r)
			if gen != mtls.Generation(s) {
				t.Fatalf("before the change: checked under %d, want %d", gen, mtls.Generation(s))
			}
			if tt.change != nil {
				tt.change(t, s, dir, cli, &deny)
			}
			clock.Store(int64(tt.clock))
			id, err := s.Check(r)
			switch {
			case tt.wantReason == "" && err != nil:
				t.Fatalf("got %v, want accepted", err)
			case tt.wantReason != "" && mtls.ReasonOf(err) != tt.wantReason:
				t.Fatalf("got %v, want reason %s", err, tt.wantReason)
			case tt.wantReason != "" && (id == nil || id.CommonName != "web"):
				t.Errorf("refused: got identity %v, want the refused one", id)
			}
			if got, _ := mtls.LastCheck(r); (got != gen) != tt.wantNewGen {
				t.Errorf("generation %d → %d, want changed %v", gen, got, tt.wantNewGen)
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

// connRequest is a request on the connection cs, with the connection
// state of s.ConnContext (one per call: one connection).
func connRequest(s *mtls.Server, cs tls.ConnectionState) *http.Request {
	return (&http.Request{TLS: &cs}).WithContext(s.ConnContext(context.Background(), nil))
}

// TestCheckNegativeControl: with the re-check off, the certificate that a
// reload revoked is still accepted on its open connection (the attack
// TestCheck's "revoked by reload" stops).
func TestCheckNegativeControl(t *testing.T) {
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	s := newServer(t, cfg)
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web"})
	r := connRequest(s, openConn(t, s, ca, cli))
	if _, err := s.Check(r); err != nil {
		t.Fatal(err)
	}
	mtls.SetRecheck(s, false)
	revokeInDir(t, ca, dir, cli.Cert.SerialNumber)
	mustReload(t, s)
	if _, err := s.Check(r); err != nil {
		t.Fatalf("re-check off: got %v, want the revoked certificate accepted", err)
	}
	mtls.SetRecheck(s, true)
	if _, err := s.Check(r); mtls.ReasonOf(err) != mtls.ReasonRevoked {
		t.Fatalf("re-check on: got %v, want revoked", err)
	}
}

// TestCheckUntil: a connection's check holds until the earliest NotAfter
// in the chain or the time the CRL goes stale, whichever comes first;
// with stale CRLs allowed the CRL does not count.
func TestCheckUntil(t *testing.T) {
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
			r := connRequest(s, openConn(t, s, ca, cli))
			if _, err := s.Check(r); err != nil {
				t.Fatal(err)
			}
			_, got := mtls.LastCheck(r)
			crl, err := pki.LoadCRL(filepath.Dir(cfg.CRLs[0].File))
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
			if !got.Equal(want) {
				t.Errorf("got until %v, want %v", got, want)
			}
		})
	}
}

// TestCheckNoCertificate: without a certificate, Check passes with no
// identity where the handshake does (verify-if-given) and refuses where it
// does not; a request not over TLS has no identity.
func TestCheckNoCertificate(t *testing.T) {
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
			id, err := s.Check(connRequest(s, tls.ConnectionState{}))
			if id != nil || mtls.ReasonOf(err) != tt.wantReason {
				t.Errorf("got %v, %v, want no identity and reason %q", id, err, tt.wantReason)
			}
		})
	}
	s := newServer(t, func() mtls.ServerConfig { _, c := pkiDir(t, ca); return c }())
	if id, err := s.Check(&http.Request{}); id != nil || err != nil {
		t.Errorf("not over TLS: got %v, %v, want no identity, no error", id, err)
	}
}

// TestCheckUsesChainCache: after a reload the first check of a connection
// verifies the chain in full, the next connections' take it from the new
// state's cache, and a connection checked since is not checked again.
func TestCheckUsesChainCache(t *testing.T) {
	ca := pkitest.CA(t)
	_, cfg := pkiDir(t, ca)
	s := newServer(t, cfg)
	cs := openConn(t, s, ca, pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web"}))
	mustReload(t, s)
	r := connRequest(s, cs)
	for i, want := range []int64{0, 1, 1} {
		if i == 1 {
			r = connRequest(s, cs) // another connection with the same certificates
		}
		if _, err := s.Check(r); err != nil {
			t.Fatal(err)
		}
		if hits, _ := mtls.VerifiedChainHits(s); hits != want {
			t.Errorf("Check %d: got %d cache hits, want %d", i+1, hits, want)
		}
	}
}

// TestCheckConcurrent: requests of one connection that arrive together
// after a reload all pass, under -race, and leave the connection checked
// under the new generation.
func TestCheckConcurrent(t *testing.T) {
	ca := pkitest.CA(t)
	_, cfg := pkiDir(t, ca)
	s := newServer(t, cfg)
	r := connRequest(s, openConn(t, s, ca, pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web"})))
	if _, err := s.Check(r); err != nil {
		t.Fatal(err)
	}
	mustReload(t, s)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := s.Check(r); err != nil {
				t.Errorf("after the reload: got %v, want accepted", err)
			}
		})
	}
	wg.Wait()
	if gen, _ := mtls.LastCheck(r); gen != mtls.Generation(s) {
		t.Errorf("generation: got %d, want %d", gen, mtls.Generation(s))
	}
}

// TestHandlerOpenConnection: over real keep-alive HTTPS, Handler serves a
// connection's identity, and after a reload that revokes its certificate
// answers its next request on the same connection with 403 revoked and
// Connection: close, reported to OnHandshakeFailure as OpenConnection.
func TestHandlerOpenConnection(t *testing.T) {
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	var hook failures
	cfg.OnHandshakeFailure = hook.add
	s := newServer(t, cfg)
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web"})
	srv := httptest.NewUnstartedServer(s.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.IdentityFromContext(r.Context())
		io.WriteString(w, id.CommonName)
	})))
	srv.TLS, srv.Config.ConnContext = s.TLSConfig(), s.ConnContext
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake at the end
	srv.StartTLS()
	t.Cleanup(srv.Close)
	client := httpClient(ca, cli)
	if got := get(t, client, srv.URL+"/", ""); got.status != 200 || got.body != "web" {
		t.Fatalf("before the reload: got %d %q, want 200 web", got.status, got.body)
	}
	revokeInDir(t, ca, dir, cli.Cert.SerialNumber)
	mustReload(t, s)
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), "GET", srv.URL+"/", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || !reused {
		t.Errorf("after the reload: got %d, reused %v; want 403 on the open connection", resp.StatusCode, reused)
	}
	if f, ok := hook.last(); !ok || f.Reason != mtls.ReasonRevoked || !f.OpenConnection {
		t.Errorf("hook: got %+v, want revoked on an open connection", f)
	}
	// The connection was closed: the next request needs a handshake,
	// which is refused.
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("next request: got %d, want a refused handshake", resp.StatusCode)
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

// BenchmarkRecheck measures what Check costs a request on a keep-alive
// connection when nothing changed, after a reload (a verification from
// the chain cache) and on a cache miss:
//
//	go test -run '^$' -bench BenchmarkRecheck ./mtls
func BenchmarkRecheck(b *testing.B) {
	ca := pkitest.CA(b)
	_, cfg := pkiDir(b, ca)
	s := newServer(b, cfg)
	cs := openConn(b, s, ca, pkitest.Client(b, ca, pki.ClientOptions{CommonName: "web"}))
	r := connRequest(s, cs)
	if _, err := s.Check(r); err != nil {
		b.Fatal(err)
	}
	b.Run("unchanged", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Check(r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Check(connRequest(s, cs)); err != nil {
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
			if _, err := s.Check(r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCheckConn: CheckConn keeps a connection's state in the cache it is
// given, as Check keeps it in the context ConnContext made: the identity
// is computed once (the same *Identity on every request), and a reload
// that revokes the certificate refuses its next request. A nil cache
// verifies every request (a new Identity each time) and refuses too; a
// cache handed another connection's request is ignored.
func TestCheckConn(t *testing.T) {
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	s := newServer(t, cfg)
	cli := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "web"})
	cs := openConn(t, s, ca, cli)
	r := &http.Request{TLS: &cs} // no ConnContext: the cache is the caller's
	var cc mtls.ConnCache
	first, err := s.CheckConn(r, &cc)
	if err != nil || first == nil || first.CommonName != "web" {
		t.Fatalf("got %v, %v, want web's identity", first, err)
	}
	if again, err := s.CheckConn(r, &cc); err != nil || again != first {
		t.Errorf("second request: got %p, %v, want the cached identity %p", again, err, first)
	}
	a, errA := s.CheckConn(r, nil)
	b, errB := s.CheckConn(r, nil)
	if errA != nil || errB != nil || a == nil || a == b {
		t.Errorf("nil cache: got %p, %p (%v, %v), want two identities", a, b, errA, errB)
	}
	// A cache handed another connection's request is not that request's:
	// its identity is the other certificate's, and the cache still holds
	// its own. (A cache that trusted the caller answered "web".)
	ocs := openConn(t, s, ca, pkitest.Client(t, ca, pki.ClientOptions{CommonName: "api"}))
	other := &http.Request{TLS: &ocs}
	if id, err := s.CheckConn(other, &cc); err != nil || id == nil || id.CommonName != "api" {
		t.Errorf("another connection's request with web's cache: got %v, %v, want api's identity", id, err)
	}
	if again, err := s.CheckConn(r, &cc); err != nil || again != first {
		t.Errorf("web's cache after the other request: got %p, %v, want %p", again, err, first)
	}
	revokeInDir(t, ca, dir, cli.Cert.SerialNumber)
	mustReload(t, s)
	if id, err := s.CheckConn(other, &cc); err != nil || id == nil || id.CommonName != "api" {
		t.Errorf("after web's revocation, api with web's cache: got %v, %v, want api's identity", id, err)
	}
	if _, err := s.CheckConn(r, &cc); mtls.ReasonOf(err) != mtls.ReasonRevoked {
		t.Errorf("after the reload: got %v, want revoked", err)
	}
	if _, err := s.CheckConn(r, nil); mtls.ReasonOf(err) != mtls.ReasonRevoked {
		t.Errorf("after the reload, nil cache: got %v, want revoked", err)
	}
}
