package csrf_test

import (
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

// Tokens bound to the client certificate, over real mutual TLS: a token
// that alice's page got is refused when mallory's certificate sends it.
// The binding is the SHA-256 of the certificate's public key, taken from
// the identity mtls.Server.Handler verified, never from a request header.
func ExampleProtection_SetBinding() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	srvCert, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	alice, _ := ca.IssueClient(pki.ClientOptions{CommonName: "alice"})
	mallory, _ := ca.IssueClient(pki.ClientOptions{CommonName: "mallory"})
	tlsCert := srvCert.TLSCertificate()
	s, err := mtls.NewServer(mtls.ServerConfig{
		Certificates: []mtls.KeyPair{{Certificate: &tlsCert}},
		ClientCAs:    []mtls.Source{{Data: pki.EncodeCertsPEM(ca.Cert)}},
	})
	if err != nil {
		log.Fatal(err)
	}

	p := csrf.New()
	p.SetKeyRing(mustRing(csrf.NewKeyRing(csrf.GenerateKey())))
	p.SetMode(csrf.ModeOriginAndToken) // a token on every unsafe request, programs' too
	p.SetBinding(func(r *http.Request) ([]byte, error) {
		id, ok := mtls.IdentityFromContext(r.Context())
		if !ok {
			return nil, nil // no certificate: bind to the pre-session cookie
		}
		return id.SPKISHA256[:], nil
	})

	mux := http.NewServeMux()
	mux.HandleFunc("GET /form", func(w http.ResponseWriter, r *http.Request) {
		tok, err := p.Token(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		io.WriteString(w, tok)
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "transferred")
	})
	srv := &http.Server{Handler: s.Handler(p.Handler(mux)), ConnContext: s.ConnContext, TLSConfig: s.TLSConfig()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go srv.ServeTLS(ln, "", "")
	defer srv.Close()
	base := "https://" + ln.Addr().String()

	do := func(who *pki.Cert, method, path, token string) string {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
			RootCAs: ca.Pool(), ServerName: "localhost", Certificates: []tls.Certificate{who.TLSCertificate()},
		}}}
		r, _ := http.NewRequest(method, base+path, nil)
		if token != "" {
			r.Header.Set(csrf.HeaderName, token)
		}
		resp, err := c.Do(r)
		if err != nil {
			log.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			_, reason, _ := strings.Cut(string(body), "(reason: ") // the plain-text refusal
			return fmt.Sprint(resp.StatusCode, " ", strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(reason), ")")))
		}
		return string(body)
	}
	token := do(alice, "GET", "/form", "")
	fmt.Println("alice:", do(alice, "POST", "/transfer", token))
	fmt.Println("mallory:", do(mallory, "POST", "/transfer", token))
	fmt.Println("no token:", do(alice, "POST", "/transfer", ""))
	// Output:
	// alice: transferred
	// mallory: 403 token-invalid
	// no token: 403 token-missing
}

func mustRing(k *csrf.KeyRing, err error) *csrf.KeyRing {
	if err != nil {
		log.Fatal(err)
	}
	return k
}
