//go:build linux

package workers

import (
	"bufio"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// envPeerDial makes the test binary a client of the abstract socket it
// names (TestMain): it prints the first line of the answer to a GET, or
// what went wrong.
const envPeerDial = "WORKERS_TEST_PEER_DIAL"

func TestMain(m *testing.M) {
	if name := os.Getenv(envPeerDial); name != "" {
		c, err := net.Dial("unix", name)
		if err != nil {
			fmt.Println("dial:", err)
			os.Exit(0)
		}
		io.WriteString(c, "GET /readyz HTTP/1.0\r\n\r\n")
		line, err := bufio.NewReader(c).ReadString('\n')
		fmt.Printf("%q %v\n", line, err)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestAdminSocketSameUserOnly: a worker's admin socket is in the abstract
// namespace, which any local process may connect to; peerChecked answers
// only processes of its own user. A client running as nobody gets no
// answer; its twin, as this user, gets the handler's.
func TestAdminSocketSameUserOnly(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("runs a client as another user: needs root")
	}
	name := "@forgeproof-peer-test-" + rand.Text()
	ln, err := net.Listen("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })}
	go srv.Serve(peerChecked{ln})
	defer srv.Close()

	// The test binary, where another user may run it.
	dir, err := os.MkdirTemp("", "peer-test")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	self, err := os.ReadFile("/proc/self/exe")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "client")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	ask := func(cred *syscall.Credential) string {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), envPeerDial+"="+name)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("client: %v: %s", err, out)
		}
		return string(out)
	}
	if got := ask(nil); !strings.Contains(got, "200 OK") {
		t.Errorf("as this user: %s, want 200 OK", got)
	}
	if got := ask(&syscall.Credential{Uid: 65534, Gid: 65534}); strings.Contains(got, "HTTP/") {
		t.Errorf("as nobody: %s, want no answer", got)
	}
}
