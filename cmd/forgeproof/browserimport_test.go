//go:build unix

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The browser-import shell commands that "forgeproof init" prints and
// docs/demo.md shows are run as a reader pastes them: in a fresh HOME
// (a user for whom Chromium has never run, so there is no NSS database
// yet) and then once more (a reader who runs them again after --reset or
// a new init, with the database in place). Each run must succeed and
// leave the client certificate and the CA in the database. The tests
// that check the docs read commands and flags; these commands are
// another program's, so only running them shows that they work.

// nssTools skips the test unless certutil and pk12util are installed.
func nssTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"certutil", "pk12util", "sh"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed (apt-get install libnss3-tools)", tool)
		}
	}
}

// runShellLines runs lines with sh -e in dir with HOME set, stdin closed
// (a tool that prompts fails instead of waiting), under a generous
// deadline that only stops a command that would never end.
func runShellLines(t *testing.T, dir, home string, lines []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	script := strings.Join(lines, "\n")
	cmd := exec.CommandContext(ctx, "sh", "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = nil
	// A tool that loops on a prompt is killed with its shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	out := &cappedBuffer{max: 2 << 10}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the documented commands failed (%v):\n%s\noutput (first 2 KiB):\n%s", err, script, out.String())
	}
}

// cappedBuffer keeps the first max bytes written to it.
type cappedBuffer struct {
	bytes.Buffer
	max int
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.Len(); room > 0 {
		b.Buffer.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// homeWithSpace makes a HOME whose path has a space, as on systems
// where a user's name has one: the commands must quote $HOME.
func homeWithSpace(t *testing.T) string {
	t.Helper()
	home := filepath.Join(t.TempDir(), "Jane Doe")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	return home
}

// nssHolds fails unless the NSS database of home lists every nickname.
func nssHolds(t *testing.T, home string, nicknames ...string) {
	t.Helper()
	out, err := exec.Command("certutil", "-L", "-d", "sql:"+filepath.Join(home, ".pki", "nssdb")).CombinedOutput()
	if err != nil {
		t.Fatalf("certutil -L: %v\n%s", err, out)
	}
	for _, n := range nicknames {
		if !bytes.Contains(out, []byte(n)) {
			t.Errorf("the NSS database does not hold %q:\n%s", n, out)
		}
	}
}

func TestInitBrowserImportCommandsRun(t *testing.T) {
	nssTools(t)
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"init", "--upstream", "http://127.0.0.1:8000", "--dir", dir}, &stdout, &stderr); code != 0 {
		t.Fatalf("init: exit %d\n%s", code, stderr.String())
	}
	// The lines under "Chromium on Linux, from a shell ...:", up to the
	// blank line.
	_, after, ok := strings.Cut(stdout.String(), "Chromium on Linux, from a shell")
	if ok {
		_, after, ok = strings.Cut(after, ":\n")
	}
	if !ok {
		t.Fatalf("init printed no Chromium-on-Linux steps:\n%s", stdout.String())
	}
	block, _, _ := strings.Cut(after, "\n\n")
	var lines []string
	for _, l := range strings.Split(block, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	home := homeWithSpace(t)
	runShellLines(t, ".", home, lines)
	nssHolds(t, home, "forgeproof development CA", "forgeproof-client")
	runShellLines(t, ".", home, lines)
	nssHolds(t, home, "forgeproof development CA", "forgeproof-client")
}

var shBlock = regexp.MustCompile("(?s)```sh\n(.*?)```")

func TestDemoDocBrowserImportCommandsRun(t *testing.T) {
	nssTools(t)
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "demo.md"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, m := range shBlock.FindAllStringSubmatch(string(doc), -1) {
		if strings.Contains(m[1], "pk12util") {
			for _, l := range strings.Split(m[1], "\n") {
				if l = strings.TrimSpace(l); l != "" {
					lines = append(lines, l)
				}
			}
		}
	}
	if len(lines) == 0 {
		t.Fatal("docs/demo.md has no sh block with pk12util")
	}
	// The demo's folder in the reader's cache, as the demo writes it.
	home := homeWithSpace(t)
	pkiDir := filepath.Join(home, ".cache", "forgeproof", "demo")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"demo", "--dir", pkiDir, "--listen", "localhost:0", "--attacker", "127.0.0.1:0", "--sibling", "localhost:0", "--self-test", "--quiet"}, &stdout, &stderr); code != 0 {
		t.Fatalf("demo --self-test: exit %d\n%s", code, stderr.String())
	}
	runShellLines(t, home, home, lines)
	nssHolds(t, home, "forgeproof demo CA", "alice")
	runShellLines(t, home, home, lines)
	nssHolds(t, home, "forgeproof demo CA", "alice")
}
