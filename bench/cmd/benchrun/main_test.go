package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/bench/internal/proc"
	"github.com/forgeproof/forgeproof/bench/load"
	"github.com/forgeproof/forgeproof/internal/freeport"
)

// buildTools builds the upstream and the bare Go proxy into a temporary
// folder, as run.sh does.
func buildTools(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	out, err := exec.Command("go", "build", "-o", bin+"/", "../upstream", "../goproxy").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestSmokeGoproxy runs every phase briefly against the bare Go proxy: a
// real mTLS server, a real upstream, real sockets.
func TestSmokeGoproxy(t *testing.T) {
	if testing.Short() {
		t.Skip("run.sh --smoke runs the same against every server")
	}
	bin := buildTools(t)
	c, err := parseFlags([]string{"-bin", bin, "-servers", "goproxy", "-smoke", "-strict"})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := measure(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	for _, ph := range phases {
		runs := rep.values("goproxy", ph, func(x sample) float64 { return float64(x.Result.OK) })
		if len(runs) != 1 || runs[0] == 0 {
			t.Errorf("%s: got runs %v, want one with successes", ph, runs)
		}
		if n, first := rep.errorsIn("goproxy", ph); n != 0 {
			t.Errorf("%s: got %d errors (%s), want none", ph, n, first)
		}
	}
	if got := rep.stat("goproxy", phaseResumed, func(x sample) float64 { return x.Result.ResumedFraction() }).Median; got < 0.5 {
		t.Errorf("resumed fraction: got %v, want most connections resumed", got)
	}
	if got := rep.stat("goproxy", phaseFull, func(x sample) float64 { return x.Result.ResumedFraction() }).Median; got != 0 {
		t.Errorf("full handshakes resumed: got %v, want 0", got)
	}
	if rep.Servers[0].PeakRSS <= 0 {
		t.Errorf("peak RSS: got %d, want > 0", rep.Servers[0].PeakRSS)
	}
	md := rep.markdown()
	if !strings.Contains(md, "| goproxy | ") || !strings.Contains(md, "Smoke run") {
		t.Errorf("markdown lacks the goproxy row or the smoke warning:\n%s", md)
	}
}

// TestStartServerChecksClientAuth: a server that answers clients without a
// certificate is not comparable and must be refused; its twin with client
// authentication on is accepted.
func TestStartServerChecksClientAuth(t *testing.T) {
	bin := buildTools(t)
	dir := t.TempDir()
	f, client, err := mintPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	upPort, err := freeport.Loopback()
	if err != nil {
		t.Fatal(err)
	}
	upAddr := fmt.Sprintf("127.0.0.1:%d", upPort)
	up, err := proc.Start(dir, "upstream", nil, filepath.Join(bin, "upstream"), "-listen", upAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer up.Stop()
	if err := up.WaitTCP(context.Background(), upAddr); err != nil {
		t.Fatal(err)
	}

	insecure := kind{name: "goproxy-without-client-auth", version: func(string) (string, error) { return "test", nil },
		start: func(bin string, f files, port int, upstream string) (*proc.Process, error) {
			return proc.Start(f.Dir, "insecure", nil, filepath.Join(bin, "goproxy"),
				"-listen", fmt.Sprintf("127.0.0.1:%d", port), "-cert", f.Cert, "-key", f.Key, "-client-ca", f.CA,
				"-upstream", "http://"+upstream, "-insecure-no-client-auth")
		}}
	secure, _ := kindNamed("goproxy")
	c := config{bin: bin}
	tests := []struct {
		name    string
		k       kind
		wantErr string
	}{
		{name: "requires client certificates", k: secure, wantErr: ""},
		{name: "answers without a certificate", k: insecure, wantErr: "without a certificate"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var info serverInfo
			s, err := startServer(context.Background(), c, tc.k, f, client, upAddr, &info)
			if s != nil {
				defer s.proc.Stop()
			}
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tc.wantErr == "") != (err == nil) || !strings.Contains(got, tc.wantErr) {
				t.Errorf("got error %q, want one containing %q", got, tc.wantErr)
			}
		})
	}
}

// TestTargets checks the verdicts on a made-up report: each target once
// met and once missed.
func TestTargets(t *testing.T) {
	mk := func(server, phase string, ok int64, p99 time.Duration) sample {
		return sample{Server: server, Phase: phase, Round: 1, Result: load.Result{Elapsed: time.Second, OK: ok, Latency: load.Percentiles{P99: p99}}}
	}
	withCPU := func(x sample, cpu time.Duration) sample { x.ServerCPU = cpu; return x }
	tests := []struct {
		name string
		fp   int64         // forgeproof's keep-alive and full-handshake rate
		cpu  time.Duration // forgeproof's server CPU in the keep-alive run (nginx: 60ms for 2000)
		p99  time.Duration
		want []string
	}{
		{name: "faster than Caddy, slower than nginx", fp: 1000, cpu: 60 * time.Millisecond, p99: 1500 * time.Microsecond, want: []string{
			"≥ Caddy's (forgeproof ÷ Caddy ≥ 1) | 1.25× | yes",
			"≥ 0.85× nginx's | 0.50× | no",
			"CPU per request ≤ 1.5× nginx's | 2.00× | no",
			"≥ 0.95× the bare Go proxy's | 1.00× | yes",
			"< 1 ms | 0.50 ms | yes",
		}},
		{name: "CPU within 1.5× of nginx's", fp: 1700, cpu: 45 * time.Millisecond, p99: 500 * time.Microsecond, want: []string{
			"≥ 0.85× nginx's | 0.850× | yes",
			"CPU per request ≤ 1.5× nginx's | 0.88× | yes",
		}},
		{name: "slower than everyone", fp: 700, cpu: 60 * time.Millisecond, p99: 3 * time.Millisecond, want: []string{
			"(forgeproof ÷ Caddy ≥ 1) | 0.88× | no",
			"the bare Go proxy's | 0.70× | no",
			"< 1 ms | 2.00 ms | no",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{LatencyRate: 100, Rounds: 1}
			for _, s := range []string{"forgeproof", "goproxy", "nginx", "caddy"} {
				r.Servers = append(r.Servers, serverInfo{Name: s})
			}
			r.Runs = []sample{
				withCPU(mk("forgeproof", phaseKeepAlive, tc.fp, 0), tc.cpu), mk("caddy", phaseKeepAlive, 800, 0),
				withCPU(mk("nginx", phaseKeepAlive, 2000, 0), 60*time.Millisecond),
				mk("forgeproof", phaseFull, tc.fp, 0), mk("goproxy", phaseFull, 1000, 0),
				mk("forgeproof", phaseLatency, 1, tc.p99), mk("goproxy", phaseLatency, 1, time.Millisecond),
			}
			md := r.markdown()
			for _, w := range tc.want {
				if !strings.Contains(md, w) {
					t.Errorf("markdown lacks %q:\n%s", w, md)
				}
			}
		})
	}
}

// TestTargetsAgainstPlainNginx: with nginx-cert in the run, the targets
// are still computed against plain nginx, and forgeproof ÷ nginx-cert is
// a line of its own below them, labelled as not a target; without
// nginx-cert there is no such line (the twin).
func TestTargetsAgainstPlainNginx(t *testing.T) {
	mk := func(server string, ok int64, cpu time.Duration) sample {
		return sample{Server: server, Phase: phaseKeepAlive, Round: 1, Result: load.Result{Elapsed: time.Second, OK: ok}, ServerCPU: cpu}
	}
	for _, withCert := range []bool{true, false} {
		t.Run(fmt.Sprintf("nginx-cert %v", withCert), func(t *testing.T) {
			r := &report{Rounds: 1}
			// nginx: 30 µs a request; forgeproof and nginx-cert: 60 µs.
			r.Runs = []sample{mk("forgeproof", 1000, 60*time.Millisecond), mk("nginx", 2000, 60*time.Millisecond)}
			for _, s := range []string{"forgeproof", "nginx"} {
				r.Servers = append(r.Servers, serverInfo{Name: s})
			}
			if withCert {
				r.Servers = append(r.Servers, serverInfo{Name: "nginx-cert"})
				r.Runs = append(r.Runs, mk("nginx-cert", 1000, 60*time.Millisecond))
			}
			md := r.markdown()
			for _, w := range []string{"≥ 0.85× nginx's | 0.50× | no", "CPU per request ≤ 1.5× nginx's | 2.00× | no"} {
				if !strings.Contains(md, w) {
					t.Errorf("markdown lacks %q:\n%s", w, md)
				}
			}
			info := "For information, not a target (the targets compare with plain nginx): against nginx-cert"
			want := info + ", nginx forwarding the client's certificate and identity upstream as forgeproof does, " +
				"forgeproof's keep-alive throughput is 1.00× and its keep-alive server CPU per request 1.00×."
			if got := strings.Contains(md, want); got != withCert {
				t.Errorf("line %q present: got %v, want %v:\n%s", want, got, withCert, md)
			}
			if !withCert && strings.Contains(md, info) {
				t.Errorf("the nginx-cert line without nginx-cert:\n%s", md)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr bool
	}{
		{name: "minimal", args: []string{"-bin", "x"}},
		{name: "no bin", args: nil, wantErr: true},
		{name: "unknown server", args: []string{"-bin", "x", "-servers", "goproxy,apache"}, wantErr: true},
		{name: "nginx-cert", args: []string{"-bin", "x", "-servers", "nginx,nginx-cert"}},
		{name: "zero rounds", args: []string{"-bin", "x", "-rounds", "0"}, wantErr: true},
		{name: "negative pairs", args: []string{"-bin", "x", "-pairs", "-1"}, wantErr: true},
		{name: "no pairs", args: []string{"-bin", "x", "-pairs", "0"}},
		{name: "stray argument", args: []string{"-bin", "x", "extra"}, wantErr: true},
		{name: "some phases", args: []string{"-bin", "x", "-phases", "keepalive,latency"}},
		{name: "unknown phase", args: []string{"-bin", "x", "-phases", "keepalive,soak"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseFlags(tc.args)
			if got := err != nil; got != tc.wantErr {
				t.Errorf("error: got %v, want error %v", err, tc.wantErr)
			}
		})
	}
}

// TestMachineUse checks the table of where the machine's CPU went and the
// round-by-round ratios on a made-up report; its twin without the
// figures (a run off Linux) has no such section.
func TestMachineUse(t *testing.T) {
	mk := func(server string, round int, ok int64, m machineUse) sample {
		return sample{Server: server, Phase: phaseKeepAlive, Round: round, Result: load.Result{Elapsed: time.Second, OK: ok},
			ServerCPU: time.Duration(ok) * 50 * time.Microsecond, Machine: m}
	}
	// 1000 requests: upstream 30 µs, load generator 20 µs each, a
	// quarter of the cores idle, a twentieth stolen.
	use := machineUse{Upstream: 30 * time.Millisecond, Loader: 20 * time.Millisecond, Idle: 500 * time.Millisecond, Steal: 100 * time.Millisecond, Total: 2 * time.Second}
	for _, measured := range []bool{true, false} {
		t.Run(fmt.Sprintf("measured %v", measured), func(t *testing.T) {
			m := use
			if !measured {
				m = machineUse{}
			}
			r := &report{Rounds: 2}
			for _, s := range []string{"forgeproof", "nginx"} {
				r.Servers = append(r.Servers, serverInfo{Name: s})
			}
			r.Runs = []sample{
				mk("forgeproof", 1, 1000, m), mk("nginx", 1, 1250, m),
				mk("forgeproof", 2, 1000, m), mk("nginx", 2, 1000, m),
			}
			md := r.markdown()
			want := []string{
				"| forgeproof | 50 (50–50) | 30 (30–30) | 20 (20–20) | 100 (100–100) | 25% (25%–25%) | 5% (5%–5%) |",
				"forgeproof's keep-alive rate as a share of nginx's, round by round (each runs once in every round): 0.80×, 1.00×.",
			}
			for _, w := range want {
				if got := strings.Contains(md, w); got != measured {
					t.Errorf("markdown has %q: %v, want %v:\n%s", w, got, measured, md)
				}
			}
		})
	}
}

func TestMachineUseMinus(t *testing.T) {
	a := machineUse{Upstream: 5, Loader: 7, Idle: 11, Steal: 13, Total: 17}
	b := machineUse{Upstream: 1, Loader: 2, Idle: 3, Steal: 4, Total: 5}
	if got, want := a.minus(b), (machineUse{Upstream: 4, Loader: 5, Idle: 8, Steal: 9, Total: 12}); got != want {
		t.Errorf("minus: got %+v, want %+v", got, want)
	}
	if got := (machineUse{}).String(10); got != "machine use unknown" {
		t.Errorf("String without figures: got %q", got)
	}
}

const pairedNote = "The throughput and CPU ratios are the medians of the paired runs above"

// TestTargetsFromPairs: with paired runs, the targets judge the median of
// the pairs' ratios, not the rounds' medians, and the round tables ignore
// the paired runs. The rounds here read 0.50× nginx's rate at 2× its CPU
// per request; the pairs read 0.90× at 1.11× in one case (met) and 0.80×
// at 2× in its twin (missed).
func TestTargetsFromPairs(t *testing.T) {
	mk := func(server string, round, pair int, ok int64, cpu time.Duration) sample {
		return sample{Server: server, Phase: phaseKeepAlive, Round: round, Pair: pair,
			Result: load.Result{Elapsed: time.Second, OK: ok}, ServerCPU: cpu}
	}
	tests := []struct {
		name  string
		pairs []int64       // forgeproof's rate in each pair; nginx's is 2000
		cpu   time.Duration // forgeproof's server CPU in each pair; nginx's is 60 ms
		want  []string
	}{
		{name: "pairs above the line", pairs: []int64{1800, 1700, 1900}, cpu: 60 * time.Millisecond, want: []string{
			"≥ 0.85× nginx's | 0.90× | yes",
			"| keep-alive req/s | nginx | 0.900× (0.85×–0.95×) | 0.90×, 0.85×, 0.95× | 0.50× |",
			// 60 ms over 1800 requests against 60 ms over 2000, and so on.
			"CPU per request ≤ 1.5× nginx's | 1.11× | yes",
			"| keep-alive server CPU per request | nginx | 1.111× (1.05×–1.18×) | 1.11×, 1.18×, 1.05× | 2.00× |",
		}},
		{name: "pairs below the line", pairs: []int64{1600, 1500, 1700}, cpu: 96 * time.Millisecond, want: []string{
			"≥ 0.85× nginx's | 0.80× | no",
			"| keep-alive req/s | nginx | 0.800× (0.75×–0.85×) | 0.80×, 0.75×, 0.85× | 0.50× |",
			// 96 ms over 1600 requests against 60 ms over 2000, and so on.
			"CPU per request ≤ 1.5× nginx's | 2.00× | no",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{Rounds: 1, Pairs: len(tc.pairs)}
			for _, s := range []string{"forgeproof", "nginx"} {
				r.Servers = append(r.Servers, serverInfo{Name: s})
			}
			r.Runs = []sample{mk("forgeproof", 1, 0, 1000, 60*time.Millisecond), mk("nginx", 1, 0, 2000, 60*time.Millisecond)}
			for i, ok := range tc.pairs {
				r.Runs = append(r.Runs, mk("nginx", 0, i+1, 2000, 60*time.Millisecond), mk("forgeproof", 0, i+1, ok, tc.cpu))
			}
			// A pair that lacks its nginx run counts for nothing.
			r.Runs = append(r.Runs, mk("forgeproof", 0, len(tc.pairs)+1, 10, time.Millisecond))
			r.Pairs++
			md := r.markdown()
			for _, w := range append(tc.want, "| forgeproof | 1000 | 1.00× |", pairedNote) {
				if !strings.Contains(md, w) {
					t.Errorf("markdown lacks %q:\n%s", w, md)
				}
			}
		})
	}
}

// TestPairedRuns: the paired runs alternate which server goes first
// (A B, B A, …), one pair per target whose server ran and whose phase is
// selected; none without a base server.
func TestPairedRuns(t *testing.T) {
	run := func(server, phase string, pair int) string { return fmt.Sprintf("%d %s %s", pair, server, phase) }
	tests := []struct {
		name    string
		servers []string // "-" before a name: skipped
		phases  []string
		want    []string
	}{
		{name: "every target", servers: []string{"forgeproof", "goproxy", "nginx", "caddy", "nginx-cert"}, phases: phases, want: []string{
			run("forgeproof", phaseKeepAlive, 1), run("nginx", phaseKeepAlive, 1),
			run("forgeproof", phaseKeepAlive, 1), run("caddy", phaseKeepAlive, 1),
			run("forgeproof", phaseFull, 1), run("goproxy", phaseFull, 1),
			run("nginx", phaseKeepAlive, 2), run("forgeproof", phaseKeepAlive, 2),
			run("caddy", phaseKeepAlive, 2), run("forgeproof", phaseKeepAlive, 2),
			run("goproxy", phaseFull, 2), run("forgeproof", phaseFull, 2),
			run("forgeproof", phaseKeepAlive, 3), run("nginx", phaseKeepAlive, 3),
			run("forgeproof", phaseKeepAlive, 3), run("caddy", phaseKeepAlive, 3),
			run("forgeproof", phaseFull, 3), run("goproxy", phaseFull, 3),
		}},
		{name: "caddy skipped, full handshakes not selected", servers: []string{"forgeproof", "goproxy", "nginx", "-caddy"}, phases: []string{phaseKeepAlive, phaseLatency}, want: []string{
			run("forgeproof", phaseKeepAlive, 1), run("nginx", phaseKeepAlive, 1),
			run("nginx", phaseKeepAlive, 2), run("forgeproof", phaseKeepAlive, 2),
			run("forgeproof", phaseKeepAlive, 3), run("nginx", phaseKeepAlive, 3),
		}},
		{name: "forgeproof-api as the base", servers: []string{"-forgeproof", "forgeproof-api", "goproxy"}, phases: phases, want: []string{
			run("forgeproof-api", phaseFull, 1), run("goproxy", phaseFull, 1),
			run("goproxy", phaseFull, 2), run("forgeproof-api", phaseFull, 2),
			run("forgeproof-api", phaseFull, 3), run("goproxy", phaseFull, 3),
		}},
		{name: "no base", servers: []string{"-forgeproof", "goproxy", "nginx", "caddy"}, phases: phases},
		{name: "forgeproof-base, the control", servers: []string{"forgeproof", "forgeproof-base"}, phases: []string{phaseKeepAlive}, want: []string{
			run("forgeproof", phaseKeepAlive, 1), run("forgeproof-base", phaseKeepAlive, 1),
			run("forgeproof-base", phaseKeepAlive, 2), run("forgeproof", phaseKeepAlive, 2),
			run("forgeproof", phaseKeepAlive, 3), run("forgeproof-base", phaseKeepAlive, 3),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &report{Pairs: 3}
			for _, s := range tc.servers {
				name, skipped := strings.CutPrefix(s, "-")
				info := serverInfo{Name: name}
				if skipped {
					info.Skipped = "not here"
				}
				r.Servers = append(r.Servers, info)
			}
			selected := map[string]bool{}
			for _, ph := range tc.phases {
				selected[ph] = true
			}
			var got []string
			for _, x := range r.pairedRuns(selected) {
				got = append(got, run(x.Server, x.Phase, x.Pair))
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}

// TestTargetsWithoutPairedRuns: asked for pairs, but none ran (the
// phases they need were not selected): the targets are the rounds'
// medians, and the report says nothing of paired runs (the twin of
// TestTargetsFromPairs).
func TestTargetsWithoutPairedRuns(t *testing.T) {
	r := &report{Rounds: 1, Pairs: 8}
	for _, s := range []string{"forgeproof", "nginx"} {
		r.Servers = append(r.Servers, serverInfo{Name: s})
		r.Runs = append(r.Runs, sample{Server: s, Phase: phaseLatency, Round: 1, Result: load.Result{Elapsed: time.Second, OK: 100}})
	}
	md := r.markdown()
	if !strings.Contains(md, "≥ 0.85× nginx's | not measured | –") {
		t.Errorf("markdown lacks the unmeasured keep-alive target:\n%s", md)
	}
	for _, w := range []string{pairedNote, "### Paired runs"} {
		if strings.Contains(md, w) {
			t.Errorf("markdown has %q without paired runs:\n%s", w, md)
		}
	}
}

// TestHowOften: the paired runs' count reads as English.
func TestHowOften(t *testing.T) {
	for n, want := range map[int]string{1: "once", 2: "twice", 8: "8 times"} {
		if got := howOften(n); got != want {
			t.Errorf("howOften(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestTargetFigure: a figure that rounds to the target's own value gets a
// third decimal, so a miss by a hair does not print as the line; others
// keep two.
func TestTargetFigure(t *testing.T) {
	for _, tc := range []struct {
		got, want float64
		out       string
	}{
		{0.846, 0.85, "0.846"},
		{0.8504, 0.85, "0.850"},
		{0.86, 0.85, "0.86"},
		{1.22, 1.5 + 1e-9, "1.22"},
		{1.4996, 1.5 + 1e-9, "1.500"},
	} {
		if got := targetFigure(tc.got, tc.want); got != tc.out {
			t.Errorf("targetFigure(%v, %v) = %q, want %q", tc.got, tc.want, got, tc.out)
		}
	}
}

// TestTargetsNameTheBase: with forgeproof-api as the base (forgeproof
// not run), the target labels name it.
func TestTargetsNameTheBase(t *testing.T) {
	r := &report{Rounds: 1, Pairs: 1}
	for _, s := range []string{"forgeproof-api", "caddy"} {
		r.Servers = append(r.Servers, serverInfo{Name: s})
	}
	r.Runs = []sample{
		{Server: "forgeproof-api", Phase: phaseKeepAlive, Round: 1, Result: load.Result{Elapsed: time.Second, OK: 900}},
		{Server: "caddy", Phase: phaseKeepAlive, Round: 1, Result: load.Result{Elapsed: time.Second, OK: 600}},
	}
	md := r.markdown()
	for _, w := range []string{"(forgeproof-api ÷ Caddy ≥ 1) | 1.50× | yes"} {
		if !strings.Contains(md, w) {
			t.Errorf("markdown lacks %q:\n%s", w, md)
		}
	}
	if strings.Contains(md, "(forgeproof ÷") {
		t.Errorf("a label names forgeproof, which did not run:\n%s", md)
	}
}
