package mtls

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"slices"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/internal/boundedmap"
)

// maxVerifiedChains bounds a chainCache: at most this many distinct
// client certificates (with their intermediates) are remembered.
const maxVerifiedChains = 1024

// chainCache remembers the chains that x509.Verify built for client
// certificates, so that a resumed session with the same certificate does
// not verify its signatures again (17% of server CPU on resumed
// handshakes). It lives in a state: a reload (new CAs, new CRLs) makes a
// new state with an empty cache, so every entry was verified against the
// trust store in use. What a signature check cannot change is cached;
// everything else (validity period, key usage, revocation,
// authorization) is still checked on every handshake by Server.verify.
type chainCache struct {
	m *boundedmap.Map[[32]byte, []*x509.Certificate] // key → verified chain minus the leaf
	// hits counts lookups that skipped x509.Verify, for tests.
	hits atomic.Int64
}

func newChainCache() *chainCache {
	return &chainCache{m: boundedmap.New[[32]byte, []*x509.Certificate](maxVerifiedChains)}
}

// chainKey is the SHA-256 of the certificates exactly as presented (leaf
// first, each prefixed by its length), so that a different leaf or a
// different set or order of intermediates is a different entry.
func chainKey(certs []*x509.Certificate) [32]byte {
	h := sha256.New()
	var n [8]byte
	for _, c := range certs {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// get returns the chain verified earlier for the presented certificates,
// with presented[0] (this handshake's leaf) in front, if it is known and
// every certificate in it is valid at now and the leaf may authenticate
// clients. Otherwise it returns nil and the caller verifies in full.
func (cc *chainCache) get(presented []*x509.Certificate, now time.Time) []*x509.Certificate {
	if cc == nil {
		return nil
	}
	rest, ok := cc.m.Get(chainKey(presented))
	if !ok {
		return nil
	}
	leaf := presented[0]
	chain := append([]*x509.Certificate{leaf}, rest...)
	// The validity window x509.Verify checked at an earlier time: check
	// it again now, for every certificate, as Verify would.
	for _, c := range chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return nil
		}
	}
	// Key usage is a function of the certificate bytes, which the key
	// covers; the leaf's is checked again anyway, failing closed (a leaf
	// with no extended key usage at all is verified in full).
	if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return nil
	}
	cc.hits.Add(1)
	return chain
}

// put remembers chain, the chain x509.Verify returned for the presented
// certificates. The leaf itself is not kept (presented[0] is used on a
// hit), so the cache holds no certificate object marked verified.
func (cc *chainCache) put(presented, chain []*x509.Certificate) {
	if cc == nil || len(chain) == 0 {
		return
	}
	cc.m.Put(chainKey(presented), slices.Clone(chain[1:]))
}

func (cc *chainCache) len() int { return cc.m.Len() }
