package proctest_test

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/internal/proctest"
)

// TestMain makes this test binary the child process when
// PROCTEST_LISTEN is set: it listens there until killed.
func TestMain(m *testing.M) {
	if addr := os.Getenv("PROCTEST_LISTEN"); addr != "" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			os.Exit(3)
		}
		for {
			c, err := ln.Accept()
			if err != nil {
				os.Exit(0)
			}
			c.Close()
		}
	}
	os.Exit(m.Run())
}

// TestStart: Start returns once the child listens, and the child is
// gone when the test ends.
func TestStart(t *testing.T) {
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	var cmd *exec.Cmd
	t.Run("start", func(t *testing.T) {
		cmd = exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "PROCTEST_LISTEN="+addr)
		proctest.Start(t, addr, cmd)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("the child does not listen: %v", err)
		}
		c.Close()
	})
	if cmd.ProcessState == nil {
		t.Error("the child was not waited for at the end of its test")
	}
}

func TestNginxConf(t *testing.T) {
	conf := proctest.NginxConf("/tmp/x", "server { listen 1; }")
	for _, want := range []string{"daemon off;", "pid /tmp/x/nginx.pid;", "proxy_temp_path /tmp/x/proxy;", "server { listen 1; }\n}"} {
		if !strings.Contains(conf, want) {
			t.Errorf("the configuration lacks %q:\n%s", want, conf)
		}
	}
}
