package urisan_test

import (
	"testing"

	"github.com/forgeproof/forgeproof/internal/urisan"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestRespelledCost: Respelled runs for every identity mtls.NewIdentity
// reads (every handshake, and every request a trusted forwarder's XFCC
// certificate comes with) and for every XFCC header SetHeaders writes
// uncached (forwarded identities: twice a request). A certificate
// without URI SANs, the common client certificate, has nothing to
// compare: no walk of its SAN extension (asn1.Unmarshal, 8 allocations).
// The twin: a SPIFFE SVID spelled as it reads is not reported (the
// respelled ones are in mtls and mtls/forwarded's tests).
func TestRespelledCost(t *testing.T) {
	ca := pkitest.CA(t)
	dnsOnly := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice", DNSNames: []string{"alice.example"}}).Cert
	if allocs := testing.AllocsPerRun(100, func() { urisan.Respelled(dnsOnly) }); allocs != 0 {
		t.Errorf("a certificate without URI SANs: %v allocations, want 0", allocs)
	}
	svid := pkitest.SPIFFE(t, ca, "spiffe://example.org/web").Cert
	if raw, parsed, found := urisan.Respelled(svid); found {
		t.Errorf("SVID: got respelled %q as %q, want none", raw, parsed)
	}
}

func BenchmarkRespelledSVID(b *testing.B) {
	svid := pkitest.SPIFFE(b, pkitest.CA(b), "spiffe://example.org/web").Cert
	b.ReportAllocs()
	for b.Loop() {
		urisan.Respelled(svid)
	}
}
