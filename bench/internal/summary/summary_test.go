package summary_test

import (
	"math"
	"testing"

	"github.com/forgeproof/forgeproof/bench/internal/summary"
)

func TestOf(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want summary.Stat
	}{
		{name: "odd", in: []float64{3, 1, 2}, want: summary.Stat{Median: 2, Min: 1, Max: 3, N: 3}},
		{name: "even", in: []float64{4, 1, 3, 2}, want: summary.Stat{Median: 2.5, Min: 1, Max: 4, N: 4}},
		{name: "one", in: []float64{7}, want: summary.Stat{Median: 7, Min: 7, Max: 7, N: 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]float64(nil), tc.in...)
			if got := summary.Of(in); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for i := range in {
				if in[i] != tc.in[i] {
					t.Fatalf("Of sorted its argument: got %v, want %v", in, tc.in)
				}
			}
		})
	}
	if got := summary.Of(nil); !math.IsNaN(got.Median) || got.N != 0 {
		t.Errorf("empty: got %v, want NaN median and N 0", got)
	}
}
