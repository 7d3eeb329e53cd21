// Package proctest runs the real servers that tests put in front of or
// behind forgeproof (nginx, HAProxy, Caddy, Traefik, Django, Rails, PHP)
// for the length of a test.
package proctest

import (
	"fmt"
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/syncbuf"
)

// Start starts cmd, stops it when the test ends, and waits until addr
// accepts TCP connections (a minute at most: loading Rails under a
// loaded -race run of every package has taken over 20 s). The test fails with the
// process's output if it exits first or never listens, and logs that
// output when it fails later. cmd's Stdout and Stderr are set here.
func Start(t testing.TB, addr string, cmd *exec.Cmd) {
	t.Helper()
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	name := cmd.Path
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("%s output:\n%s", name, out)
		}
	})
	for deadline := time.Now().Add(time.Minute); ; {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s", name, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not listen on %s: %s", name, addr, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// NginxConf is a whole nginx configuration around server (one or more
// server blocks, and whatever else goes in http): in the foreground, one
// process, its pid, logs and temporary files in dir, no access log.
func NginxConf(dir, server string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, server)
}
