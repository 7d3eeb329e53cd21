//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/dirlock"
	"github.com/forgeproof/forgeproof/pki"
)

// runOK runs forgeproof with args and fails the test unless it exits 0.
func runOK(t *testing.T, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), args, &stdout, &stderr); code != 0 {
		t.Fatalf("forgeproof %s: exit %d: %s", strings.Join(args, " "), code, stderr.String())
	}
}

// crlSerials returns the serials dir/crl.pem lists, in hex.
func crlSerials(t *testing.T, dir string) []string {
	t.Helper()
	crl, err := pki.LoadCRL(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range crl.RevokedCertificateEntries {
		out = append(out, serialHex(e.SerialNumber))
	}
	return out
}

func serialOf(t *testing.T, path string) string {
	t.Helper()
	c, err := pki.ParseCertPEM(readFileT(t, path))
	if err != nil {
		t.Fatal(err)
	}
	return serialHex(c.SerialNumber)
}

func readFileT(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPKICommandsTakeTheFolderLock: a revoke that read crl.pem before
// another revoke wrote it drops that revocation when it writes (the
// negative control plays such a late writer: cron's --refresh beside an
// admin's revoke, run by hand, lost alice's revocation, and both said
// they had written crl.pem). So every pki command and init take the
// folder's lock, and refuse while another holds it, writing nothing; the
// same commands succeed once it is free.
func TestPKICommandsTakeTheFolderLock(t *testing.T) {
	top := t.TempDir()
	dir := filepath.Join(top, "pki")
	runOK(t, "pki", "init", "--dir", dir)
	runOK(t, "pki", "issue-client", "--dir", dir, "--cn", "alice", "--name", "alice")
	alice := serialOf(t, filepath.Join(dir, "alice.pem"))

	// Negative control: the lost update the lock prevents.
	ca, err := pki.LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	stale, err := pki.LoadCRL(dir) // the late writer reads the CRL...
	if err != nil {
		t.Fatal(err)
	}
	runOK(t, "pki", "revoke", "--dir", dir, "--cert", filepath.Join(dir, "alice.pem"))
	if got := crlSerials(t, dir); len(got) != 1 || got[0] != alice {
		t.Fatalf("after revoke: got %v, want [%s]", got, alice)
	}
	der, err := ca.Revoke(stale) // ...and writes it back, renewed
	if err != nil {
		t.Fatal(err)
	}
	if err := pki.SaveCRL(dir, der); err != nil {
		t.Fatal(err)
	}
	if got := crlSerials(t, dir); len(got) != 0 {
		t.Fatalf("negative control: got %v, want alice's revocation lost", got)
	}

	unlock, err := dirlock.Lock(dir)
	if err != nil {
		t.Fatal(err)
	}
	crlBefore := readFileT(t, filepath.Join(dir, pki.CRLFile))
	for _, args := range [][]string{
		{"pki", "revoke", "--dir", dir, "--cert", filepath.Join(dir, "alice.pem")},
		{"pki", "revoke", "--dir", dir, "--refresh"},
		{"pki", "issue-client", "--dir", dir, "--cn", "bob", "--name", "bob", "--p12"},
		{"pki", "issue-server", "--dir", dir, "--name", "web"},
		{"pki", "init", "--dir", dir, "--force"},
		{"init", "--upstream", "http://127.0.0.1:8080", "--dir", top, "--force"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), args, &stdout, &stderr)
		want := "another forgeproof command is writing in " + dir + " (it holds the folder's lock): try again when it is done"
		if code != 1 || !strings.Contains(stderr.String(), want) {
			t.Errorf("%s while locked: exit %d, stderr %q; want exit 1 and %q", strings.Join(args[:2], " "), code, stderr.String(), want)
		}
		if stdout.Len() != 0 {
			t.Errorf("%s while locked: stdout %q, want nothing", strings.Join(args[:2], " "), stdout.String())
		}
	}
	if !bytes.Equal(readFileT(t, filepath.Join(dir, pki.CRLFile)), crlBefore) {
		t.Error("crl.pem changed while the folder was locked")
	}
	for _, f := range []string{"bob.pem", "bob-key.pem", "bob.p12", "web.pem", "web-key.pem", "forgeproof.yaml"} {
		if _, err := os.Lstat(filepath.Join(dir, f)); err == nil {
			t.Errorf("%s was written while the folder was locked", f)
		}
	}
	if _, err := os.Lstat(filepath.Join(top, "forgeproof.yaml")); err == nil {
		t.Error("forgeproof.yaml was written while pki/ was locked")
	}

	// The allowed twins, once the lock is free.
	unlock()
	runOK(t, "pki", "revoke", "--dir", dir, "--cert", filepath.Join(dir, "alice.pem"))
	if got := crlSerials(t, dir); len(got) != 1 || got[0] != alice {
		t.Errorf("after revoke: got %v, want [%s]", got, alice)
	}
	runOK(t, "pki", "issue-client", "--dir", dir, "--cn", "bob", "--name", "bob", "--p12")
	runOK(t, "pki", "issue-server", "--dir", dir, "--name", "web")
	runOK(t, "init", "--upstream", "http://127.0.0.1:8080", "--dir", top, "--force")
}
