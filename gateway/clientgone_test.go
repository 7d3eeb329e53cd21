package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestClientGoneIsNoRefusal: a request whose client leaves before the
// upstream answers (a page's XHR cut short by a navigation: DokuWiki's
// editor sends its draft and lock POSTs as the Save button leaves the
// page) is logged with reason client-gone, status 499 and decision
// allow: it passed every check and was forwarded, and docs/gateway.md
// calls client-gone a reason an allowed request ended early, not a
// refusal. Twin: a cross-site POST on the same route is logged deny.
func TestClientGoneIsNoRefusal(t *testing.T) {
	t.Parallel()
	w, up, gw := startStall(t, stallOff)
	c := gw.client(w.web)

	// The client leaves once the upstream has the request, which it
	// does not answer until the gateway lets it go. (Not after a fixed
	// time: on a loaded machine the handshake alone can take longer,
	// and a client that leaves before its request was forwarded is not
	// the case.)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-up.bigTag("gone").started:
		case <-time.After(stallSeen):
		}
		cancel()
	}()
	req, _ := http.NewRequestWithContext(ctx, "POST", gw.base+"/s/big?n=10&tag=gone&hold=1", strings.NewReader("draft"))
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Origin", gw.base)
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("the request was answered (%s) before the client left", resp.Status)
	}
	req, _ = http.NewRequest("POST", gw.base+"/s/big?n=10", strings.NewReader("draft"))
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.Header.Set("Origin", "https://attacker.example")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	want := map[string]string{"client-gone": "allow", "cross-site": "deny"}
	deadline := time.Now().Add(stallSeen)
	for {
		got := map[string]string{}
		for _, l := range gw.log.lines(t) {
			if l["msg"] == "request" && l["path"] == "/s/big" {
				r, _ := l["reason"].(string)
				d, _ := l["decision"].(string)
				got[r] = d
				if r == "client-gone" && l["status"] != float64(499) {
					t.Errorf("client-gone logged with status %v, want 499", l["status"])
				}
			}
		}
		if len(got) == len(want) || time.Now().After(deadline) {
			for r, d := range want {
				if got[r] != d {
					t.Errorf("access log: reason %q logged with decision %q, want %q (all: %v)", r, got[r], d, got)
				}
			}
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}
