// Package proc runs the programs a benchmark measures and charges them
// what they cost: each starts on a free loopback port in a process group
// of its own with its output in a log file, is waited for until it
// listens, is charged the CPU time and peak memory of its process tree
// (from /proc, so Linux only), and is stopped with its group.
//
// bench/cmd/benchrun runs the servers under test with it, and
// bench/cmd/authzload forgeproof authz.
package proc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Process is a program a benchmark started, in its own process group
// so that its workers stop with it.
type Process struct {
	// Name names it in errors and its log file.
	Name string
	// Log is the file holding its stdout and stderr.
	Log string
	// Also are processes started with this one that belong to the same
	// server under test (forgeproof authz behind nginx): they are
	// measured, checked and stopped with it.
	Also []*Process

	cmd  *exec.Cmd
	done chan struct{}
	err  error // set when done is closed
}

// Start runs argv in dir with env added to this process's environment
// and its output in dir/name.log.
func Start(dir, name string, env []string, argv ...string) (*Process, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Process{Name: name, cmd: cmd, Log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited returns an error, with the tail of the log, when the process or
// one of Also has ended; nil while they all run.
func (p *Process) Exited() error {
	for _, a := range p.Also {
		if err := a.Exited(); err != nil {
			return err
		}
	}
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v): %s", p.Name, p.err, Tail(p.Log, 600))
	default:
		return nil
	}
}

// Stop ends the process group with SIGTERM, then SIGKILL after a grace
// period of 5s, and then those of Also. It signals only the group Start
// created.
func (p *Process) Stop() {
	defer func() {
		for _, a := range p.Also {
			a.Stop()
		}
	}()
	pgid := p.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
}

// WaitTCP waits until addr accepts TCP connections, for up to 10s; it
// fails at once when the process exits.
func (p *Process) WaitTCP(ctx context.Context, addr string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := p.Exited(); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("%s not listening on %s: %v", p.Name, addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tree returns the process and all its descendants, and those of the
// processes in Also, from /proc.
func (p *Process) tree() []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if pp, err := ppid(pid); err == nil {
			children[pp] = append(children[pp], pid)
		}
	}
	var out []int
	queue := []int{p.cmd.Process.Pid}
	for _, a := range p.Also {
		queue = append(queue, a.cmd.Process.Pid)
	}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		out = append(out, pid)
		queue = append(queue, children[pid]...)
	}
	return out
}

// statFields returns the fields of /proc/pid/stat after the command name.
func statFields(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	// The command name is in parentheses and may itself hold spaces.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil, errors.New("malformed stat")
	}
	return strings.Fields(string(b[i+1:])), nil
}

func ppid(pid int) (int, error) {
	f, err := statFields(pid)
	if err != nil || len(f) < 2 {
		return 0, errors.New("no ppid")
	}
	return strconv.Atoi(f[1])
}

// clockTick is USER_HZ, the unit of utime and stime in /proc/pid/stat; it
// is 100 on every Linux architecture Go supports.
const clockTick = 100

// CPUTime is the user plus system CPU time used so far by the process,
// the processes in Also and their descendants (living ones; nginx
// workers live as long as the run). Take it before and after a measured
// window: the difference is what the window cost.
func (p *Process) CPUTime() time.Duration {
	var ticks int64
	for _, pid := range p.tree() {
		f, err := statFields(pid)
		if err != nil || len(f) < 13 {
			continue
		}
		// utime and stime are fields 14 and 15 of stat, 12 and 13 here.
		u, _ := strconv.ParseInt(f[11], 10, 64)
		s, _ := strconv.ParseInt(f[12], 10, 64)
		ticks += u + s
	}
	return time.Duration(ticks) * time.Second / clockTick
}

// PeakRSS is the sum of VmHWM (peak resident set size) over the process,
// the processes in Also and their descendants, in bytes.
func (p *Process) PeakRSS() int64 {
	var total int64
	for _, pid := range p.tree() {
		total += KB(fmt.Sprintf("/proc/%d/status", pid), "VmHWM:") * 1024
	}
	return total
}

// KB reads a "kB" field of a /proc file such as /proc/PID/status or
// /proc/meminfo ("MemTotal:"); 0 when absent.
func KB(path, field string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), field); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages, for a
// report to say how busy the machine was ("unknown" off Linux).
func LoadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// Tail returns the last n bytes of a file (a Log), for error messages.
func Tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
