// Command benchtab turns the output of the csrfbench benchmarks (go test
// -bench, any -count) into Markdown: for each case, the median ns/op,
// cpu-ns/op (the process's CPU time per operation, when reported), B/op
// and allocs/op of every library, its time and CPU time as multiples of
// forgeproof's, and whether the targets of the benchmarks issues were met
// (judged by the median of the per-run ratios; see table.ratio).
//
// Usage:
//
//	benchtab FILE
//
// Benchmark names must have the form Benchmark<Group>/case=<case>/lib=<lib>.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/forgeproof/forgeproof/bench/internal/summary"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: benchtab FILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "benchtab: error: %v\n", err)
		os.Exit(1)
	}
}

func run(path string, out io.Writer) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	t, err := parse(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(t.rows) == 0 {
		return fmt.Errorf("%s: no benchmark of the form Benchmark<Group>/case=<case>/lib=<lib>", path)
	}
	_, err = io.WriteString(out, t.markdown())
	return err
}

// key names one benchmark: group, case and library.
type key struct{ group, cas, lib string }

// table holds every sample of every benchmark, in order of first
// appearance.
type table struct {
	rows    []key
	samples map[key]*samples
}

type samples struct{ ns, cpu, bytes, allocs []float64 }

// parse reads go test -bench output. Lines that are not benchmark results
// are skipped.
func parse(r io.Reader) (*table, error) {
	t := &table{samples: map[key]*samples{}}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		k, ok := parseName(f[0])
		if !ok {
			continue
		}
		s := t.samples[k]
		if s == nil {
			s = &samples{}
			t.samples[k] = s
			t.rows = append(t.rows, k)
		}
		// f[1] is the iteration count; then value-unit pairs.
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			if _, err := fmt.Sscan(f[i], &v); err != nil {
				return nil, fmt.Errorf("%q: bad value %q", f[0], f[i])
			}
			switch f[i+1] {
			case "ns/op":
				s.ns = append(s.ns, v)
			case "cpu-ns/op":
				s.cpu = append(s.cpu, v)
			case "B/op":
				s.bytes = append(s.bytes, v)
			case "allocs/op":
				s.allocs = append(s.allocs, v)
			}
		}
	}
	return t, sc.Err()
}

// parseName splits "BenchmarkOrigin/case=same-origin/lib=forgeproof-2".
func parseName(name string) (key, bool) {
	parts := strings.Split(strings.TrimPrefix(name, "Benchmark"), "/")
	if len(parts) != 3 {
		return key{}, false
	}
	cas, ok1 := strings.CutPrefix(parts[1], "case=")
	lib, ok2 := strings.CutPrefix(parts[2], "lib=")
	if !ok1 || !ok2 {
		return key{}, false
	}
	// Drop the -GOMAXPROCS suffix.
	if i := strings.LastIndexByte(lib, '-'); i > 0 && isDigits(lib[i+1:]) {
		lib = lib[:i]
	}
	if parts[0] == "" || cas == "" || lib == "" {
		return key{}, false
	}
	return key{parts[0], cas, lib}, true
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

var errNoSamples = errors.New("no samples")

func median(xs []float64) (float64, error) {
	s := summary.Of(xs)
	if s.N == 0 {
		return 0, errNoSamples
	}
	return s.Median, nil
}

// med is the median ns/op, B/op and allocs/op of k; ok is false when k
// was not measured.
func (t *table) med(k key) (ns, bytes, allocs float64, ok bool) {
	s := t.samples[k]
	if s == nil {
		return 0, 0, 0, false
	}
	ns, err := median(s.ns)
	if err != nil {
		return 0, 0, 0, false
	}
	bytes, _ = median(s.bytes)
	allocs, _ = median(s.allocs)
	return ns, bytes, allocs, true
}

// medCPU is the median cpu-ns/op of k; ok is false when k has none.
func (t *table) medCPU(k key) (float64, bool) {
	s := t.samples[k]
	if s == nil {
		return 0, false
	}
	cpu, err := median(s.cpu)
	return cpu, err == nil
}

func nsOf(s *samples) []float64  { return s.ns }
func cpuOf(s *samples) []float64 { return s.cpu }

// ratio is a's measure over b's, as the targets judge it: the median of
// the ratios of the i-th samples of a and b when both have the same
// number of samples, else the ratio of their medians. The i-th samples
// come from the same benchmark process (bench/run.sh runs one process per
// repetition, -count 1), measured a second or so apart, so a pair shares
// the machine's state: on a shared machine the medians of separate
// samples swing by more than a gap of a few nanoseconds, and the per-pair
// ratio does not. ok is false when either has no positive sample.
func (t *table) ratio(a, b key, of func(*samples) []float64) (float64, bool) {
	sa, sb := t.samples[a], t.samples[b]
	if sa == nil || sb == nil {
		return 0, false
	}
	xa, xb := of(sa), of(sb)
	if len(xa) == len(xb) && len(xa) > 0 {
		rs := make([]float64, 0, len(xa))
		for i := range xa {
			if xb[i] <= 0 {
				return 0, false
			}
			rs = append(rs, xa[i]/xb[i])
		}
		r, err := median(rs)
		return r, err == nil
	}
	ma, err1 := median(xa)
	mb, err2 := median(xb)
	if err1 != nil || err2 != nil || mb <= 0 {
		return 0, false
	}
	return ma / mb, true
}

func (t *table) markdown() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("| group | case | library | ns/op | CPU ns/op | B/op | allocs/op | time ÷ forgeproof's | CPU ÷ forgeproof's |\n")
	p("|---|---|---|--:|--:|--:|--:|--:|--:|\n")
	for _, k := range t.rows {
		ns, bytes, allocs, _ := t.med(k)
		fk := key{k.group, k.cas, "forgeproof"}
		ratio, cpuRatio, cpuCell := "–", "–", "–"
		if fp, _, _, ok := t.med(fk); ok && fp > 0 {
			ratio = fmt.Sprintf("%.2f×", ns/fp)
		}
		if cpu, ok := t.medCPU(k); ok {
			cpuCell = fmt.Sprintf("%.0f", cpu)
			if fp, ok := t.medCPU(fk); ok && fp > 0 {
				cpuRatio = fmt.Sprintf("%.2f×", cpu/fp)
			}
		}
		p("| %s | %s | %s | %.0f | %s | %.0f | %.0f | %s | %s |\n", k.group, k.cas, k.lib, ns, cpuCell, bytes, allocs, ratio, cpuRatio)
	}
	p("\n%s", t.targets())
	return b.String()
}

// targets checks the middleware targets of the benchmarks issue.
func (t *table) targets() string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("| target | measured | met |\n|---|--:|:-:|\n")
	row := func(name string, got float64, ok bool) {
		mark := "no"
		if ok {
			mark = "yes"
		}
		p("| %s | %.2f× | %s |\n", name, got, mark)
	}
	for _, cas := range []string{"same-origin", "legacy-origin"} {
		fk, sk := key{"Origin", cas, "forgeproof"}, key{"Origin", cas, "net-http"}
		_, _, allocs, ok1 := t.med(fk)
		if r, ok := t.ratio(fk, sk, nsOf); ok1 && ok {
			row(fmt.Sprintf("accept path (%s): time ≤ CrossOriginProtection's (forgeproof ÷ net/http ≤ 1)", cas), r, r <= 1)
			if r, ok := t.ratio(fk, sk, cpuOf); ok {
				row(fmt.Sprintf("accept path (%s): CPU time ≤ CrossOriginProtection's (forgeproof ÷ net/http ≤ 1)", cas), r, r <= 1)
			}
			p("| accept path (%s): 0 allocs/op | %.0f | %s |\n", cas, allocs, yesNo(allocs == 0))
		}
	}
	fk := key{"Token", "verify", "forgeproof"}
	for _, peer := range []struct {
		lib  string
		want float64
	}{{"gorilla", 10}, {"nosurf", 3.5}} {
		pk := key{"Token", "verify", peer.lib}
		if r, ok := t.ratio(pk, fk, nsOf); ok {
			row(fmt.Sprintf("token verify ≥ %g× faster than %s (%s ÷ forgeproof, time)", peer.want, peer.lib, peer.lib), r, r >= peer.want)
		}
		// CPU time counts the garbage collection a library's allocations
		// cause, which on an idle second core the wall clock does not.
		if r, ok := t.ratio(pk, fk, cpuOf); ok {
			row(fmt.Sprintf("token verify ≥ %g× faster than %s (%s ÷ forgeproof, CPU time)", peer.want, peer.lib, peer.lib), r, r >= peer.want)
		}
	}
	return b.String()
}

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}
