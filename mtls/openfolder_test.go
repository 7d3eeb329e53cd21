//go:build !windows

package mtls_test

import (
	"os"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestOpenFolderRefused: whoever may write the folder of a client CA
// bundle, a CRL or a key can rename their own file over it (their CA, an
// older CRL, their key), so NewServer refuses such files, each at its
// field, and Reload keeps the state in use when a folder opens later.
// The twins: the same folder closed, sticky (as /tmp and Kubernetes'
// Secret volumes are) or open with InsecureAllowOpenFolders loads.
func TestOpenFolderRefused(t *testing.T) {
	t.Parallel()
	ca := pkitest.CA(t)
	for _, tc := range []struct {
		name     string
		mode     os.FileMode
		insecure bool
		refused  bool
	}{
		{"closed", 0o700, false, false},
		{"group-writable", 0o770, false, false},
		{"open", 0o777, false, true},
		{"open-sticky", 0o777 | os.ModeSticky, false, false},
		{"open-insecure-allowed", 0o777, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, cfg := pkiDir(t, ca)
			cfg.InsecureAllowOpenFolders = tc.insecure
			if err := os.Chmod(dir, tc.mode); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.Chmod(dir, 0o700) })
			_, err := mtls.NewServer(cfg)
			if !tc.refused {
				if err != nil {
					t.Fatalf("got %v, want the files loaded", err)
				}
				return
			}
			if err == nil {
				t.Fatal("got no error, want the open folder refused")
			}
			lines := strings.Split(err.Error(), "\n")
			want := []string{"mtls: Certificates[0].KeyFile: ", "mtls: ClientCAs[0]: ", "mtls: CRLs[0]: "}
			if len(lines) != len(want) {
				t.Fatalf("got %d problems, want %d (the certificate file is not one):\n%v", len(lines), len(want), err)
			}
			for i, w := range want {
				if !strings.HasPrefix(lines[i], w) || !strings.Contains(lines[i], "which others may write (mode 0777)") || !strings.Contains(lines[i], `chmod o-w `+dir) {
					t.Errorf("problem %d: got %q, want it at %q naming the folder and the chmod", i, lines[i], w)
				}
			}
		})
	}

	t.Run("reload", func(t *testing.T) {
		dir, cfg := pkiDir(t, ca)
		s := newServer(t, cfg)
		before := defaultCert(s)
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		if err := pkitest.Server(t, ca).Save(dir, pki.ServerFile, pki.ServerKeyFile); err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(); err == nil || !strings.Contains(err.Error(), "others may write") {
			t.Fatalf("got %v, want the open folder refused", err)
		}
		if defaultCert(s) != before {
			t.Error("a refused reload replaced the certificate")
		}
		if err := os.Chmod(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := s.Reload(); err != nil {
			t.Fatalf("closed again: %v", err)
		}
		if defaultCert(s) == before {
			t.Error("the reload after closing the folder kept the old certificate")
		}
	})
}
