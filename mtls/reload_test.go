package mtls_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/watch"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestReloadUnderLoad rotates the server certificate and the client CA
// between two PKIs while clients of both (and of a third, never trusted)
// keep connecting. Each handshake uses one whole state: a client whose CA
// issued the server certificate it saw must get in, the others must not.
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	cas := []*pki.CA{pkitest.CA(t), pkitest.CA(t)}
	outsider := pkitest.CA(t)
	root := t.TempDir()
	for i, ca := range cas {
		dir := filepath.Join(root, []string{"a", "b"}[i])
		if err := ca.Save(dir); err != nil {
			t.Fatal(err)
		}
		if err := pkitest.Server(t, ca).Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
			t.Fatal(err)
		}
	}
	current := filepath.Join(root, "current")
	swap := func(target string) {
		tmp := current + ".tmp"
		os.Remove(tmp)
		if err := os.Symlink(target, tmp); err != nil {
			t.Error(err)
			return
		}
		if err := os.Rename(tmp, current); err != nil { // atomic
			t.Error(err)
		}
	}
	swap("a")
	s := newServer(t, mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{CertFile: filepath.Join(current, pki.ServerFile), KeyFile: filepath.Join(current, pki.ServerKeyFile)}},
		ClientCAs:    files(filepath.Join(current, pki.CAFile)),
	})
	addr := serve(t, s.TLSConfig())

	roots := x509.NewCertPool()
	roots.AddCert(cas[0].Cert)
	roots.AddCert(cas[1].Cert)
	clients := []*pki.Cert{
		pkitest.Client(t, cas[0], pki.ClientOptions{CommonName: "a"}),
		pkitest.Client(t, cas[1], pki.ClientOptions{CommonName: "b"}),
		pkitest.Client(t, outsider, pki.ClientOptions{CommonName: "outsider"}),
	}

	stop := make(chan struct{})
	var rotations atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the only reloader, so each reload reads one whole folder
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			swap([]string{"a", "b"}[i%2])
			if err := s.Reload(); err != nil {
				t.Errorf("reload: %v", err)
				return
			}
			rotations.Add(1)
			time.Sleep(time.Millisecond)
		}
	}()
	var accepted, refused atomic.Int64
	var clientsWG sync.WaitGroup
	for w := 0; w < 4; w++ {
		clientsWG.Add(1)
		go func() {
			defer clientsWG.Done()
			for i := 0; i < 25; i++ {
				cli := clients[(w+i)%len(clients)]
				tc := cli.TLSCertificate()
				conf := &tls.Config{RootCAs: roots, ServerName: "localhost", GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }}
				c, err := tls.Dial("tcp", addr, conf)
				if err != nil {
					t.Errorf("dial: %v", err) // the server certificate is always trusted
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				seen := c.ConnectionState().PeerCertificates[0]
				issuer := seen.Issuer.String()
				_, err = bufio.NewReader(c).ReadString('\n')
				c.Close()
				shouldPass := bytes.Equal(cli.Cert.AuthorityKeyId, seen.AuthorityKeyId)
				if shouldPass != (err == nil) {
					t.Errorf("client %s on a state of %s: got error %v, want accepted %v", cli.Cert.Subject.CommonName, issuer, err, shouldPass)
				}
				if err == nil {
					accepted.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	clientsWG.Wait()
	close(stop)
	wg.Wait()
	if rotations.Load() < 2 || accepted.Load() == 0 || refused.Load() == 0 {
		t.Errorf("got %d rotations, %d accepted, %d refused; want some of each", rotations.Load(), accepted.Load(), refused.Load())
	}
}

// watching runs s's watcher until the test ends and returns once it
// watches; tune adjusts its options.
type watching struct {
	reloads chan error        // OnReload
	looks   chan watch.Change // every look at the files
	tick    chan time.Time    // polls, when tune keeps Tick
}

func startWatch(t *testing.T, cfg mtls.ServerConfig, tune func(*watch.Options)) (*mtls.Server, *watching) {
	t.Helper()
	wt := &watching{reloads: make(chan error, 64), looks: make(chan watch.Change, 64), tick: make(chan time.Time)}
	cfg.OnReload = func(err error) { wt.reloads <- err }
	s := newServer(t, cfg)
	w, onChange, err := mtls.Watcher(s, func(o *watch.Options) {
		o.Tick = wt.tick
		o.OnLook = func(c watch.Change) { wt.looks <- c }
		if tune != nil {
			tune(o)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, onChange) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	})
	<-w.Ready()
	return s, wt
}

// waitReload waits for a reload that ok accepts (a certificate and its key
// written one after the other may take two reloads: the first, with a
// mismatched pair, fails) and returns its error.
func (wt *watching) waitReload(t *testing.T, ok func(error) bool) error {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case err := <-wt.reloads:
			if ok(err) {
				return err
			}
		case <-timeout:
			t.Fatal("no matching reload within 10s")
			return nil
		}
	}
}

func TestWatch(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	s, wt := startWatch(t, cfg, nil)

	before := defaultCert(s)
	next := pkitest.Server(t, ca)
	if err := next.Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
		t.Fatal(err)
	}
	wt.waitReload(t, func(err error) bool { return err == nil && defaultCert(s).Equal(next.Cert) })
	if defaultCert(s).Equal(before) {
		t.Error("got the old certificate after a change on disk")
	}

	// A broken file is reported and the working state stays.
	good := defaultCert(s)
	if err := pki.WritePublicFile(filepath.Join(dir, pki.CAFile), []byte("not pem")); err != nil {
		t.Fatal(err)
	}
	wt.waitReload(t, func(err error) bool { return err != nil })
	if defaultCert(s) != good {
		t.Error("got a new state after a failed reload")
	}
}

// TestWatchPoll: with file events off, a poll reloads when a file
// changed, and only then.
func TestWatchPoll(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	s, wt := startWatch(t, cfg, func(o *watch.Options) { o.NoEvents = true })

	wt.tick <- time.Now()
	if c := <-wt.looks; len(c.Changed) != 0 {
		t.Fatalf("a poll with nothing changed saw %v", c.Changed)
	}
	select {
	case err := <-wt.reloads:
		t.Fatalf("got a reload (%v) with nothing changed, want none", err)
	default:
	}

	next := pkitest.Server(t, ca)
	if err := next.Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
		t.Fatal(err)
	}
	wt.tick <- time.Now()
	if c := <-wt.looks; len(c.Changed) != 2 {
		t.Fatalf("a poll after a rotation saw %v, want the certificate and the key", c.Changed)
	}
	if err := <-wt.reloads; err != nil {
		t.Fatalf("got reload error %v, want success", err)
	}
	if !defaultCert(s).Equal(next.Cert) {
		t.Error("got the old certificate after a poll")
	}
}

// TestWatchWithoutFiles: a server built from values has nothing to
// watch; Watch returns when ctx ends.
func TestWatchWithoutFiles(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	s := newServer(t, mtls.ServerConfig{Certificates: []mtls.KeyPair{{Certificate: &srv}}, ClientCAs: pemCAs(ca.Cert)})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Watch(ctx); err != context.Canceled {
		t.Errorf("got %v, want %v", err, context.Canceled)
	}
}

// TestWatchSeesChangeBeforeStart: a file that changed between NewServer
// (which read it) and the start of Watch is reloaded at once, because
// Watch compares with what the Server read, not with the files as it
// finds them. Negative control: without that baseline the change is
// taken as the starting point and never loaded.
func TestWatchSeesChangeBeforeStart(t *testing.T) {
	t.Parallel()
	for _, baseline := range []bool{true, false} {
		t.Run(fmt.Sprintf("baseline=%v", baseline), func(t *testing.T) {
			t.Parallel()
			ca := pkitest.CA(t)
			dir, cfg := pkiDir(t, ca)
			reloads := make(chan error, 8)
			cfg.OnReload = func(err error) { reloads <- err }
			s := newServer(t, cfg)
			gen := mtls.Generation(s)

			// A new CRL lands after the load, before the watch.
			prev, err := pki.LoadCRL(dir)
			if err != nil {
				t.Fatal(err)
			}
			der, err := ca.Revoke(prev, big.NewInt(4242))
			if err != nil {
				t.Fatal(err)
			}
			if err := pki.SaveCRL(dir, der); err != nil {
				t.Fatal(err)
			}

			looks, tick := make(chan watch.Change, 8), make(chan time.Time)
			w, onChange, err := mtls.Watcher(s, func(o *watch.Options) {
				o.Tick = tick
				o.OnLook = func(c watch.Change) { looks <- c }
				if !baseline {
					o.Baseline = nil
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx, onChange) }()
			defer func() { cancel(); <-done }()
			<-w.Ready()
			// One poll, so that there is a look with or without file events.
			go func() {
				select {
				case tick <- time.Now():
				case <-ctx.Done():
				}
			}()
			var look watch.Change
			select {
			case look = <-looks:
			case <-time.After(10 * time.Second):
				t.Fatal("no look at the files within 10s")
			}
			if baseline {
				if len(look.Changed) != 1 || !strings.HasSuffix(look.Changed[0], pki.CRLFile) {
					t.Fatalf("first look: got changed %v, want the CRL", look.Changed)
				}
				if err := <-reloads; err != nil || mtls.Generation(s) == gen {
					t.Fatalf("got reload error %v, generation %d (was %d); want the new CRL loaded", err, mtls.Generation(s), gen)
				}
				return
			}
			if len(look.Changed) != 0 || len(reloads) != 0 || mtls.Generation(s) != gen {
				t.Fatalf("negative control: got changed %v, %d reloads; want the change missed", look.Changed, len(reloads))
			}
		})
	}
}
