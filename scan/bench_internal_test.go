package scan

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
)

func benchPage(n int) []byte {
	var b strings.Builder
	b.WriteString("<!doctype html><title>Bank</title>")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<p>Payment %d to account %d of %d.00 EUR</p>`, i, i*7, i*3)
	}
	b.WriteString(formsPage)
	return []byte(b.String())
}

// BenchmarkSimilarity is the oracle's body comparison, per page size.
func BenchmarkSimilarity(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		a, c := benchPage(n), benchPage(n+1)
		b.Run(fmt.Sprintf("paragraphs=%d/bytes=%d", n, len(a)), func(b *testing.B) {
			b.SetBytes(int64(len(a) + len(c)))
			for b.Loop() {
				similarity(a, c)
			}
		})
	}
}

// BenchmarkParseForms is form discovery on a page, per page size.
func BenchmarkParseForms(b *testing.B) {
	base, _ := url.Parse("https://bank.example/")
	for _, n := range []int{10, 1000} {
		page := benchPage(n)
		b.Run(fmt.Sprintf("bytes=%d", len(page)), func(b *testing.B) {
			b.SetBytes(int64(len(page)))
			for b.Loop() {
				parseForms(page, base)
			}
		})
	}
}
