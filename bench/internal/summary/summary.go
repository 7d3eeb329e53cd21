// Package summary sums up a figure measured over a benchmark's rounds:
// its median, with the spread around it.
package summary

import (
	"math"
	"slices"
)

// Stat is the median and the spread of one figure over the rounds.
type Stat struct {
	Median, Min, Max float64
	// N is the number of rounds; 0 when there were none (Median is NaN).
	N int
}

// Of summarises xs; the median of an even number of values is the mean
// of the middle two.
func Of(xs []float64) Stat {
	if len(xs) == 0 {
		return Stat{Median: math.NaN()}
	}
	s := slices.Sorted(slices.Values(xs))
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}
