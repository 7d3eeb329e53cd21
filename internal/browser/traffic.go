package browser

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

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

// How long a completed hop waits for the event that carries its on-wire
// headers before it is recorded with the headers the page asked for. A
// hop whose response said that event comes (hasExtraInfo) waits up to
// expectedGrace, only so that a lost event cannot hold its chain forever:
// under load the event came more than 250 ms after the response, and a
// Sent without Sec-Fetch-Site was recorded (a TestDemoInBrowser flake).
// Any other hop (a failed load; a response that said no, which Chromium
// 156 says of no-cors fetches that then do get on-wire headers; a cached
// response, which never does) waits unknownGrace.
const (
	expectedGrace = 30 * time.Second
	unknownGrace  = 2 * time.Second
)

// traffic turns the tab's network events into Sent records, one per hop
// of a redirect chain, recorded once the hop's response has arrived or its
// loading failed, and its on-wire headers have come or will not.
//
// Chromium gives no order between requestWillBeSent and the
// requestWillBeSentExtraInfo that carries the on-wire headers, not even
// across the hops of a redirect; but it sends one of each per hop that
// went to the network, in hop order. So headers are queued per request
// and paired with those hops in order.
type traffic struct {
	log journal[Sent]
	// grace is the wait of a hop whose headers may or may not come
	// (unknownGrace; shorter in tests).
	grace time.Duration

	mu     sync.Mutex
	chains map[network.RequestID]*chain
}

type chain struct {
	hops     []*hop
	extras   []http.Header // on-wire request headers, in hop order
	used     int           // extras already given to hops
	recorded int           // hops already in the log
}

type hop struct {
	sent     Sent
	complete bool // response arrived or loading failed
	expected bool // the response said on-wire headers come
	timer    bool // a grace timer is pending
}

func newTraffic() *traffic {
	return &traffic{chains: map[network.RequestID]*chain{}, grace: unknownGrace}
}

func (t *traffic) chain(id network.RequestID) *chain {
	c := t.chains[id]
	if c == nil {
		c = &chain{}
		t.chains[id] = c
	}
	return c
}

// last returns the current hop of the chain, nil before requestWillBeSent.
func (c *chain) last() *hop {
	if len(c.hops) == 0 {
		return nil
	}
	return c.hops[len(c.hops)-1]
}

// flush records the completed hops in order. force records a hop whose
// on-wire headers have not come, with the headers the page asked for.
func (t *traffic) flush(id network.RequestID, c *chain, force bool) {
	for c.recorded < len(c.hops) && c.hops[c.recorded].complete {
		h := c.hops[c.recorded]
		switch {
		case c.used < len(c.extras):
			h.sent.Header = c.extras[c.used]
			c.used++
		case force:
		default:
			if !h.timer {
				h.timer = true
				wait := t.grace
				if h.expected {
					wait = expectedGrace
				}
				time.AfterFunc(wait, func() {
					t.mu.Lock()
					defer t.mu.Unlock()
					t.flush(id, c, true)
				})
			}
			return
		}
		t.log.add(h.sent)
		c.recorded++
	}
}

// handle runs on chromedp's event loop: it must be quick and must not call
// the browser.
func (t *traffic) handle(ev any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		c := t.chain(ev.RequestID)
		if h := c.last(); h != nil && ev.RedirectResponse != nil {
			h.sent.Status, h.complete, h.expected = int(ev.RedirectResponse.Status), true, ev.RedirectHasExtraInfo
		}
		c.hops = append(c.hops, &hop{sent: Sent{
			Method: ev.Request.Method,
			URL:    ev.Request.URL + ev.Request.URLFragment,
			Type:   string(ev.Type),
			Header: toHeader(ev.Request.Headers),
		}})
		t.flush(ev.RequestID, c, false)
	case *network.EventRequestWillBeSentExtraInfo:
		c := t.chain(ev.RequestID)
		c.extras = append(c.extras, toHeader(ev.Headers))
		t.flush(ev.RequestID, c, false)
	case *network.EventResponseReceived:
		c := t.chain(ev.RequestID)
		if h := c.last(); h != nil {
			h.sent.Status, h.complete, h.expected = int(ev.Response.Status), true, ev.HasExtraInfo
			t.flush(ev.RequestID, c, false)
		}
	case *network.EventLoadingFailed:
		c := t.chain(ev.RequestID)
		if h := c.last(); h != nil {
			h.sent.Error, h.complete = ev.ErrorText, true
			t.flush(ev.RequestID, c, false)
		}
	case *network.EventLoadingFinished:
		c := t.chain(ev.RequestID)
		if h := c.last(); h != nil {
			h.complete = true
			t.flush(ev.RequestID, c, false)
		}
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
