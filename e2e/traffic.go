package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/chromedp/cdproto/network"
)

// Sent is one request as the browser's own network stack reported it over
// the DevTools protocol: what Chromium put on the wire, whatever the
// server makes of it.
type Sent struct {
	Method string
	URL    string
	// Type is the resource type: Document, Image, Fetch, …
	Type string
	// Header holds the headers sent on the wire, Cookie included, when
	// Chromium reported them (it does for network requests); otherwise
	// the headers the page asked for.
	Header http.Header
	// Status is the response status, 0 when no response arrived.
	Status int
	// Error is the network error, such as "net::ERR_BLOCKED_BY_ORB" for an
	// HTML answer to an <img>; the request was still sent when Status is
	// set.
	Error string
}

// Cookies returns the names of the cookies sent, never their values.
func (s Sent) Cookies() []string {
	var names []string
	for _, c := range (&http.Request{Header: http.Header{"Cookie": s.Header.Values("Cookie")}}).Cookies() {
		names = append(names, c.Name)
	}
	return names
}

// SentTo matches requests by method and by URL without its query, e.g.
// SentTo("POST", "https://localhost:8443/transfer").
func SentTo(method, rawURL string) func(Sent) bool {
	return func(s Sent) bool {
		u, _, _ := strings.Cut(s.URL, "?")
		return s.Method == method && u == rawURL
	}
}

// traffic turns the tab's network events into Sent records. An entry is
// recorded once its request is over (finished, failed or redirected).
type traffic struct {
	log journal[Sent]

	mu      sync.Mutex
	pending map[network.RequestID]*pendingSent
}

type pendingSent struct {
	sent   Sent
	onWire bool // Header came from requestWillBeSentExtraInfo
}

func newTraffic() *traffic {
	return &traffic{pending: map[network.RequestID]*pendingSent{}}
}

// entry returns the pending entry of id, creating it if an ExtraInfo event
// arrived first (Chromium gives no order between the two).
func (t *traffic) entry(id network.RequestID) *pendingSent {
	p := t.pending[id]
	if p == nil {
		p = &pendingSent{}
		t.pending[id] = p
	}
	return p
}

func (t *traffic) finish(id network.RequestID) {
	if p := t.pending[id]; p != nil && p.sent.Method != "" {
		delete(t.pending, id)
		t.log.add(p.sent)
	}
}

// handle runs on chromedp's event loop: it must be quick and must not call
// the browser.
func (t *traffic) handle(ev any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.RedirectResponse != nil {
			// The same id carries on with the next hop: close this one.
			if p := t.pending[ev.RequestID]; p != nil {
				p.sent.Status = int(ev.RedirectResponse.Status)
				t.finish(ev.RequestID)
			}
		}
		p := t.entry(ev.RequestID)
		p.sent.Method = ev.Request.Method
		p.sent.URL = ev.Request.URL + ev.Request.URLFragment
		p.sent.Type = string(ev.Type)
		if !p.onWire {
			p.sent.Header = toHeader(ev.Request.Headers)
		}
	case *network.EventRequestWillBeSentExtraInfo:
		p := t.entry(ev.RequestID)
		p.sent.Header, p.onWire = toHeader(ev.Headers), true
	case *network.EventResponseReceived:
		t.entry(ev.RequestID).sent.Status = int(ev.Response.Status)
	case *network.EventResponseReceivedExtraInfo:
		if p := t.entry(ev.RequestID); p.sent.Status == 0 {
			p.sent.Status = int(ev.StatusCode)
		}
	case *network.EventLoadingFinished:
		t.finish(ev.RequestID)
	case *network.EventLoadingFailed:
		t.entry(ev.RequestID).sent.Error = ev.ErrorText
		t.finish(ev.RequestID)
	}
}

func toHeader(h network.Headers) http.Header {
	out := http.Header{}
	for k, v := range h {
		// Duplicate headers come joined with "\n".
		for _, s := range strings.Split(fmt.Sprint(v), "\n") {
			out.Add(k, s)
		}
	}
	return out
}

// Sent returns the requests the tab has completed so far, oldest first.
func (b *Browser) Sent() []Sent { return b.traffic.log.all() }

// Mark returns a position in the tab's traffic: WaitSent(ctx, mark, …)
// looks only at requests completed after it.
func (b *Browser) Mark() int { return b.traffic.log.mark() }

// WaitSent returns the first request completed after mark that match
// accepts, waiting for it until ctx ends or the action timeout passes.
func (b *Browser) WaitSent(ctx context.Context, mark int, match func(Sent) bool) (Sent, error) {
	wctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	return b.traffic.log.wait(wctx, mark, "a request from the browser", match)
}
