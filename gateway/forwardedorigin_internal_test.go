package gateway

import (
	"net/http"
	"net/http/httputil"
	"net/netip"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// TestForwardedOriginAllocs: reading a trusted proxy's forwarding
// headers (readForwarded) and setting them upstream (forwardOrigin)
// costs no allocation for a request without Forwarded, nor for one whose
// Forwarded has no quoted-pair; and a peer that is not trusted is not
// read at all.
func TestForwardedOriginAllocs(t *testing.T) {
	c := &compiled{proxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	for _, tt := range []struct {
		name   string
		header http.Header
		want   string // the upstream's Forwarded
	}{
		{"without Forwarded", http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}, "X-Forwarded-For": {"192.0.2.1"}}, ""},
		{"with Forwarded", http.Header{"Forwarded": {`for=192.0.2.9, for="[2001:db8::1]";proto=https;host="app.example"`}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}},
			`for="[2001:db8::1]";proto=https;host="app.example"`},
	} {
		in := &http.Request{RemoteAddr: "127.0.0.1:4711", Host: "app.example", Header: tt.header}
		x := new(exchange)
		pr := &httputil.ProxyRequest{In: in, Out: &http.Request{Header: make(http.Header, 8)}}
		n := testing.AllocsPerRun(100, func() {
			x.fwdRead = false
			if reason, detail := c.readForwarded(in, x); reason != "" {
				t.Fatalf("%s: refused %s: %s", tt.name, reason, detail)
			}
			c.forwardOrigin(pr, x)
		})
		if n != 0 {
			t.Errorf("%s: %v allocations, want 0", tt.name, n)
		}
		if got := pr.Out.Header.Get("Forwarded"); got != tt.want {
			t.Errorf("%s: upstream Forwarded %q, want %q", tt.name, got, tt.want)
		}
		if got := pr.Out.Header.Get("X-Forwarded-Host"); got != "app.example" {
			t.Errorf("%s: upstream X-Forwarded-Host %q", tt.name, got)
		}
	}
	untrusted := &http.Request{RemoteAddr: "192.0.2.1:4711", Host: "app.example", Header: http.Header{"Forwarded": {`for="x`}}}
	x := new(exchange)
	if reason, _ := c.readForwarded(untrusted, x); reason != "" || x.fwdRead {
		t.Errorf("an untrusted peer's headers were read: %q, %v", reason, x.fwdRead)
	}
}

// TestForwardedReasonsAreCSRFs: the gateway refuses a trusted proxy's
// forwarding headers with the codes the CSRF check would use, so a log
// or a dashboard reads one code per cause whichever refused.
func TestForwardedReasonsAreCSRFs(t *testing.T) {
	for got, want := range map[Reason]csrf.Reason{
		ReasonForwardedInvalid:  csrf.ReasonForwardedInvalid,
		ReasonForwardedConflict: csrf.ReasonForwardedConflict,
	} {
		if string(got) != string(want) {
			t.Errorf("got %q, want csrf's %q", got, want)
		}
	}
}
