package mtls_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
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

// TestReloadUnderLoad rotates the server certificate and the client CA
// between two PKIs while clients of both (and of a third, never trusted)
// keep connecting. Each handshake uses one whole state: a client whose CA
// issued the server certificate it saw must get in, the others must not.
func TestReloadUnderLoad(t *testing.T) {
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
		CertFile:     filepath.Join(current, pki.ServerFile),
		KeyFile:      filepath.Join(current, pki.ServerKeyFile),
		ClientCAFile: filepath.Join(current, pki.CAFile),
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

func TestWatch(t *testing.T) {
	ca := pkitest.CA(t)
	dir, cfg := pkiDir(t, ca)
	reloads := make(chan error, 16)
	cfg.OnReload = func(err error) { reloads <- err }
	s := newServer(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Watch returned %v, want context.Canceled", err)
		}
	}()
	time.Sleep(50 * time.Millisecond) // let the watcher start

	before := s.Certificate()
	if err := pkitest.Server(t, ca).Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
		t.Fatal(err)
	}
	if err := waitReload(t, reloads); err != nil {
		t.Fatalf("got reload error %v, want success", err)
	}
	if s.Certificate().Equal(before) {
		t.Error("got the old certificate after a change on disk")
	}

	// A broken file is reported and the working state stays.
	good := s.Certificate()
	if err := pki.WritePublicFile(filepath.Join(dir, pki.CAFile), []byte("not pem")); err != nil {
		t.Fatal(err)
	}
	if err := waitReload(t, reloads); err == nil {
		t.Fatal("got a successful reload of a broken CA file, want an error")
	}
	if s.Certificate() != good {
		t.Error("got a new state after a failed reload")
	}
}

func TestWatchTimer(t *testing.T) {
	ca := pkitest.CA(t)
	srv := pkitest.Server(t, ca).TLSCertificate()
	reloads := make(chan error, 16)
	report := func(err error) {
		select {
		case reloads <- err:
		default: // the test has what it needs
		}
	}
	s := newServer(t, mtls.ServerConfig{Certificate: &srv, ClientCAs: []*x509.Certificate{ca.Cert}, ReloadInterval: 10 * time.Millisecond, OnReload: report})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Watch(ctx)
	for i := 0; i < 3; i++ { // three ticks, no file involved
		select {
		case err := <-reloads:
			if err != nil {
				t.Errorf("got %v, want a successful timed reload", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no timed reload within 10s")
		}
	}
}

func waitReload(t *testing.T, reloads chan error) error {
	t.Helper()
	select {
	case err := <-reloads:
		// Drain reloads of the same burst of writes.
		for {
			select {
			case e := <-reloads:
				err = e
			case <-time.After(500 * time.Millisecond):
				return err
			}
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no reload within 10s")
		return nil
	}
}
