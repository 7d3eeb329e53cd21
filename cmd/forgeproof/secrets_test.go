package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/pki"
)

// TestErrorsNeverPrintKeys runs check-config, serve, pki and init on
// files that hold private keys where they do not belong, keys that do not
// match, and malformed keys, and fails when stdout or stderr shows key
// material: "PRIVATE KEY", or any 16 characters of a key's base64 (PEM
// body or CSRF key) or of its DER in hex. Each case must fail, with an
// error (the twin "ok" case shows the same files work where they belong).
func TestErrorsNeverPrintKeys(t *testing.T) {
	dir := t.TempDir()
	w := func(name string, data []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ca.Save(filepath.Join(dir, "pki")); err != nil {
		t.Fatal(err)
	}
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Save(dir, "server.pem", "server-key.pem"); err != nil {
		t.Fatal(err)
	}
	other, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Save(dir, "other.pem", "other-key.pem"); err != nil {
		t.Fatal(err)
	}
	w("ca.pem", pki.EncodeCertsPEM(ca.Cert))

	// The secrets whose pieces must never be printed.
	var secrets [][]byte
	for _, name := range []string{"server-key.pem", "other-key.pem", "pki/ca-key.pem"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM block", name)
		}
		secrets = append(secrets, []byte(base64.StdEncoding.EncodeToString(blk.Bytes)), []byte(hex.EncodeToString(blk.Bytes)))
	}
	serverKey, _ := os.ReadFile(filepath.Join(dir, "server-key.pem"))
	csrfKey := base64.StdEncoding.EncodeToString(csrf.GenerateKey())
	secrets = append(secrets, []byte(csrfKey))

	// Malformed keys: the PEM of the server key with its body damaged in
	// the middle, and a short CSRF key.
	damaged := bytes.Replace(serverKey, serverKey[60:70], []byte("!!!!!!!!!!"), 1)
	w("damaged-key.pem", damaged)
	// A key whose PEM is sound but whose DER is not.
	blk, _ := pem.Decode(serverKey)
	der := bytes.Clone(blk.Bytes)
	for i := 8; i < 24; i++ {
		der[i] ^= 0x5a
	}
	w("bad-der-key.pem", pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: der}))
	secrets = append(secrets, []byte(base64.StdEncoding.EncodeToString(der)), []byte(hex.EncodeToString(der)))
	w("short-csrf.key", []byte(csrfKey[:20]+"\n"))
	w("csrf.key", []byte(csrfKey+"\n"))
	w("pem-as-csrf.key", serverKey)
	w("csrf-with-junk.key", []byte(csrfKey+"\n"+csrfKey[:30]+"!!\n"))

	config := func(name, cert, key, ca, tokenKey string) string {
		cfg := "listeners:\n  - address: 127.0.0.1:0\n    tls:\n      cert-file: " + cert + "\n      key-file: " + key +
			"\n      client-ca-files: [" + ca + "]\n      client-auth: verify-if-given\nroutes:\n  - name: app\n    path-prefix: /\n    upstream: http://127.0.0.1:9\n    allow: {any-verified: true}\n"
		if tokenKey != "" {
			cfg += "    csrf: {mode: origin-and-token}\ntokens: {key-file: " + tokenKey + "}\n"
		}
		cfg += "admin: {address: \"off\"}\n"
		return w(name, []byte(cfg))
	}
	okConfig := config("ok.yaml", "server.pem", "server-key.pem", "ca.pem", "csrf.key")
	keyAsCRL := w("key-as-crl.yaml", bytes.Replace(mustRead(t, okConfig), []byte("client-auth: verify-if-given"),
		[]byte("client-auth: verify-if-given\n      crl-files: [server-key.pem]"), 1))

	type tc struct {
		name string
		args []string
	}
	var cases []tc
	for _, c := range []struct{ name, cert, key, ca, tokenKey string }{
		{"key that does not match the certificate", "server.pem", "other-key.pem", "ca.pem", ""},
		{"damaged key", "server.pem", "damaged-key.pem", "ca.pem", ""},
		{"key in the cert-file slot", "server-key.pem", "server.pem", "ca.pem", ""},
		{"key as the certificate and as the key", "server-key.pem", "server-key.pem", "ca.pem", ""},
		{"key as a client CA", "server.pem", "server-key.pem", "server-key.pem", ""},
		{"key whose DER does not parse", "server.pem", "bad-der-key.pem", "ca.pem", ""},
		{"PEM private key as the CSRF key file", "server.pem", "server-key.pem", "ca.pem", "pem-as-csrf.key"},
		{"short CSRF key", "server.pem", "server-key.pem", "ca.pem", "short-csrf.key"},
		{"CSRF key file with a bad line", "server.pem", "server-key.pem", "ca.pem", "csrf-with-junk.key"},
	} {
		f := config(strings.ReplaceAll(c.name, " ", "-")+".yaml", c.cert, c.key, c.ca, c.tokenKey)
		cases = append(cases,
			tc{"check-config: " + c.name, []string{"check-config", f}},
			tc{"serve: " + c.name, []string{"serve", "--config", f}},
		)
	}
	cases = append(cases,
		tc{"check-config: key as a CRL", []string{"check-config", keyAsCRL}},
		tc{"serve: key as a CRL", []string{"serve", "--config", keyAsCRL}})
	// pki with a damaged or wrong CA key, and init given keys in the
	// wrong slots.
	badCA := filepath.Join(dir, "badca")
	if err := os.MkdirAll(badCA, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badCA, pki.CAFile), pki.EncodeCertsPEM(ca.Cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badCA, pki.CAKeyFile), damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	wrongCA := filepath.Join(dir, "wrongca")
	if err := os.MkdirAll(wrongCA, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(wrongCA, pki.CAFile), pki.EncodeCertsPEM(ca.Cert), 0o644)
	os.WriteFile(filepath.Join(wrongCA, pki.CAKeyFile), serverKey, 0o600)
	badDERCA := filepath.Join(dir, "badderca")
	if err := os.MkdirAll(badDERCA, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(badDERCA, pki.CAFile), pki.EncodeCertsPEM(ca.Cert), 0o644)
	os.WriteFile(filepath.Join(badDERCA, pki.CAKeyFile), mustRead(t, filepath.Join(dir, "bad-der-key.pem")), 0o600)
	keyAsCA := filepath.Join(dir, "keyasca")
	if err := os.MkdirAll(keyAsCA, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(keyAsCA, pki.CAFile), serverKey, 0o644)
	os.WriteFile(filepath.Join(keyAsCA, pki.CAKeyFile), serverKey, 0o600)
	for _, d := range []struct{ name, dir string }{{"damaged CA key", badCA}, {"CA key whose DER does not parse", badDERCA}, {"CA key of another certificate", wrongCA}, {"key as the CA certificate", keyAsCA}} {
		cases = append(cases,
			tc{"pki issue-server: " + d.name, []string{"pki", "issue-server", "--dir", d.dir, "--dns", "localhost"}},
			tc{"pki issue-client: " + d.name, []string{"pki", "issue-client", "--dir", d.dir, "--cn", "alice"}},
			tc{"pki revoke: " + d.name, []string{"pki", "revoke", "--dir", d.dir, "--serial", "1"}},
		)
	}
	for i, c := range []struct{ name, cert, key, ca string }{
		{"key as --cert-file", "server-key.pem", "server-key.pem", ""},
		{"certificate as --key-file", "server.pem", "server.pem", ""},
		{"key that does not match", "server.pem", "other-key.pem", ""},
		{"damaged --key-file", "server.pem", "damaged-key.pem", ""},
		{"key as --ca-file", "", "", "server-key.pem"},
	} {
		args := []string{"init", "--upstream", "http://127.0.0.1:9", "--dir", filepath.Join(dir, "init", string(rune('a'+i)))}
		if c.cert != "" {
			args = append(args, "--cert-file", filepath.Join(dir, c.cert), "--key-file", filepath.Join(dir, c.key))
		}
		if c.ca != "" {
			args = append(args, "--ca-file", filepath.Join(dir, c.ca))
		}
		cases = append(cases, tc{"init: " + c.name, args})
	}

	t.Chdir(dir)
	// The twin: the same files in their places work.
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"check-config", okConfig}, &stdout, &stderr); code != 0 {
		t.Fatalf("check-config of the good config: exit %d: %s", code, stderr.String())
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // serve, should it start, stops at once
			code := run(ctx, c.args, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code == 0 {
				t.Errorf("exit 0, want an error; output:\n%s", out)
			}
			if strings.Contains(out, "PRIVATE KEY") {
				t.Errorf("the output names a PEM private key block:\n%s", out)
			}
			for _, s := range secrets {
				for i := 0; i+16 <= len(s); i++ {
					if strings.Contains(out, string(s[i:i+16])) {
						t.Fatalf("the output holds key material %q:\n%s", s[i:i+16], out)
					}
				}
			}
			t.Logf("exit %d: %s", code, strings.TrimSpace(stderr.String()))
		})
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
