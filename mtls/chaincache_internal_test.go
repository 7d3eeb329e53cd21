package mtls

import (
	"crypto/x509"
	"encoding/binary"
	"testing"
	"time"
)

func fakeCert(n uint32, eku ...x509.ExtKeyUsage) *x509.Certificate {
	raw := binary.BigEndian.AppendUint32([]byte("cert"), n)
	now := time.Now()
	return &x509.Certificate{Raw: raw, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), ExtKeyUsage: eku}
}

// TestChainCacheKey: an entry is found only for the same leaf with the
// same intermediates, and only while every certificate is valid and the
// leaf may authenticate clients.
func TestChainCacheKey(t *testing.T) {
	client := x509.ExtKeyUsageClientAuth
	leaf, inter, other, root := fakeCert(1, client), fakeCert(2), fakeCert(3), fakeCert(4)
	cc := newChainCache()
	cc.put([]*x509.Certificate{leaf, inter}, []*x509.Certificate{leaf, inter, root})
	now := time.Now()
	sameBytes := *leaf // another object, same certificate
	tests := []struct {
		name      string
		presented []*x509.Certificate
		now       time.Time
		hit       bool
	}{
		{"same certificates", []*x509.Certificate{leaf, inter}, now, true},
		{"same bytes, another object", []*x509.Certificate{&sameBytes, inter}, now, true},
		{"no intermediate", []*x509.Certificate{leaf}, now, false},
		{"other intermediate", []*x509.Certificate{leaf, other}, now, false},
		{"extra intermediate", []*x509.Certificate{leaf, inter, other}, now, false},
		{"other leaf", []*x509.Certificate{fakeCert(5, client), inter}, now, false},
		{"expired", []*x509.Certificate{leaf, inter}, now.Add(2 * time.Hour), false},
		{"not yet valid", []*x509.Certificate{leaf, inter}, now.Add(-2 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain := cc.get(tt.presented, tt.now)
			if got := chain != nil; got != tt.hit {
				t.Fatalf("got hit %v, want %v", got, tt.hit)
			}
			if chain != nil && (chain[0] != tt.presented[0] || len(chain) != 3 || chain[2] != root) {
				t.Errorf("got chain %v, want the presented leaf, then the cached rest", chain)
			}
		})
	}

	// A leaf without clientAuth is verified in full (x509 would refuse
	// it); the cache does not vouch for it even if an entry exists.
	server := fakeCert(6, x509.ExtKeyUsageServerAuth)
	cc.put([]*x509.Certificate{server}, []*x509.Certificate{server, root})
	if cc.get([]*x509.Certificate{server}, now) != nil {
		t.Error("got a hit for a leaf without clientAuth, want none")
	}
}

// TestChainCacheBounded: the cache never holds more than
// maxVerifiedChains entries.
func TestChainCacheBounded(t *testing.T) {
	cc := newChainCache()
	root := fakeCert(0)
	for i := range uint32(maxVerifiedChains + 100) {
		leaf := fakeCert(i+1, x509.ExtKeyUsageClientAuth)
		cc.put([]*x509.Certificate{leaf}, []*x509.Certificate{leaf, root})
		if n := cc.len(); n > maxVerifiedChains {
			t.Fatalf("after %d puts: got %d entries, want at most %d", i+1, n, maxVerifiedChains)
		}
	}
	if n := cc.len(); n != maxVerifiedChains {
		t.Errorf("got %d entries, want %d", n, maxVerifiedChains)
	}
}
