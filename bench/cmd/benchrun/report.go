package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/bench/internal/proc"
	"github.com/forgeproof/forgeproof/bench/internal/summary"
	"github.com/forgeproof/forgeproof/bench/load"
)

// report is everything one benchrun measured, as written to JSON.
type report struct {
	Started, Finished time.Time
	Machine           machine
	Command           string
	Smoke             bool
	Rounds            int
	// Pairs is the number of paired runs per target (see pairings).
	Pairs            int
	Duration, Warmup time.Duration
	LatencyDuration  time.Duration
	Conns            int
	HandshakeConns   int
	LatencyConns     int
	// H2Streams is the number of streams per connection in the HTTP/2
	// keep-alive runs (Conns streams in all).
	H2Streams int
	// LatencyRate is the request rate of the latency runs, per second.
	LatencyRate float64
	Servers     []serverInfo
	Runs        []sample
}

type serverInfo struct {
	Name, Version, About string
	// Skipped says why the server was not measured; empty when it was.
	Skipped string `json:",omitempty"`
	// PeakRSS is the peak resident set size over the whole run, in bytes,
	// summed over the server's processes (VmHWM in /proc/PID/status).
	PeakRSS int64
}

// sample is one measurement of one server in one phase: in a round, or
// in one of the paired runs for the targets.
type sample struct {
	Server, Phase string
	Round         int `json:",omitempty"`
	Pair          int `json:",omitempty"`
	Result        load.Result
	// ServerCPU is the user+system CPU time the server's processes used
	// during the measured window.
	ServerCPU time.Duration
	// Machine is where the rest of the machine's CPU went meanwhile.
	Machine machineUse
}

type machine struct {
	CPU        string
	Cores      int
	MemoryKB   int64
	Kernel     string
	LoadBefore string
	LoadAfter  string
}

func newReport(c config) *report {
	return &report{
		Started: time.Now().UTC(),
		Machine: machine{
			CPU:        cpuModel(),
			Cores:      runtime.NumCPU(),
			MemoryKB:   proc.KB("/proc/meminfo", "MemTotal:"),
			Kernel:     strings.TrimSpace(readFile("/proc/sys/kernel/osrelease")),
			LoadBefore: proc.LoadAvg(),
		},
		Command:         strings.Join(os.Args, " "),
		Smoke:           c.smoke,
		Rounds:          c.rounds,
		Pairs:           c.pairs,
		Duration:        c.duration,
		Warmup:          c.warmup,
		LatencyDuration: c.latencyDur,
		Conns:           c.conns,
		HandshakeConns:  c.hsConns,
		LatencyConns:    c.latencyConn,
		H2Streams:       c.h2Streams,
	}
}

func (r *report) finish() {
	r.Finished = time.Now().UTC()
	r.Machine.LoadAfter = proc.LoadAvg()
}

// values collects one figure of every round's run of server in phase
// (not the paired runs).
func (r *report) values(server, phase string, f func(sample) float64) []float64 {
	var xs []float64
	for _, x := range r.Runs {
		if x.Server == server && x.Phase == phase && x.Pair == 0 {
			xs = append(xs, f(x))
		}
	}
	return xs
}

func (r *report) stat(server, phase string, f func(sample) float64) summary.Stat {
	return summary.Of(r.values(server, phase, f))
}

func perSecond(x sample) float64 { return x.Result.PerSecond() }

// cpuPerRequest is the server CPU time per successful request, in µs.
func cpuPerRequest(x sample) float64 {
	if x.Result.OK == 0 {
		return math.NaN()
	}
	return float64(x.ServerCPU.Microseconds()) / float64(x.Result.OK)
}

// upstreamPerRequest, loaderPerRequest and sumPerRequest are the CPU
// time per successful request, in µs, of the upstream, of the load
// generator, and of those two and the server together; idleShare and
// stolenShare are the cores' idle and stolen time as percentages. NaN
// when not measured.
func upstreamPerRequest(x sample) float64 { return perRequest(x, x.Machine.Upstream) }
func loaderPerRequest(x sample) float64   { return perRequest(x, x.Machine.Loader) }
func sumPerRequest(x sample) float64 {
	return perRequest(x, x.ServerCPU+x.Machine.Upstream+x.Machine.Loader)
}

func idleShare(x sample) float64   { return coreShare(x, x.Machine.Idle) }
func stolenShare(x sample) float64 { return coreShare(x, x.Machine.Steal) }

// coreShare is d as a percentage of all the cores' time in x's window.
func coreShare(x sample, d time.Duration) float64 {
	if x.Machine.Total <= 0 {
		return math.NaN()
	}
	return 100 * float64(d) / float64(x.Machine.Total)
}

func perRequest(x sample, d time.Duration) float64 {
	if x.Result.OK == 0 || x.Machine.Total <= 0 {
		return math.NaN()
	}
	return float64(d.Microseconds()) / float64(x.Result.OK)
}

// hasMachineUse reports whether any keep-alive run recorded where the
// machine's CPU went (not off Linux).
func (r *report) hasMachineUse() bool {
	return slices.ContainsFunc(r.Runs, func(x sample) bool { return x.Phase == phaseKeepAlive && x.Machine.Total > 0 })
}

// roundRatios lists a's rate over b's in phase, for each round both ran.
func (r *report) roundRatios(a, b, phase string) string {
	xs := r.matched(a, b, phase, perSecond, func(x sample) int { return x.Round }, r.Rounds)
	if len(xs) == 0 {
		return "–"
	}
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = times(x)
	}
	return strings.Join(out, ", ")
}

// pairRatios lists f(a) ÷ f(b) in phase for each pair of paired runs of
// a and b.
func (r *report) pairRatios(a, b, phase string, f func(sample) float64) []float64 {
	return r.matched(a, b, phase, f, func(x sample) int { return x.Pair }, r.Pairs)
}

// matched lists f(a) ÷ f(b) in phase for each of the indexes 1 to n at
// which both ran, where index is a run's round or its pair (0: not one).
func (r *report) matched(a, b, phase string, f func(sample) float64, index func(sample) int, n int) []float64 {
	of := map[string]map[int]sample{a: {}, b: {}}
	for _, x := range r.Runs {
		if i := index(x); x.Phase == phase && i > 0 && of[x.Server] != nil {
			of[x.Server][i] = x
		}
	}
	var out []float64
	for i := 1; i <= n; i++ {
		xa, oka := of[a][i]
		xb, okb := of[b][i]
		if oka && okb {
			out = append(out, f(xa)/f(xb))
		}
	}
	return out
}

// medianRatio is a's median f over b's in phase, from the rounds.
func (r *report) medianRatio(a, b, phase string, f func(sample) float64) float64 {
	return r.stat(a, phase, f).Median / r.stat(b, phase, f).Median
}

// relative is base's f over ref's in phase, as the targets judge it: the
// median of the paired runs' ratios when there are any, else the ratio
// of the rounds' medians.
func (r *report) relative(base, ref, phase string, f func(sample) float64) float64 {
	if xs := r.pairRatios(base, ref, phase, f); len(xs) > 0 {
		return summary.Of(xs).Median
	}
	return r.medianRatio(base, ref, phase, f)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// halfSaturation is half the median keep-alive rate of the bare Go proxy,
// or of the slowest server when the bare proxy did not run.
func (r *report) halfSaturation() float64 {
	if s := r.stat("goproxy", phaseKeepAlive, perSecond); s.N > 0 {
		return math.Round(s.Median / 2)
	}
	lowest := math.Inf(1)
	for _, sv := range r.measured() {
		if s := r.stat(sv.Name, phaseKeepAlive, perSecond); s.N > 0 {
			lowest = min(lowest, s.Median)
		}
	}
	if math.IsInf(lowest, 1) {
		return 100
	}
	return math.Round(lowest / 2)
}

func (r *report) measured() []serverInfo {
	var out []serverInfo
	for _, s := range r.Servers {
		if s.Skipped == "" {
			out = append(out, s)
		}
	}
	return out
}

// base is the server the ratios are to: forgeproof serve with worker
// processes (as nginx runs), else in one process, else the same gateway
// through its Go API, else none ("").
func (r *report) base() string {
	for _, b := range []string{"forgeproof-workers", "forgeproof", "forgeproof-api"} {
		if r.has(b) {
			return b
		}
	}
	return ""
}

func (r *report) has(server string) bool {
	for _, s := range r.measured() {
		if s.Name == server {
			return true
		}
	}
	return false
}

// hasPhase reports whether any run measured phase.
func (r *report) hasPhase(phase string) bool {
	return slices.ContainsFunc(r.Runs, func(x sample) bool { return x.Phase == phase })
}

// errorsIn sums the failed requests of server in phase.
func (r *report) errorsIn(server, phase string) (n int64, first string) {
	for _, x := range r.Runs {
		if x.Server == server && x.Phase == phase {
			n += x.Result.Errors + x.Result.Unfinished
			if first == "" {
				first = x.Result.FirstError
			}
		}
	}
	return n, first
}

// markdown renders the tables of the report.
func (r *report) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	if r.Smoke {
		p("> Smoke run: every phase once, for %v. These numbers mean nothing.\n\n", r.Duration)
	}
	p("Measured %s to %s. Machine: %s, %d cores, %.0f GiB; Linux %s; load average before %s, after %s.\n\n",
		r.Started.Format("2006-01-02 15:04"), r.Finished.Format("15:04 MST"), r.Machine.CPU, r.Machine.Cores,
		float64(r.Machine.MemoryKB)/(1<<20), r.Machine.Kernel, r.Machine.LoadBefore, r.Machine.LoadAfter)
	p("Each figure is the median of %d runs (min–max in brackets); runs alternate between the servers. "+
		"Windows of %v after %v of warm-up; %d keep-alive connections, %d handshake workers.\n\n",
		r.Rounds, r.Duration, r.Warmup, r.Conns, r.HandshakeConns)

	servers := r.measured()
	base := r.base()
	ratio := func(server, phase string, f func(sample) float64) string {
		if base == "" {
			return "–"
		}
		if server == base {
			return "1.00×"
		}
		return times(r.medianRatio(server, base, phase, f))
	}
	switch base {
	case "":
		p("forgeproof did not run (see below), so there are no ratios to it.\n\n")
	case "forgeproof-api":
		p("`forgeproof serve` did not run; the ratios are to the same gateway served through its Go API (forgeproof-api).\n\n")
	}

	p("### Throughput (higher is better)\n\n")
	p("| server | keep-alive req/s | vs forgeproof | full handshakes/s | vs forgeproof | resumed handshakes/s | resumed | vs forgeproof | peak RSS |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range servers {
		resumed := fmtStat(r.stat(s.Name, phaseResumed, func(x sample) float64 { return 100 * x.Result.ResumedFraction() }), "%.0f%%")
		p("| %s | %s | %s | %s | %s | %s | %s | %s | %.1f MiB |\n", s.Name,
			fmtStat(r.stat(s.Name, phaseKeepAlive, perSecond), "%.0f"), ratio(s.Name, phaseKeepAlive, perSecond),
			fmtStat(r.stat(s.Name, phaseFull, perSecond), "%.0f"), ratio(s.Name, phaseFull, perSecond),
			fmtStat(r.stat(s.Name, phaseResumed, perSecond), "%.0f"), resumed, ratio(s.Name, phaseResumed, perSecond),
			float64(s.PeakRSS)/(1<<20))
	}

	p("\n### Server CPU per request (lower is better; less sensitive to other load on the machine)\n\n")
	p("| server | keep-alive µs | full handshake µs | resumed handshake µs |\n|---|--:|--:|--:|\n")
	for _, s := range servers {
		p("| %s | %s | %s | %s |\n", s.Name,
			fmtStat(r.stat(s.Name, phaseKeepAlive, cpuPerRequest), "%.0f"),
			fmtStat(r.stat(s.Name, phaseFull, cpuPerRequest), "%.0f"),
			fmtStat(r.stat(s.Name, phaseResumed, cpuPerRequest), "%.0f"))
	}

	if r.hasMachineUse() {
		p("\n### Where the machine's CPU went in the keep-alive runs\n\n")
		p("The load generator, the upstream and the server share the machine's cores, so a server's rate follows the sum of what each spends per request: " +
			"a server that forwards more to the upstream (identity headers) makes the upstream work more, and idle time is time all three were waiting. " +
			"µs of CPU per request, medians of the runs; idle is the share of all cores' time, and stolen the share the host gave to other guests (a run with much of it measured a slower machine).\n\n")
		p("| server | server µs | upstream µs | load generator µs | sum µs | idle | stolen |\n|---|--:|--:|--:|--:|--:|--:|\n")
		for _, s := range servers {
			if r.stat(s.Name, phaseKeepAlive, upstreamPerRequest).N == 0 {
				continue
			}
			p("| %s | %s | %s | %s | %s | %s | %s |\n", s.Name,
				fmtStat(r.stat(s.Name, phaseKeepAlive, cpuPerRequest), "%.0f"),
				fmtStat(r.stat(s.Name, phaseKeepAlive, upstreamPerRequest), "%.0f"),
				fmtStat(r.stat(s.Name, phaseKeepAlive, loaderPerRequest), "%.0f"),
				fmtStat(r.stat(s.Name, phaseKeepAlive, sumPerRequest), "%.0f"),
				fmtStat(r.stat(s.Name, phaseKeepAlive, idleShare), "%.0f%%"),
				fmtStat(r.stat(s.Name, phaseKeepAlive, stolenShare), "%.0f%%"))
		}
		if base != "" && r.has("nginx") {
			p("\n%s's keep-alive rate as a share of nginx's, round by round (each runs once in every round): %s.\n",
				base, r.roundRatios(base, "nginx", phaseKeepAlive))
		}
	}

	if r.hasPhase(phaseH2) {
		p("\n### HTTP/2 keep-alive (%d concurrent streams over %d connections, %d a connection)\n\n", r.Conns, (r.Conns+r.H2Streams-1)/r.H2Streams, r.H2Streams)
		p("The same load as the keep-alive column above, as HTTP/2 streams; the upstream is spoken to in HTTP/1.1 by every server.\n\n")
		p("| server | h2 req/s | vs forgeproof | h2 server CPU µs/request | vs its HTTP/1.1 keep-alive CPU |\n|---|--:|--:|--:|--:|\n")
		for _, s := range servers {
			if r.stat(s.Name, phaseH2, perSecond).N == 0 {
				continue
			}
			vsH1 := "–"
			if h1 := r.stat(s.Name, phaseKeepAlive, cpuPerRequest).Median; h1 > 0 {
				vsH1 = fmt.Sprintf("%.2f×", r.stat(s.Name, phaseH2, cpuPerRequest).Median/h1)
			}
			p("| %s | %s | %s | %s | %s |\n", s.Name,
				fmtStat(r.stat(s.Name, phaseH2, perSecond), "%.0f"), ratio(s.Name, phaseH2, perSecond),
				fmtStat(r.stat(s.Name, phaseH2, cpuPerRequest), "%.0f"), vsH1)
		}
	}

	p("\n### Latency at %.0f requests/s, open loop, corrected for coordinated omission (ms, lower is better)\n\n", r.LatencyRate)
	p("| server | p50 | p99 | p99.9 | p99 added over the bare Go proxy |\n|---|--:|--:|--:|--:|\n")
	p99 := func(x sample) float64 { return ms(x.Result.Latency.P99) }
	for _, s := range servers {
		added := "–"
		if r.has("goproxy") {
			added = fmt.Sprintf("%+.3f", r.stat(s.Name, phaseLatency, p99).Median-r.stat("goproxy", phaseLatency, p99).Median)
		}
		p("| %s | %s | %s | %s | %s |\n", s.Name,
			fmtStat(r.stat(s.Name, phaseLatency, func(x sample) float64 { return ms(x.Result.Latency.P50) }), "%.3f"),
			fmtStat(r.stat(s.Name, phaseLatency, p99), "%.3f"),
			fmtStat(r.stat(s.Name, phaseLatency, func(x sample) float64 { return ms(x.Result.Latency.P999) }), "%.3f"),
			added)
	}

	r.targets(p)

	var notes []string
	for _, s := range servers {
		for _, ph := range phases {
			if n, first := r.errorsIn(s.Name, ph); n > 0 {
				notes = append(notes, fmt.Sprintf("- %s, %s: %d failed or unfinished requests (first: %s)", s.Name, ph, n, first))
			}
		}
	}
	for _, s := range r.Servers {
		if s.Skipped != "" {
			notes = append(notes, fmt.Sprintf("- %s was not measured: %s", s.Name, s.Skipped))
		}
	}
	if len(notes) > 0 {
		p("\n### Errors and skipped servers\n\n%s\n", strings.Join(notes, "\n"))
	}

	p("\n### Servers\n\n| server | version | configuration |\n|---|---|---|\n")
	for _, s := range r.Servers {
		p("| %s | %s | %s |\n", s.Name, strings.ReplaceAll(s.Version, "\n", " "), s.About)
	}
	return b.String()
}

// targets writes the gateway targets of the benchmarks issue and whether
// this run met them.
func (r *report) targets(p func(string, ...any)) {
	base := r.base()
	if base == "" {
		return
	}
	paired := r.pairs(p, base)
	p("\n### Targets\n\n")
	if paired {
		p("The throughput and CPU ratios are the medians of the paired runs above; the p99 is from the latency runs.\n\n")
	}
	p("| target | measured | met |\n|---|--:|:-:|\n")
	check := func(name string, got, want float64, atLeast bool, unit string) {
		ok := got >= want
		if !atLeast {
			ok = got < want
		}
		mark := "no"
		if ok {
			mark = "yes"
		}
		figure := targetFigure(got, want) + unit
		if math.IsNaN(got) {
			figure, mark = "not measured", "–"
		}
		p("| %s | %s | %s |\n", name, figure, mark)
	}
	if r.has("caddy") {
		check("keep-alive throughput ≥ Caddy's ("+base+" ÷ Caddy ≥ 1)", r.relative(base, "caddy", phaseKeepAlive, perSecond), 1, true, "×")
	}
	if r.has("nginx") {
		check("keep-alive throughput ≥ 0.85× nginx's", r.relative(base, "nginx", phaseKeepAlive, perSecond), 0.85, true, "×")
		// At most 1.5×: "less than" a hair above it.
		check("keep-alive server CPU per request ≤ 1.5× nginx's", r.relative(base, "nginx", phaseKeepAlive, cpuPerRequest), 1.5+1e-9, false, "×")
	}
	if r.has("goproxy") {
		check("full-handshake rate ≥ 0.95× the bare Go proxy's", r.relative(base, "goproxy", phaseFull, perSecond), 0.95, true, "×")
		p99 := func(x sample) float64 { return ms(x.Result.Latency.P99) }
		check(fmt.Sprintf("p99 added over the bare Go proxy at %.0f req/s < 1 ms", r.LatencyRate),
			r.stat(base, phaseLatency, p99).Median-r.stat("goproxy", phaseLatency, p99).Median, 1, false, " ms")
	}
	// Below the table: a comparison that is not one of the targets.
	if r.has("nginx-cert") {
		ka := r.medianRatio(base, "nginx-cert", phaseKeepAlive, perSecond)
		cpu := r.medianRatio(base, "nginx-cert", phaseKeepAlive, cpuPerRequest)
		p("\nFor information, not a target (the targets compare with plain nginx): against nginx-cert, "+
			"nginx forwarding the client's certificate and identity upstream as forgeproof does, forgeproof's keep-alive throughput is %s "+
			"and its keep-alive server CPU per request %s.\n", times(ka), times(cpu))
	}
}

// pairs writes the paired runs' ratios, next to what the rounds alone
// would give, so that a reader sees both. It reports whether there were
// any.
func (r *report) pairs(p func(string, ...any), base string) bool {
	type row struct {
		label, ref, phase string
		f                 func(sample) float64
	}
	var rows []row
	for _, t := range pairings {
		name := "keep-alive req/s"
		if t.phase == phaseFull {
			name = "full handshakes/s"
		}
		rows = append(rows, row{name, t.ref, t.phase, perSecond})
		if t.phase == phaseKeepAlive && t.ref == "nginx" {
			rows = append(rows, row{"keep-alive server CPU per request", t.ref, t.phase, cpuPerRequest})
		}
	}
	var lines []string
	for _, x := range rows {
		xs := r.pairRatios(base, x.ref, x.phase, x.f)
		if len(xs) == 0 {
			continue
		}
		each := make([]string, len(xs))
		for i, v := range xs {
			each[i] = times(v)
		}
		s := summary.Of(xs)
		// The median to three decimals, as the targets table can print
		// it: the two must never read differently.
		lines = append(lines, fmt.Sprintf("| %s | %s | %s (%s–%s) | %s | %s |", x.label, x.ref, timesTo(s.Median, 3), times(s.Min), times(s.Max),
			strings.Join(each, ", "), times(r.medianRatio(base, x.ref, x.phase, x.f))))
	}
	if len(lines) == 0 {
		return false
	}
	p("\n### Paired runs\n\n")
	p("After the rounds, %s and each server a target compares it with ran back to back %s, the first of the two alternating from pair to pair, "+
		"so that a slow stretch of the shared machine falls on both runs of a pair alike. "+
		"%s ÷ the other, per pair, with their median (min–max), and for comparison the same ratio from the rounds' medians above.\n\n", base, howOften(r.Pairs), base)
	p("| figure | vs | median of the pairs | per pair | from the rounds |\n|---|---|--:|---|--:|\n")
	p("%s\n", strings.Join(lines, "\n"))
	return true
}

// howOften is n as a count of times: "once", "twice", "3 times".
func howOften(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return fmt.Sprintf("%d times", n)
}

// targetFigure formats a measured figure to two decimals, or three when
// two would read as the target itself (0.846 against 0.85), so that a
// miss never prints as the line it missed.
func targetFigure(got, want float64) string {
	if s := fmt.Sprintf("%.2f", got); s != fmt.Sprintf("%.2f", want) {
		return s
	}
	return fmt.Sprintf("%.3f", got)
}

// times formats a ratio to two decimals, "–" when it is not a number (a
// NaN operand, or a zero divisor).
func times(x float64) string { return timesTo(x, 2) }

// timesTo is times with the given number of decimals.
func timesTo(x float64, decimals int) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "–"
	}
	return fmt.Sprintf("%.*f×", decimals, x)
}

func fmtStat(s summary.Stat, f string) string {
	if s.N == 0 || math.IsNaN(s.Median) {
		return "–"
	}
	if s.N == 1 {
		return fmt.Sprintf(f, s.Median)
	}
	return fmt.Sprintf(f+" ("+f+"–"+f+")", s.Median, s.Min, s.Max)
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

func cpuModel() string {
	for _, line := range strings.Split(readFile("/proc/cpuinfo"), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
