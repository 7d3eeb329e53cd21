package proc_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/bench/internal/proc"
	"github.com/forgeproof/forgeproof/internal/freeport"
)

// The test binary doubles as the programs the tests start: with
// PROC_TEST_HELPER set, TestMain runs helper instead of the tests.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PROC_TEST_HELPER"); mode != "" {
		helper(mode)
		return
	}
	os.Exit(m.Run())
}

// helper is a program for the tests:
//   - "burn": spends 300ms of CPU, prints "burnt", then sleeps;
//   - "parent": starts a "burn" child, prints its pid, then sleeps;
//   - "listen ADDR": listens on ADDR and sleeps;
//   - "fail": prints "no config" and exits 1.
func helper(mode string) {
	switch f := strings.Fields(mode); f[0] {
	case "burn":
		var ru syscall.Rusage
		for x := 0; ; x++ {
			if x%1_000_000 == 0 {
				syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
				if time.Duration(ru.Utime.Nano()+ru.Stime.Nano()) >= 300*time.Millisecond {
					break
				}
			}
		}
		fmt.Println("burnt")
	case "parent":
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "PROC_TEST_HELPER=burn")
		cmd.Stdout = os.Stdout
		if err := cmd.Start(); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Printf("child %d\n", cmd.Process.Pid)
	case "listen":
		ln, err := net.Listen("tcp", f[1])
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		defer ln.Close()
	case "fail":
		fmt.Println("no config")
		os.Exit(1)
	}
	time.Sleep(time.Minute)
}

func start(t *testing.T, name, mode string) *proc.Process {
	t.Helper()
	p, err := proc.Start(t.TempDir(), name, []string{"PROC_TEST_HELPER=" + mode}, os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	return p
}

// waitLog waits until p's log holds want (the helper's progress).
func waitLog(t *testing.T, p *proc.Process, want string) string {
	t.Helper()
	for {
		if b, _ := os.ReadFile(p.Log); strings.Contains(string(b), want) {
			return string(b)
		}
		if err := p.Exited(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The tests want at least 200ms charged for a burner's 300ms (getrusage
// and /proc count in different ticks) and less than that for a process
// that only starts and sleeps.

// TestCPUTime: the CPU a process's child spent is charged to the
// process; a process that only sleeps is charged (almost) nothing.
func TestCPUTime(t *testing.T) {
	idle := start(t, "idle", "listen 127.0.0.1:0")
	busy := start(t, "busy", "parent")
	waitLog(t, busy, "burnt")
	if got := busy.CPUTime(); got < 200*time.Millisecond {
		t.Errorf("a parent whose child burnt 300ms: got %v, want at least 200ms", got)
	}
	// A process starting up spends some CPU, far less than the child's.
	if got := idle.CPUTime(); got >= 200*time.Millisecond {
		t.Errorf("an idle process: got %v, want less than 200ms", got)
	}
	if got := busy.PeakRSS(); got <= 0 {
		t.Errorf("peak RSS: got %d, want > 0", got)
	}
}

// TestAlso: the processes in Also are charged, checked and stopped with
// the one they belong to.
func TestAlso(t *testing.T) {
	front := start(t, "front", "listen 127.0.0.1:0")
	back := start(t, "back", "burn")
	waitLog(t, back, "burnt")
	if got := front.CPUTime(); got >= 200*time.Millisecond {
		t.Fatalf("alone: got %v, want less than 200ms", got)
	}
	front.Also = append(front.Also, back)
	if got := front.CPUTime(); got < 200*time.Millisecond {
		t.Errorf("with the burner in Also: got %v, want at least 200ms", got)
	}
	if err := front.Exited(); err != nil {
		t.Fatalf("both running: got %v, want nil", err)
	}
	back.Stop()
	if err := front.Exited(); err == nil || !strings.Contains(err.Error(), "back exited") {
		t.Errorf("with Also stopped: got %v, want back's exit", err)
	}
}

// TestStopEndsTheGroup: Stop ends the process's children too.
func TestStopEndsTheGroup(t *testing.T) {
	p := start(t, "parent", "parent")
	log := waitLog(t, p, "burnt")
	var child int
	if _, err := fmt.Sscanf(log[strings.Index(log, "child "):], "child %d", &child); err != nil {
		t.Fatalf("no child pid in %q: %v", log, err)
	}
	if err := syscall.Kill(child, 0); err != nil {
		t.Fatalf("child %d not running before Stop: %v", child, err)
	}
	p.Stop()
	if err := p.Exited(); err == nil {
		t.Error("after Stop: Exited is nil")
	}
	// The child was reparented when its parent died; it is gone once
	// its stat no longer says it runs (a zombie awaits its new parent).
	for {
		b, err := os.ReadFile("/proc/" + strconv.Itoa(child) + "/stat")
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWaitTCP: a process that listens is waited for; one that exits is
// reported at once, with its output.
func TestWaitTCP(t *testing.T) {
	port, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ok := start(t, "listener", "listen "+addr)
	if err := ok.WaitTCP(context.Background(), addr); err != nil {
		t.Errorf("a listening process: got %v, want nil", err)
	}
	bad := start(t, "failing", "fail")
	err = bad.WaitTCP(context.Background(), "127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "failing exited") || !strings.Contains(err.Error(), "no config") {
		t.Errorf("an exiting process: got %v, want its exit and output", err)
	}
}

func TestKB(t *testing.T) {
	path := filepath.Join(t.TempDir(), "status")
	os.WriteFile(path, []byte("Name:\tx\nVmHWM:\t   1234 kB\nVmRSS:\t 99 kB\n"), 0o600)
	tests := []struct {
		name, path, field string
		want              int64
	}{
		{"present", path, "VmHWM:", 1234},
		{"absent field", path, "VmSwap:", 0},
		{"absent file", path + ".missing", "VmHWM:", 0},
	}
	for _, tc := range tests {
		if got := proc.KB(tc.path, tc.field); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
	if got := proc.KB("/proc/meminfo", "MemTotal:"); got <= 0 {
		t.Errorf("MemTotal: got %d, want > 0", got)
	}
}

// TestLoadAvg: three load averages, as /proc/loadavg starts with them.
func TestLoadAvg(t *testing.T) {
	f := strings.Fields(proc.LoadAvg())
	if len(f) != 3 {
		t.Fatalf("got %q, want three numbers", proc.LoadAvg())
	}
	for _, v := range f {
		if _, err := strconv.ParseFloat(v, 64); err != nil {
			t.Errorf("got %q, want three numbers: %v", proc.LoadAvg(), err)
		}
	}
}
