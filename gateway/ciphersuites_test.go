package gateway_test

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestTLS12CipherSuites: a listener with min-version 1.2 negotiates TLS
// 1.2 only with ECDHE and an AEAD (AES-GCM, ChaCha20-Poly1305), Mozilla's
// "intermediate" profile, with an ECDSA and with an RSA server
// certificate; every other suite crypto/tls implements is refused with
// no-shared-cipher, logged. Before, Go's default list let ECDHE with
// AES-CBC and SHA-1 through, and GODEBUG=tlsrsakex=1,tls3des=1 (set here,
// as an operator's environment may set it) static RSA key exchange and
// 3DES too. Where openssl is installed, its handshakes get the same.
func TestTLS12CipherSuites(t *testing.T) {
	// Not parallel: GODEBUG is the process's.
	t.Setenv("GODEBUG", "tlsrsakex=1,tls3des=1")
	aead := map[uint16]bool{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256:       true,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256:         true,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384:       true,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384:         true,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: true,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256:   true,
	}
	for _, key := range []struct {
		name string
		alg  pki.KeyAlgorithm
		// openssl's names: refused (CBC, and static RSA key exchange
		// for RSA), then allowed.
		openssl map[string]bool
	}{
		{name: "ECDSA", alg: pki.ECDSAP256, openssl: map[string]bool{
			"ECDHE-ECDSA-AES128-SHA": false, "ECDHE-ECDSA-AES256-SHA": false,
			"ECDHE-ECDSA-AES128-GCM-SHA256": true, "ECDHE-ECDSA-CHACHA20-POLY1305": true,
		}},
		{name: "RSA", alg: pki.RSA2048, openssl: map[string]bool{
			"ECDHE-RSA-AES128-SHA": false, "AES128-GCM-SHA256": false,
			"ECDHE-RSA-AES128-GCM-SHA256": true, "ECDHE-RSA-CHACHA20-POLY1305": true,
		}},
	} {
		t.Run(key.name, func(t *testing.T) {
			w := newWorld(t)
			w.pki.SaveServer(pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"localhost"}, KeyAlgorithm: key.alg}))
			cfg := w.config()
			tls12(cfg)
			logs := &logBuffer{}
			gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
			// Every refusal is counted in the log below: more than the
			// limit of one kind (loglimit.go) in an interval.
			gateway.SetLogLimit(gw.g, false)
			addr := strings.TrimPrefix(gw.base, "https://")
			refused := 0
			for _, s := range append(tls.CipherSuites(), tls.InsecureCipherSuites()...) {
				// Only the suites the certificate's key can serve: the
				// others fail whatever the list.
				if !slices.Contains(s.SupportedVersions, tls.VersionTLS12) || strings.Contains(s.Name, "_ECDSA_") != (key.alg == pki.ECDSAP256) {
					continue
				}
				got, err := handshakeTLS12(w, addr, s.ID)
				switch {
				case aead[s.ID] && (err != nil || got != s.ID):
					t.Errorf("%s: got %v (suite %#04x), want it negotiated", s.Name, err, got)
				case !aead[s.ID] && err == nil:
					t.Errorf("%s: negotiated, want refused", s.Name)
				}
				if err != nil {
					refused++
				}
			}
			if openssl, err := exec.LookPath("openssl"); err != nil {
				t.Log("no openssl: the cross-check with OpenSSL is skipped")
			} else {
				for name, ok := range key.openssl {
					out, err := exec.Command(openssl, "s_client", "-connect", addr, "-servername", "localhost",
						"-CAfile", w.path("ca.pem"), "-verify_return_error", "-tls1_2", "-cipher", name).CombinedOutput()
					if (err == nil) != ok {
						t.Errorf("openssl s_client -tls1_2 -cipher %s: got error %v, want ok %v (%s)", name, err, ok, firstLine(out))
					}
					if err != nil {
						refused++
					}
				}
			}
			// Each refusal is logged, as no-shared-cipher.
			eventually(t, fmt.Sprintf("%d handshake failures logged", refused), func() (bool, string) {
				n := 0
				for _, l := range logs.lines(t) {
					if msg, _ := l["msg"].(string); strings.HasPrefix(msg, "TLS handshake") {
						if l["reason"] != "no-shared-cipher" {
							t.Fatalf("got %v, want reason no-shared-cipher", l)
						}
						n++
					}
				}
				return n == refused, logs.String()
			})
		})
	}
}

// handshakeTLS12 runs a TLS 1.2 handshake with the gateway at addr,
// offering only suite, and returns the suite negotiated.
func handshakeTLS12(w *world, addr string, suite uint16) (uint16, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Minute)) // hang guard only
	tc := tls.Client(c, &tls.Config{
		RootCAs:      w.ca.Pool(),
		ServerName:   "localhost",
		MaxVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{suite},
	})
	if err := tc.Handshake(); err != nil {
		return 0, err
	}
	return tc.ConnectionState().CipherSuite, nil
}

// firstLine is the first line of out that reports an error or the cipher
// negotiated, else its first line.
func firstLine(out []byte) string {
	lines := strings.Split(string(out), "\n")
	for _, l := range lines {
		if strings.Contains(l, "error:") || strings.Contains(l, "Cipher is") {
			return strings.TrimSpace(l)
		}
	}
	return lines[0]
}
