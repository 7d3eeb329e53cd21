package browser

import (
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
)

// TestTrafficPairsHeadersWithHops feeds the traffic log the event orders
// Chromium really produces (seen with Chromium 156): on-wire headers that
// come before the request, or after the redirect that ends it; a fetch
// whose loading never finishes because no one reads its body; a request
// that fails and never gets on-wire headers.
func TestTrafficPairsHeadersWithHops(t *testing.T) {
	sent := func(id, method, url string, typ network.ResourceType, redirect int64) *network.EventRequestWillBeSent {
		ev := &network.EventRequestWillBeSent{
			RequestID: network.RequestID(id),
			Type:      typ,
			Request:   &network.Request{Method: method, URL: url, Headers: network.Headers{"Origin": "page"}},
		}
		if redirect != 0 {
			ev.RedirectResponse, ev.RedirectHasExtraInfo = &network.Response{Status: redirect}, true
		}
		return ev
	}
	wire := func(id, origin string) *network.EventRequestWillBeSentExtraInfo {
		return &network.EventRequestWillBeSentExtraInfo{RequestID: network.RequestID(id),
			Headers: network.Headers{"Origin": origin, "Sec-Fetch-Site": "cross-site", "Cookie": "a=1; b=2"}}
	}
	response := func(id string, status int64) *network.EventResponseReceived {
		return &network.EventResponseReceived{RequestID: network.RequestID(id), Response: &network.Response{Status: status}, HasExtraInfo: true}
	}
	tests := []struct {
		name   string
		events []any
		want   []Sent // without Header
		// origins is the Origin header of each hop: on the wire when
		// Chromium reported it, else the page's ("page").
		origins []string
	}{
		{
			name: "redirect, on-wire headers of the first hop after the redirect",
			events: []any{
				sent("1", "POST", "https://bank/login", network.ResourceTypeDocument, 0),
				sent("1", "GET", "https://bank/", network.ResourceTypeDocument, 303),
				wire("1", "https://evil"), wire("1", "null"),
				response("1", 200),
				&network.EventLoadingFinished{RequestID: "1"},
			},
			want: []Sent{
				{Method: "POST", URL: "https://bank/login", Type: "Document", Status: 303},
				{Method: "GET", URL: "https://bank/", Type: "Document", Status: 200},
			},
			origins: []string{"https://evil", "null"},
		},
		{
			name: "on-wire headers first, loading never finishes",
			events: []any{
				wire("2", "https://evil"),
				sent("2", "POST", "https://bank/api", network.ResourceTypeFetch, 0),
				response("2", 201),
			},
			want:    []Sent{{Method: "POST", URL: "https://bank/api", Type: "Fetch", Status: 201}},
			origins: []string{"https://evil"},
		},
		{
			name: "from the cache: the response says no on-wire headers come, and none do",
			events: []any{
				sent("4", "GET", "https://bank/style.css", network.ResourceTypeStylesheet, 0),
				&network.EventResponseReceived{RequestID: "4", Response: &network.Response{Status: 200}, HasExtraInfo: false},
			},
			want:    []Sent{{Method: "GET", URL: "https://bank/style.css", Type: "Stylesheet", Status: 200}},
			origins: []string{"page"},
		},
		{
			name: "no-cors fetch: the response says none come, but they do",
			events: []any{
				sent("5", "POST", "https://bank/api", network.ResourceTypeFetch, 0),
				&network.EventResponseReceived{RequestID: "5", Response: &network.Response{Status: 0}, HasExtraInfo: false},
				wire("5", "https://evil"),
			},
			want:    []Sent{{Method: "POST", URL: "https://bank/api", Type: "Fetch"}},
			origins: []string{"https://evil"},
		},
		{
			name: "failed, no on-wire headers ever",
			events: []any{
				sent("3", "GET", "https://bank/img", network.ResourceTypeImage, 0),
				&network.EventLoadingFailed{RequestID: "3", ErrorText: "net::ERR_BLOCKED_BY_ORB"},
			},
			want:    []Sent{{Method: "GET", URL: "https://bank/img", Type: "Image", Error: "net::ERR_BLOCKED_BY_ORB"}},
			origins: []string{"page"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTraffic()
			tr.grace = 20 * time.Millisecond
			for _, ev := range tt.events {
				tr.handle(ev)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			if _, err := tr.log.wait(ctx, len(tt.want)-1, "the last hop", func(Sent) bool { return true }); err != nil {
				t.Fatal(err)
			}
			time.Sleep(2 * tr.grace) // nothing more may come
			got := tr.log.all()
			var origins []string
			for j := range got {
				origins = append(origins, got[j].Header.Get("Origin"))
				got[j].Header = nil
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !reflect.DeepEqual(origins, tt.origins) {
				t.Errorf("Origin per hop: got %q, want %q", origins, tt.origins)
			}
		})
	}
}

// TestTrafficWaitsForLateHeaders: the on-wire headers (Sec-Fetch-Site,
// Cookie) of a request whose response said they come are waited for,
// however late they are: under load they came more than the former
// 250 ms grace after the response, and the hop was recorded without
// Sec-Fetch-Site (a TestDemoInBrowser flake). No timer decides it.
func TestTrafficWaitsForLateHeaders(t *testing.T) {
	tr := newTraffic()
	tr.grace = time.Nanosecond // would fire at once if it were used
	tr.handle(&network.EventRequestWillBeSent{RequestID: "1", Type: network.ResourceTypeDocument,
		Request: &network.Request{Method: "POST", URL: "https://bank/transfer"}})
	tr.handle(&network.EventResponseReceived{RequestID: "1", Response: &network.Response{Status: 403}, HasExtraInfo: true})
	tr.handle(&network.EventLoadingFinished{RequestID: "1"})
	time.Sleep(50 * time.Millisecond) // a grace timer would have fired
	if n := len(tr.log.all()); n != 0 {
		t.Fatalf("recorded %d hops before their on-wire headers came", n)
	}
	tr.handle(&network.EventRequestWillBeSentExtraInfo{RequestID: "1", Headers: network.Headers{"Sec-Fetch-Site": "cross-site"}})
	got := tr.log.all()
	if len(got) != 1 || got[0].Header.Get("Sec-Fetch-Site") != "cross-site" {
		t.Fatalf("got %+v, want the hop with its on-wire Sec-Fetch-Site", got)
	}
}

func TestSentCookies(t *testing.T) {
	s := Sent{Header: toHeader(network.Headers{"Cookie": "session=x; __Host-csrf=y"})}
	if got, want := s.Cookies(), []string{"session", "__Host-csrf"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// FuzzTrafficEventOrder feeds the traffic log the network events of three
// requests in any order Chromium could send them (and some it should
// not): it must never panic, never record a hop twice, and never record
// more hops than requests were sent.
func FuzzTrafficEventOrder(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4})          // request, on-wire headers, response, finished
	f.Add([]byte{1, 0, 2, 4})             // headers first
	f.Add([]byte{0, 5, 1, 1, 2, 4})       // redirect, both headers late
	f.Add([]byte{0, 3})                   // failed, never any headers
	f.Add([]byte{2, 4, 3, 1, 16, 33, 50}) // events for requests never sent
	f.Fuzz(func(t *testing.T, ops []byte) {
		tr := newTraffic()
		sent := 0
		for _, op := range ops {
			id := network.RequestID(rune('a' + op/16%3))
			switch op % 6 {
			case 0:
				tr.handle(&network.EventRequestWillBeSent{RequestID: id, Request: &network.Request{Method: "GET", URL: "https://x/"}})
				sent++
			case 5:
				tr.handle(&network.EventRequestWillBeSent{RequestID: id, Request: &network.Request{Method: "GET", URL: "https://x/next"},
					RedirectResponse: &network.Response{Status: 302}})
				sent++
			case 1:
				tr.handle(&network.EventRequestWillBeSentExtraInfo{RequestID: id, Headers: network.Headers{"Origin": "o"}})
			case 2:
				tr.handle(&network.EventResponseReceived{RequestID: id, Response: &network.Response{Status: 200}})
			case 3:
				tr.handle(&network.EventLoadingFailed{RequestID: id, ErrorText: "net::ERR_FAILED"})
			case 4:
				tr.handle(&network.EventLoadingFinished{RequestID: id})
			}
		}
		tr.mu.Lock()
		for _, c := range tr.chains {
			tr.flush("", c, true) // what the grace timers would do
		}
		tr.mu.Unlock()
		if n := len(tr.log.all()); n > sent {
			t.Fatalf("recorded %d hops, but only %d requests were sent", n, sent)
		}
	})
}
