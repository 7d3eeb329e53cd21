package scan

import (
	"strings"
	"unicode"
)

// similarityThreshold is how alike two bodies must be (0..1) to count as
// the same answer. Numbers are masked first, so balances, counters and
// timestamps do not count as differences.
const similarityThreshold = 0.8

// accepted reports whether the server answered a probe as it answered the
// legitimate baseline: the same status, the same redirect target and a
// similar body. A 4xx or 5xx is never an acceptance.
func accepted(baseline, probe *response) bool {
	if probe.Status >= 400 || probe.Status != baseline.Status {
		return false
	}
	if probe.Status >= 300 && probe.Status < 400 {
		return probe.location() == baseline.location()
	}
	return similarity(baseline.Body, probe.Body) >= similarityThreshold
}

// similarity is the Jaccard index of the two bodies' sets of words, with
// runs of digits and hex masked. Two empty bodies are identical.
func similarity(a, b []byte) float64 {
	wa, wb := words(a), words(b)
	if len(wa) == 0 && len(wb) == 0 {
		return 1
	}
	inter := 0
	for w := range wa {
		if wb[w] {
			inter++
		}
	}
	union := len(wa) + len(wb) - inter
	return float64(inter) / float64(union)
}

func words(b []byte) map[string]bool {
	const maxWords = 5000
	set := map[string]bool{}
	for _, w := range strings.FieldsFunc(string(b), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' && r != '-'
	}) {
		if len(set) >= maxWords {
			break
		}
		set[mask(w)] = true
	}
	return set
}

// mask replaces words that contain a digit (numbers, tokens, IDs) with
// one placeholder.
func mask(w string) string {
	for _, r := range w {
		if unicode.IsDigit(r) {
			return "#"
		}
	}
	return strings.ToLower(w)
}
