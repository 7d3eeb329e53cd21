package mtls_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// A certificate revoked by a reload is refused at the next request of a
// keep-alive connection opened before, not only at new handshakes.
func ExampleServer_Recheck() {
	dir, _ := os.MkdirTemp("", "recheck")
	defer os.RemoveAll(dir)
	ca, _ := pki.NewCA(pki.CAOptions{})
	ca.Save(dir)
	srvCert, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	srvCert.Save(dir, pki.ServerFile, pki.ServerKeyFile)
	crl, _ := ca.Revoke(nil)
	pki.SaveCRL(dir, crl)
	client, _ := ca.IssueClient(pki.ClientOptions{CommonName: "web"})

	s, err := mtls.NewServer(mtls.ServerConfig{
		CertFile:     filepath.Join(dir, pki.ServerFile),
		KeyFile:      filepath.Join(dir, pki.ServerKeyFile),
		ClientCAFile: filepath.Join(dir, pki.CAFile),
		CRLFiles:     []string{filepath.Join(dir, pki.CRLFile)},
	})
	if err != nil {
		panic(err)
	}

	// Each connection keeps its last Checked; a zero one (no check yet)
	// has expired.
	type checkedKey struct{}
	recheck := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			last := r.Context().Value(checkedKey{}).(*atomic.Pointer[mtls.Checked])
			if c := last.Load(); c == nil || c.Expired(s, time.Now()) {
				checked, err := s.Recheck(r.TLS)
				var herr *mtls.Error
				if errors.As(err, &herr) {
					w.Header().Set("Connection", "close") // the next handshake is refused
					http.Error(w, string(herr.Reason), http.StatusForbidden)
					return
				}
				last.Store(&checked)
			}
			next.ServeHTTP(w, r)
		})
	}
	hello := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := mtls.IdentityFromTLS(r.TLS)
		fmt.Fprintf(w, "hello %s", id)
	})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{
		Handler:   recheck(hello),
		TLSConfig: s.TLSConfig(),
		ErrorLog:  log.New(io.Discard, "", 0), // the refused handshake
		ConnContext: func(ctx context.Context, _ net.Conn) context.Context {
			return context.WithValue(ctx, checkedKey{}, new(atomic.Pointer[mtls.Checked]))
		},
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()

	conf := &tls.Config{RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{client.TLSCertificate()}}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: conf}} // keep-alive
	get := func() {
		resp, err := c.Get("https://" + ln.Addr().String() + "/")
		if err != nil {
			fmt.Println("new connection refused")
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, strings.TrimSpace(string(body)))
	}

	get()
	prev, _ := pki.LoadCRL(dir)
	crl, _ = ca.Revoke(prev, client.Cert.SerialNumber)
	pki.SaveCRL(dir, crl)
	if err := s.Reload(); err != nil {
		panic(err)
	}
	get() // on the connection opened before the reload
	get() // a new handshake
	// Output:
	// 200 hello CN=web
	// 403 revoked
	// new connection refused
}
