package main

import (
	"bufio"
	"bytes"
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

// process is a server under test (or the upstream) that this program
// started, in its own process group so that its workers stop with it.
type process struct {
	name string
	cmd  *exec.Cmd
	log  string // file holding its stdout and stderr
	done chan struct{}
	err  error // set when done is closed
	// also are processes started with this one that belong to the same
	// server under test (forgeproof authz behind nginx): they are
	// measured, checked and stopped with it.
	also []*process
}

// startProcess runs argv with its output in dir/name.log.
func startProcess(dir, name string, env []string, argv ...string) (*process, error) {
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
	p := &process{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended, with its log's tail.
func (p *process) exited() error {
	for _, a := range p.also {
		if err := a.exited(); err != nil {
			return err
		}
	}
	select {
	case <-p.done:
		return fmt.Errorf("%s exited (%v): %s", p.name, p.err, tail(p.log, 600))
	default:
		return nil
	}
}

// stop ends the process group with SIGTERM, then SIGKILL after a grace
// period. It signals only the group this program created.
func (p *process) stop() {
	defer func() {
		for _, a := range p.also {
			a.stop()
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

// tree returns the process and all its descendants, and those of the
// processes in also, from /proc.
func (p *process) tree() []int {
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
	for _, a := range p.also {
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

// cpuTime is the user plus system CPU time used so far by the process
// and its descendants (living ones; nginx workers live as long as the run).
func (p *process) cpuTime() time.Duration {
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

// peakRSS is the sum of VmHWM (peak resident set size) over the process
// and its descendants, in bytes.
func (p *process) peakRSS() int64 {
	var total int64
	for _, pid := range p.tree() {
		total += procKB(fmt.Sprintf("/proc/%d/status", pid), "VmHWM:") * 1024
	}
	return total
}

// procKB reads a "kB" field of a /proc file such as /proc/PID/status or
// /proc/meminfo; 0 when absent.
func procKB(path, field string) int64 {
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

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the last n bytes of a file, for error messages.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}
