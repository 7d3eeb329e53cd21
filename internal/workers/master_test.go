//go:build linux

package workers

import (
	"context"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
)

// shMaster is a master of n workers, each the shell script script (with
// $DIR a folder of the test's), on one listener of 127.0.0.1:0.
func shMaster(t *testing.T, n int, script string) (*Master, string) {
	t.Helper()
	dir := t.TempDir()
	m := &Master{
		Workers:   n,
		Listeners: []gateway.BoundListener{{Address: "127.0.0.1:0"}},
		Command: func(id int) *exec.Cmd {
			cmd := exec.Command("/bin/sh", "-c", script)
			cmd.Env = append(os.Environ(), "DIR="+dir)
			return cmd
		},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if err := m.Listen(); err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// waitFile polls until path holds at least lines lines, for up to 10s.
func waitFile(t *testing.T, path string, lines int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		if l := strings.Fields(string(b)); len(l) >= lines {
			return l
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q, want %d lines", path, b, lines)
		}
	}
}

// TestMasterWorkerEnv: each worker gets GOMAXPROCS an equal share of the
// master's (at least 1), and the master's memory limit divided by the
// workers; with no limit, none.
func TestMasterWorkerEnv(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4)) // 2 each, whatever the machine
	for _, limit := range []int64{math.MaxInt64, 3 << 30} {
		old := debug.SetMemoryLimit(limit)
		m, dir := shMaster(t, 2, `echo "$GOMAXPROCS,${GOMEMLIMIT-none}" >> "$DIR/env"; exec sleep 30`)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(ctx, nil) }()
		got := waitFile(t, filepath.Join(dir, "env"), 2)
		cancel()
		<-done
		debug.SetMemoryLimit(old)
		want := strconv.Itoa(max(1, runtime.GOMAXPROCS(0)/2)) + ","
		if limit == math.MaxInt64 {
			want += "none"
		} else {
			want += strconv.FormatInt(limit/2, 10)
		}
		for _, g := range got {
			if g != want {
				t.Errorf("limit %d: a worker's GOMAXPROCS,GOMEMLIMIT is %q, want %q", limit, g, want)
			}
		}
	}
}

// TestMasterStopTimeoutKills: a worker still running StopTimeout after
// SIGTERM is killed, and Run returns its error.
func TestMasterStopTimeoutKills(t *testing.T) {
	m, dir := shMaster(t, 1, `trap "" TERM; echo up > "$DIR/up"; while :; do sleep 0.05; done`)
	m.StopTimeout = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, nil) }()
	waitFile(t, filepath.Join(dir, "up"), 1)
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "worker 0: signal: killed") {
			t.Errorf("Run: %v, want worker 0 killed", err)
		}
	case <-time.After(5 * time.Second):
		m.signalAll(syscall.SIGKILL) // not to leave it behind
		t.Fatal("Run still waits for a worker that ignores SIGTERM, 5s after StopTimeout")
	}
}

// TestMasterRestartBackoff: a worker that keeps exiting at once is
// started again after pauses that double from 100ms.
func TestMasterRestartBackoff(t *testing.T) {
	m, dir := shMaster(t, 1, `date +%s%N >> "$DIR/starts"; exit 3`)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx, nil) }()
	got := waitFile(t, filepath.Join(dir, "starts"), 4) // 0, 100ms, 300ms, 700ms
	cancel()
	// A worker started just before the stop exits 3 on its own: Run
	// reports it, as it reports any worker that did not drain cleanly.
	if err := <-done; err != nil && !strings.Contains(err.Error(), "worker 0: exit status 3") {
		t.Errorf("Run: %v", err)
	}
	var at []time.Duration
	for _, s := range got[:4] {
		ns, _ := strconv.ParseInt(s, 10, 64)
		at = append(at, time.Duration(ns))
	}
	// Floors only: a pause is never shorter than its timer, and a busy
	// machine only adds to it.
	first, second, third := at[1]-at[0], at[2]-at[1], at[3]-at[2]
	if first < 90*time.Millisecond || second < 190*time.Millisecond || third < 390*time.Millisecond {
		t.Errorf("pauses between starts %v, %v, %v: want at least 100ms, 200ms, 400ms", first, second, third)
	}
}
