package mtls

import (
	"strings"
	"testing"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

var spiffeMatchTests = []struct {
	name, pattern, id string
	want              bool
}{
	{name: "exact", pattern: "spiffe://prod.example/ns/a/sa/web", id: "spiffe://prod.example/ns/a/sa/web", want: true},
	{name: "exact other path", pattern: "spiffe://prod.example/ns/a/sa/web", id: "spiffe://prod.example/ns/a/sa/api"},
	{name: "wildcard segment", pattern: "spiffe://prod.example/ns/*/sa/web", id: "spiffe://prod.example/ns/payments/sa/web", want: true},
	{name: "wildcard wrong tail", pattern: "spiffe://prod.example/ns/*/sa/web", id: "spiffe://prod.example/ns/payments/sa/api"},
	{name: "wildcard spans one segment only", pattern: "spiffe://prod.example/ns/*/sa/web", id: "spiffe://prod.example/ns/a/b/sa/web"},
	{name: "wildcard needs a segment", pattern: "spiffe://prod.example/ns/*", id: "spiffe://prod.example/ns"},
	{name: "trailing wildcard", pattern: "spiffe://prod.example/ns/*", id: "spiffe://prod.example/ns/x", want: true},
	{name: "trailing wildcard no deeper", pattern: "spiffe://prod.example/ns/*", id: "spiffe://prod.example/ns/x/y"},
	{name: "other trust domain", pattern: "spiffe://prod.example/ns/*/sa/web", id: "spiffe://dev.example/ns/a/sa/web"},
	{name: "suffix trust domain", pattern: "spiffe://prod.example/web", id: "spiffe://evilprod.example/web"},
	{name: "path vs trust domain only", pattern: "spiffe://prod.example/*", id: "spiffe://prod.example"},
	{name: "prefix is not a match", pattern: "spiffe://prod.example/web", id: "spiffe://prod.example/web/admin"},
	{name: "case sensitive path", pattern: "spiffe://prod.example/Web", id: "spiffe://prod.example/web"},
}

func TestSPIFFEIDPatternMatch(t *testing.T) {
	t.Parallel()
	for _, tt := range spiffeMatchTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseSPIFFEIDPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(spiffeid.RequireFromString(tt.id)); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
			if got := p.String(); got != tt.pattern {
				t.Errorf("got String %q, want %q", got, tt.pattern)
			}
		})
	}
}

func TestParseSPIFFEIDPatternErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, pattern, want string }{
		{name: "scheme", pattern: "https://prod.example/web", want: "scheme"},
		{name: "wildcard trust domain", pattern: "spiffe://*.example/web", want: "trust domain"},
		{name: "empty trust domain", pattern: "spiffe:///web", want: "trust domain"},
		{name: "partial wildcard", pattern: "spiffe://prod.example/web-*", want: "whole path segment"},
		{name: "empty segment", pattern: "spiffe://prod.example/a//b", want: "path segment"},
		{name: "trailing slash", pattern: "spiffe://prod.example/a/", want: "path segment"},
		{name: "dot segment", pattern: "spiffe://prod.example/a/../b", want: "path segment"},
		{name: "upper case trust domain", pattern: "spiffe://Prod.example/a", want: "trust domain"},
		{name: "no path (a trust domain)", pattern: "spiffe://prod.example", want: "no path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseSPIFFEIDPattern(tt.pattern)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

var dnsMatchTests = []struct {
	name, pattern, dns string
	want               bool
}{
	{name: "exact", pattern: "api.example.com", dns: "api.example.com", want: true},
	{name: "exact case", pattern: "API.example.com", dns: "api.EXAMPLE.com", want: true},
	{name: "exact other", pattern: "api.example.com", dns: "web.example.com"},
	{name: "wildcard one label", pattern: "*.example.com", dns: "api.example.com", want: true},
	{name: "wildcard not two labels", pattern: "*.example.com", dns: "a.b.example.com"},
	{name: "wildcard not apex", pattern: "*.example.com", dns: "example.com"},
	{name: "wildcard not suffix trick", pattern: "*.example.com", dns: "api.evilexample.com"},
	{name: "wildcard in name never matches", pattern: "*.example.com", dns: "*.example.com"},
	{name: "wildcard in name vs exact", pattern: "example.com", dns: "*.com"},
	{name: "empty label", pattern: "*.example.com", dns: ".example.com"},
	{name: "trailing dot", pattern: "example.com", dns: "example.com."},
}

func TestDNSPatternMatch(t *testing.T) {
	t.Parallel()
	for _, tt := range dnsMatchTests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := parseDNSPattern(tt.pattern)
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Match(tt.dns); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseDNSPatternErrors(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "*", "*.", "a.*.com", "a*.com", "**.com", "a..com", "a b.com", "a.com.", strings.Repeat("a", 64) + ".com"} {
		if p, err := parseDNSPattern(s); err == nil {
			t.Errorf("parseDNSPattern(%q): got %v, want an error", s, p)
		}
	}
}

func FuzzSPIFFEIDPattern(f *testing.F) {
	for _, tt := range spiffeMatchTests {
		f.Add(tt.pattern, tt.id)
	}
	f.Fuzz(func(t *testing.T, pattern, id string) {
		p, err := parseSPIFFEIDPattern(pattern)
		if err != nil {
			return
		}
		sid, err := spiffeid.FromString(id)
		if err != nil {
			if p.Match(spiffeid.ID{}) {
				t.Fatalf("pattern %q matched the zero ID", pattern)
			}
			return
		}
		got := p.Match(sid)
		// A pattern without wildcards matches exactly its own ID.
		if !strings.Contains(pattern, "*") && got != (sid.String() == pattern) {
			t.Fatalf("exact pattern %q vs %q: got %v", pattern, id, got)
		}
		// A match is always in the same trust domain with as many segments.
		if got {
			if sid.TrustDomain().Name() != strings.SplitN(strings.TrimPrefix(pattern, "spiffe://"), "/", 2)[0] {
				t.Fatalf("pattern %q matched %q in another trust domain", pattern, id)
			}
			if strings.Count(sid.Path(), "/") != strings.Count(strings.TrimPrefix(pattern, "spiffe://"), "/") {
				t.Fatalf("pattern %q matched %q with a different depth", pattern, id)
			}
		}
		// The pattern round-trips.
		if p2, err := parseSPIFFEIDPattern(p.String()); err != nil || p2.String() != p.String() {
			t.Fatalf("pattern %q does not round-trip: %v", pattern, err)
		}
	})
}

func FuzzDNSPattern(f *testing.F) {
	for _, tt := range dnsMatchTests {
		f.Add(tt.pattern, tt.dns)
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		p, err := parseDNSPattern(pattern)
		if err != nil {
			return
		}
		got := p.Match(name)
		if !got {
			return
		}
		if strings.Contains(name, "*") {
			t.Fatalf("pattern %q matched wildcard name %q", pattern, name)
		}
		lp, ln := strings.ToLower(pattern), strings.ToLower(name)
		if !strings.HasPrefix(lp, "*.") {
			if lp != ln {
				t.Fatalf("exact pattern %q matched %q", pattern, name)
			}
			return
		}
		// A wildcard match is exactly one non-empty label plus the suffix.
		label, rest, ok := strings.Cut(ln, ".")
		if !ok || label == "" || rest != lp[2:] {
			t.Fatalf("wildcard pattern %q matched %q", pattern, name)
		}
	})
}
