package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/forgeproof/forgeproof/internal/freeport"
)

// TestUsageExitCodes: every usage or bad-value error exits 2 with one
// "forgeproof CMD: error:" line naming the flag (issue 12), and its good
// twin does not fail as a usage error.
func TestUsageExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"unknown flag", []string{"serve", "--nope"}, "--nope"},
		{"bad flag value", []string{"pki", "init", "--dir", dir, "--key", "dsa"}, `invalid value "dsa" for --key`},
		{"flag without value", []string{"scan", "--target"}, "--target needs a value"},
		{"spiffe id of another scheme", []string{"pki", "issue-client", "--dir", dir, "--spiffe-id", "http://x/y"}, `invalid --spiffe-id "http://x/y"`},
		{"dns name with spaces", []string{"pki", "issue-server", "--dir", dir, "--dns", "bad name!"}, `invalid --dns "bad name!"`},
		{"email without @", []string{"pki", "issue-client", "--dir", dir, "--email", "notanemail"}, `invalid --email "notanemail"`},
		{"name escaping the folder", []string{"pki", "issue-client", "--dir", dir, "--cn", "x", "--name", "../x"}, `invalid --name "../x"`},
		{"missing password file", []string{"pki", "issue-client", "--dir", dir, "--cn", "x", "--p12", "--p12-password-file", "/nonexistent"}, `--p12-password-file "/nonexistent"`},
		{"demo listen without port", []string{"demo", "--dir", dir, "--listen", "localhost"}, `invalid --listen "localhost"`},
		{"init without upstream", []string{"init", "--dir", dir}, "--upstream is required"},
		{"init upstream without scheme", []string{"init", "--dir", dir, "--upstream", "127.0.0.1:8080"}, `invalid --upstream "127.0.0.1:8080": no scheme: want a URL such as http://127.0.0.1:8080`},
		{"init upstream host:port", []string{"init", "--dir", dir, "--upstream", "localhost:8080"}, `invalid --upstream "localhost:8080": no scheme: want a URL such as http://localhost:8080`},
		{"init upstream ftp", []string{"init", "--dir", dir, "--upstream", "ftp://x"}, "scheme must be http or https"},
		{"init host not a DNS name", []string{"init", "--dir", dir, "--upstream", "http://127.0.0.1:1", "--host", "a_b!"}, `invalid --host "a_b!"`},
		{"init host a URL", []string{"init", "--dir", dir, "--upstream", "http://127.0.0.1:1", "--host", "https://a.example"}, `invalid --host "https://a.example"`},
		{"init listen without port", []string{"init", "--dir", dir, "--upstream", "http://127.0.0.1:1", "--listen", "localhost"}, `invalid --listen "localhost"`},
		{"init public admin", []string{"init", "--dir", dir, "--upstream", "http://127.0.0.1:1", "--admin", "0.0.0.0:9090"}, `invalid --admin "0.0.0.0:9090": must be a loopback address`},
		{"init cert without key", []string{"init", "--dir", dir, "--upstream", "http://127.0.0.1:1", "--cert-file", "x.pem"}, "--cert-file and --key-file go together"},
		{"init missing CA file", []string{"init", "--dir", dir, "--upstream", "http://127.0.0.1:1", "--ca-file", "/nonexistent"}, `--ca-file "/nonexistent"`},
		{"check-config without a file", []string{"check-config"}, "want exactly one config file"},
		{"demo sibling on another host than the bank", []string{"demo", "--dir", dir, "--listen", "localhost:0", "--sibling", "127.0.0.1:0", "--self-test"}, `invalid --sibling "127.0.0.1:0": the same-site attacker must be on the bank's host (localhost)`},
		{"demo bank on 127.0.0.1, sibling on localhost", []string{"demo", "--dir", dir, "--listen", "127.0.0.1:0", "--sibling", "localhost:0", "--self-test"}, `invalid --sibling "localhost:0"`},
		{"demo attacker off loopback", []string{"demo", "--dir", dir, "--attacker", "192.0.2.1:8444"}, `invalid --attacker "192.0.2.1:8444": the demo serves on loopback only`},
		{"serve with a bad interval", []string{"serve", "--watch-interval", "1ms"}, "--watch-interval"},
		{"boolean flag with a value", []string{"serve", "--watch=maybe"}, `invalid boolean value "maybe" for --watch`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, &stdout, &stderr)
			if code != 2 {
				t.Errorf("exit status %d, want 2; stderr:\n%s", code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("stderr %q, want it to contain %q", stderr.String(), tt.want)
			}
			first, _, _ := strings.Cut(stderr.String(), "\n")
			if cmd, _, _ := strings.Cut(first, ": error: "); cmd != "forgeproof "+tt.args[0] && !strings.HasPrefix(cmd, "forgeproof "+tt.args[0]+" ") {
				t.Errorf("first line %q, want the prefix \"forgeproof %s[ SUB]: error: \"", first, tt.args[0])
			}
			if strings.Contains(stderr.String(), " -"+strings.TrimLeft(tt.want, "-")) && strings.HasPrefix(tt.want, "--") {
				t.Errorf("stderr %q spells the flag with one dash", stderr.String())
			}
		})
	}
}

// TestServeAdminPortInUse (issue 12): an admin port in use is reported
// with the config key at fault, admin.address. (Its twin, the same config
// with a free admin port serving, is testdata/init.txt.)
func TestServeAdminPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "--dir", dir, "--upstream", "http://127.0.0.1:1",
		"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--admin", taken.Addr().String()}, &stdout, &stderr); code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	code := run(context.Background(), []string{"serve", "--config", filepath.Join(dir, "forgeproof.yaml")}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("serve: exit %d, want 1; stderr:\n%s", code, stderr.String())
	}
	want := fmt.Sprintf("forgeproof serve: error: %s: admin.address %q: ", filepath.Join(dir, "forgeproof.yaml"), taken.Addr().String())
	if !strings.Contains(stderr.String(), want) || !strings.Contains(stderr.String(), "address already in use") {
		t.Errorf("stderr %q, want %q … address already in use", stderr.String(), want)
	}
}

// TestInitChecksGivenFiles: init checks --cert-file and --ca-file as
// check-config does (a client certificate is neither a server
// certificate nor a CA) and refuses them before writing anything; the
// twin with a server certificate and the CA writes the config.
func TestInitChecksGivenFiles(t *testing.T) {
	dir := t.TempDir()
	pkiDir := filepath.Join(dir, "pki")
	for _, args := range [][]string{
		{"pki", "init", "--dir", pkiDir},
		{"pki", "issue-server", "--dir", pkiDir},
		{"pki", "issue-client", "--dir", pkiDir, "--dns", "localhost"},
	} {
		var stderr bytes.Buffer
		if code := run(context.Background(), args, io.Discard, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, stderr.String())
		}
	}
	p := func(f string) string { return filepath.Join(pkiDir, f) }
	// serve refuses a certificate file with the key pasted in: so must init.
	withKey := append(mustRead(t, p("server.pem")), mustRead(t, p("server-key.pem"))...)
	if err := os.WriteFile(p("server-with-key.pem"), withKey, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string // "" for success
	}{
		{"client certificate as server certificate", []string{"--cert-file", p("client.pem"), "--key-file", p("client-key.pem"), "--ca-file", p("ca.pem")}, "is for client authentication only"},
		{"key of another certificate", []string{"--cert-file", p("server.pem"), "--key-file", p("client-key.pem"), "--ca-file", p("ca.pem")}, "private key does not match"},
		{"key in the certificate file", []string{"--cert-file", p("server-with-key.pem"), "--key-file", p("server-key.pem"), "--ca-file", p("ca.pem")}, "keep keys out of certificate files"},
		{"server certificate without --host", []string{"--cert-file", p("server.pem"), "--key-file", p("server-key.pem"), "--host", "app.example", "--ca-file", p("ca.pem")}, `does not cover "app.example"`},
		{"client certificate as CA", []string{"--ca-file", p("client.pem")}, "is not a CA certificate"},
		{"server certificate and CA", []string{"--cert-file", p("server.pem"), "--key-file", p("server-key.pem"), "--ca-file", p("ca.pem")}, ""},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(dir, fmt.Sprint(i))
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"init", "--dir", out, "--upstream", "http://127.0.0.1:1"}, tt.args...), &stdout, &stderr)
			if tt.want == "" {
				if code != 0 {
					t.Fatalf("exit %d: %s", code, stderr.String())
				}
				cfg, err := os.ReadFile(filepath.Join(out, "forgeproof.yaml"))
				if err != nil || !strings.Contains(string(cfg), p("server.pem")) || strings.Contains(stdout.String(), "client.p12") {
					t.Errorf("config %q (%v), stdout %q: want the given files and no dev client certificate", cfg, err, stdout.String())
				}
				return
			}
			if code != 2 || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr.String(), tt.want)
			}
			if _, err := os.Stat(out); err == nil {
				t.Errorf("%s was created by a refused init", out)
			}
		})
	}
}

// TestListenHint: "bind: permission denied" (a port under 1024 without
// root) is followed by how to allow it; other listen errors get no hint.
func TestListenHint(t *testing.T) {
	denied := fmt.Errorf("gateway: listeners[0].address %q: %w", "127.0.0.1:443",
		&net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EACCES)})
	if h := listenHint(denied); !strings.Contains(h, "setcap cap_net_bind_service=+ep") || !strings.Contains(h, "1024") {
		t.Errorf("listenHint(%v) = %q, want the setcap command and the high-port alternative", denied, h)
	}
	inUse := &net.OpError{Op: "listen", Net: "tcp", Err: os.NewSyscallError("bind", syscall.EADDRINUSE)}
	if h := listenHint(inUse); h != "" {
		t.Errorf("listenHint(%v) = %q, want none", inUse, h)
	}
}
