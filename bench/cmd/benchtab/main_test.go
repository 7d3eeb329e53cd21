package main

import (
	"fmt"
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkOrigin/case=same-origin/lib=forgeproof-2   1000  100.0 ns/op  0 B/op  0 allocs/op
BenchmarkOrigin/case=same-origin/lib=net-http-2     1000  120.0 ns/op  0 B/op  0 allocs/op
BenchmarkOrigin/case=same-origin/lib=forgeproof-2   1000  110.0 ns/op  0 B/op  0 allocs/op
BenchmarkOrigin/case=same-origin/lib=net-http-2     1000  130.0 ns/op  0 B/op  0 allocs/op
BenchmarkOrigin/case=same-origin/lib=forgeproof-2   1000  300.0 ns/op  0 B/op  0 allocs/op
BenchmarkToken/case=verify/lib=forgeproof-2         1000  100 ns/op  80 cpu-ns/op  16 B/op  1 allocs/op
BenchmarkToken/case=verify/lib=gorilla-2            1000  900 ns/op  1200 cpu-ns/op  64 B/op  9 allocs/op
BenchmarkToken/case=verify/lib=nosurf-2             1000  400 ns/op  240 cpu-ns/op  64 B/op  9 allocs/op
BenchmarkOther-2                                    1000  5 ns/op
PASS
`

func TestParseName(t *testing.T) {
	tests := []struct {
		name, in string
		want     key
		ok       bool
	}{
		{name: "with procs", in: "BenchmarkOrigin/case=same-origin/lib=net-http-2", want: key{"Origin", "same-origin", "net-http"}, ok: true},
		{name: "without procs", in: "BenchmarkToken/case=mint/lib=gorilla", want: key{"Token", "mint", "gorilla"}, ok: true},
		{name: "hyphenated lib kept", in: "BenchmarkToken/case=mint/lib=net-http", want: key{"Token", "mint", "net-http"}, ok: true},
		{name: "no case key", in: "BenchmarkOrigin/same-origin/lib=x-2", ok: false},
		{name: "flat", in: "BenchmarkOther-2", ok: false},
		{name: "empty parts (found by FuzzParse)", in: "Benchmark/case=/lib=", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := parseName(tc.in)
			if ok != tc.ok || (ok && got != tc.want) {
				t.Errorf("got %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestMarkdown(t *testing.T) {
	tb, err := parse(strings.NewReader(sample))
	if err != nil {
		t.Fatal(err)
	}
	md := tb.markdown()
	for _, want := range []string{
		// Medians: forgeproof 110 (of 100, 110, 300), net/http 125.
		"| Origin | same-origin | forgeproof | 110 | – | 0 | 0 | 1.00× | – |",
		"| Origin | same-origin | net-http | 125 | – | 0 | 0 | 1.14× | – |",
		"| Token | verify | gorilla | 900 | 1200 | 64 | 9 | 9.00× | 15.00× |",
		// The targets: met and missed alike, by time and by CPU time.
		"(forgeproof ÷ net/http ≤ 1) | 0.88× | yes |",
		"| accept path (same-origin): 0 allocs/op | 0 | yes |",
		"than gorilla (gorilla ÷ forgeproof, time) | 9.00× | no |",
		"than gorilla (gorilla ÷ forgeproof, CPU time) | 15.00× | yes |",
		"than nosurf (nosurf ÷ forgeproof, time) | 4.00× | yes |",
		"than nosurf (nosurf ÷ forgeproof, CPU time) | 3.00× | no |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q; got:\n%s", want, md)
		}
	}
	if strings.Contains(md, "Other") {
		t.Errorf("markdown has the benchmark without case/lib keys:\n%s", md)
	}
}

// TestPairedRatio: with as many samples of both libraries, the targets
// judge the median of the per-run ratios, so one run in which the machine
// was quiet for net/http alone does not decide (the ratio of the medians
// would read 300 ÷ 105 = 2.86× there); forgeproof slower in every run is
// still a miss.
func TestPairedRatio(t *testing.T) {
	bench := func(fp, std [3]int) string {
		var b strings.Builder
		for i := range fp {
			fmt.Fprintf(&b, "BenchmarkOrigin/case=same-origin/lib=forgeproof-2 1000 %d ns/op 0 B/op 0 allocs/op\n", fp[i])
			fmt.Fprintf(&b, "BenchmarkOrigin/case=same-origin/lib=net-http-2 1000 %d ns/op 0 B/op 0 allocs/op\n", std[i])
		}
		return b.String()
	}
	for _, tc := range []struct {
		name    string
		fp, std [3]int
		want    string
	}{
		{"a quiet run for one library", [3]int{100, 300, 310}, [3]int{105, 320, 90}, "(forgeproof ÷ net/http ≤ 1) | 0.95× | yes |"},
		{"slower in every run", [3]int{110, 330, 99}, [3]int{100, 300, 90}, "(forgeproof ÷ net/http ≤ 1) | 1.10× | no |"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tb, err := parse(strings.NewReader(bench(tc.fp, tc.std)))
			if err != nil {
				t.Fatal(err)
			}
			if md := tb.markdown(); !strings.Contains(md, tc.want) {
				t.Errorf("markdown lacks %q; got:\n%s", tc.want, md)
			}
		})
	}
}

func TestParseRefusesBadValue(t *testing.T) {
	_, err := parse(strings.NewReader("BenchmarkOrigin/case=a/lib=b-2 10 x ns/op\n"))
	if err == nil {
		t.Error("got no error, want one")
	}
}

// FuzzParse: whatever a benchmark log holds, parse and markdown return
// without panicking, and every parsed row has a group, a case and a
// library.
func FuzzParse(f *testing.F) {
	f.Add(sample)
	f.Add("BenchmarkOrigin/case=a/lib=b-2 10 x ns/op\n")
	f.Add("BenchmarkToken/case=verify/lib=forgeproof 1 1e3 ns/op 5 B/op\n")
	f.Add("BenchmarkToken/case=/lib=forgeproof 1 1 ns/op\n") // no case: must not parse
	f.Fuzz(func(t *testing.T, in string) {
		tb, err := parse(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, k := range tb.rows {
			if k.group == "" || k.cas == "" || k.lib == "" {
				t.Errorf("row %+v: empty group, case or library", k)
			}
		}
		_ = tb.markdown()
	})
}
