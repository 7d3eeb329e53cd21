package e2e_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/browser/browsertest"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// cookieGateway starts a gateway in front of app whose only route has
// cookies, on a listener with the given HTTP/2 mode, and a Chromium with
// alice's certificate for it. It returns the browser, the gateway's
// origin and its access log.
func cookieGateway(t *testing.T, mode gateway.HTTP2Mode, cookies gateway.Cookies, app http.Handler) (*browser.Browser, string, *browser.AccessLog) {
	t.Helper()
	tools := browsertest.Tools(t)
	ca, _, dir := gatewayFiles(t, "localhost")
	alice, err := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"}).PKCS12("")
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(app)
	t.Cleanup(up.Close)
	log := new(browser.AccessLog)
	g, err := gateway.New(&gateway.Config{
		Listeners: []gateway.Listener{{Address: "127.0.0.1:0", HTTP2: mode, TLS: gateway.ListenerTLS{
			CertFile: filepath.Join(dir, "server.pem"), KeyFile: filepath.Join(dir, "server-key.pem"),
			ClientCAFiles: []string{filepath.Join(dir, "ca.pem")}, ClientAuth: mtls.VerifyClientCertIfGiven}}},
		Routes: []gateway.Route{{Upstream: up.URL, Allow: gateway.Allow{AnyVerified: true}, Cookies: cookies}},
		Admin:  gateway.Admin{Address: "off"},
	}, gateway.Options{Logger: slog.New(log)})
	if err != nil {
		t.Fatal(err)
	}
	target := "https://localhost:" + serveGateway(t, g)
	b := startBrowser(t, tools, browser.Profile{CACertsPEM: pki.EncodeCertsPEM(ca.Cert), ClientP12: alice, AutoSelect: []string{target}, IssuerCN: harnessCAName})
	return b, target, log
}

// storedCookies navigates to url and returns what Chromium then holds
// for cookieURL, by name.
func storedCookies(t *testing.T, b *browser.Browser, url, cookieURL string) map[string]*network.Cookie {
	t.Helper()
	if status, err := b.Navigate(t.Context(), url); err != nil || status != http.StatusOK {
		t.Fatalf("navigate to %s: %d %v", url, status, err)
	}
	cs, err := b.Cookies(t.Context(), cookieURL)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]*network.Cookie{}
	for _, c := range cs {
		m[c.Name] = c
	}
	return m
}

// TestInformationalCookiesInBrowser is why the gateway drops Set-Cookie
// from an upstream's 1xx on a route with cookie settings (recorder's
// WriteHeader) rather than hardening it: Chromium stores no cookie from a
// 103 Early Hints, over HTTP/2 (where DevTools reports the 103 and its
// Set-Cookie, relayed as sent by a route without cookie settings) or
// HTTP/1.1 (where Chromium skips 103s). The allowed twin: the final
// answer's cookie is stored. On the hardened route the 103 Chromium gets
// has no Set-Cookie (it had one before the fix), and the final answer's
// cookie is stored hardened.
func TestInformationalCookiesInBrowser(t *testing.T) {
	t.Parallel()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/s.css" {
			return
		}
		w.Header().Set("Link", "</s.css>; rel=preload; as=style")
		w.Header().Add("Set-Cookie", "early=1; Path=/")
		w.WriteHeader(http.StatusEarlyHints)
		w.Header().Del("Link")
		w.Header().Del("Set-Cookie")
		w.Header().Add("Set-Cookie", "final=1; Path=/")
		fmt.Fprint(w, "<!doctype html><title>app</title>ok")
	})
	for _, tc := range []struct {
		name    string
		mode    gateway.HTTP2Mode
		cookies gateway.Cookies
	}{
		{"HTTP/2, plain route", gateway.HTTP2On, gateway.Cookies{}},
		{"HTTP/1.1, plain route", gateway.HTTP2Off, gateway.Cookies{}},
		{"HTTP/2, hardened route", gateway.HTTP2On, gateway.Cookies{Secure: true, HTTPOnly: true, SameSite: gateway.SameSiteLax}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, target, _ := cookieGateway(t, tc.mode, tc.cookies, app)
			if tc.mode == gateway.HTTP2Off {
				// Over HTTP/1.1 Chromium skips 103s: nothing to wait for.
				checkInformationalCookies(t, storedCookies(t, b, target+"/page", target+"/"), tc.cookies)
				return
			}
			// Over HTTP/2 the 103 reached Chromium, with the Set-Cookie
			// the route relays. Chromium does not report every 103 it
			// gets: its HTTP/2 stream hands one up only when the request
			// already waits for its answer's header, which it starts to
			// do in a task posted once the request is written; a 103 read
			// before that task runs is overwritten by the final answer
			// (net/spdy/spdy_http_stream.cc, OnEarlyHintsReceived). The
			// gateway writes the 103 first every time (GODEBUG=http2debug=2),
			// yet DevTools reported it for about 60% of navigations on a
			// loaded 2-core machine. So navigate until one navigation's 103
			// is reported, and check the cookies after that navigation:
			// Chromium had the 103 and its Set-Cookie then.
			const maxNavigations = 50
			ev := listenEarlyHints(t, b)
			for i := 1; ; i++ {
				url := fmt.Sprintf("%s/page?n=%d", target, i)
				got := storedCookies(t, b, url, target+"/")
				if got["early"] != nil {
					t.Fatalf("navigation %d: Chromium stored the 103's cookie early=%s", i, got["early"].Value)
				}
				hints, err := ev.wait(waitCtx(t), url)
				if err != nil {
					t.Fatalf("navigation %d: %v", i, err)
				}
				if len(hints) == 0 {
					if i == maxNavigations {
						t.Fatalf("Chromium reported no 103 Early Hints in %d navigations", i)
					}
					t.Logf("navigation %d: Chromium reported no 103 (it drops one it reads before it waits for the answer); again", i)
					continue
				}
				for _, h := range hints {
					_, hasCookie := h["set-cookie"]
					if want := !tc.cookies.Secure; hasCookie != want {
						t.Errorf("the 103 Chromium got has Set-Cookie %v, want %v (%v)", hasCookie, want, h)
					}
				}
				checkInformationalCookies(t, got, tc.cookies)
				return
			}
		})
	}
}

// checkInformationalCookies checks what Chromium holds after a navigation
// to TestInformationalCookiesInBrowser's upstream: not the 103's cookie;
// the final answer's, hardened on a route with cookie settings.
func checkInformationalCookies(t *testing.T, got map[string]*network.Cookie, cookies gateway.Cookies) {
	t.Helper()
	if got["early"] != nil {
		t.Errorf("Chromium stored the 103's cookie early=%s", got["early"].Value)
	}
	f := got["final"]
	if f == nil {
		t.Fatal("the final answer's cookie was not stored")
	}
	if hardened := cookies.Secure; hardened && (!f.Secure || !f.HTTPOnly || f.SameSite != network.CookieSameSiteLax) {
		t.Errorf("final cookie stored Secure=%v HttpOnly=%v SameSite=%q, want hardened", f.Secure, f.HTTPOnly, f.SameSite)
	}
}

// earlyHints collects, per document URL, the 103s DevTools reports for
// its request, and knows when it can report no more: the final answer's
// Network.responseReceivedExtraInfo. Both come from the network service
// over one DevTools observer pipe, the 103's first (URLLoader's
// OnEarlyHintsResponse, then OnRawResponse), and chromedp calls a
// listener in the order the browser sent its events; so once that event
// is in, a 103 not reported for the request never will be.
type earlyHints struct {
	mu    sync.Mutex
	ids   map[network.RequestID]string // document requests by URL
	hints map[string][]network.Headers
	done  map[string]chan struct{} // closed at the final answer's ExtraInfo
}

func listenEarlyHints(t *testing.T, b *browser.Browser) *earlyHints {
	t.Helper()
	e := &earlyHints{ids: map[network.RequestID]string{}, hints: map[string][]network.Headers{}, done: map[string]chan struct{}{}}
	if err := b.Listen(e.handle); err != nil {
		t.Fatal(err)
	}
	return e
}

// doneLocked returns url's channel; e.mu is held.
func (e *earlyHints) doneLocked(url string) chan struct{} {
	ch := e.done[url]
	if ch == nil {
		ch = make(chan struct{})
		e.done[url] = ch
	}
	return ch
}

func (e *earlyHints) handle(ev any) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		if ev.Type == network.ResourceTypeDocument {
			e.ids[ev.RequestID] = ev.Request.URL
		}
	case *network.EventResponseReceivedEarlyHints:
		if url, ok := e.ids[ev.RequestID]; ok {
			e.hints[url] = append(e.hints[url], ev.Headers)
		}
	case *network.EventResponseReceivedExtraInfo:
		if url, ok := e.ids[ev.RequestID]; ok && ev.StatusCode >= 200 {
			ch := e.doneLocked(url)
			select {
			case <-ch:
			default:
				close(ch)
			}
		}
	}
}

// wait returns the 103s reported for the document at url once DevTools
// can report no more for it.
func (e *earlyHints) wait(ctx context.Context, url string) ([]network.Headers, error) {
	e.mu.Lock()
	ch := e.doneLocked(url)
	e.mu.Unlock()
	select {
	case <-ch:
	case <-ctx.Done():
		return nil, fmt.Errorf("DevTools reported no Network.responseReceivedExtraInfo for %s: %w", url, ctx.Err())
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hints[url], nil
}

// TestHostPrefixPathsInBrowser: with host-prefix: session, every
// Set-Cookie for session moves under __Host- with Path=/, whatever its
// Path, so that an app under a context path (a servlet's Path=/ctx)
// keeps its session: left under the bare name, which the gateway drops
// on the way in, it would never come back (a login loop). The one
// exception: an answer that sets the session and deletes a copy under
// another path ("session=; Path=/old; Max-Age=0", as an app moving its
// cookie sends) keeps that deletion under the bare name; moved, it would
// delete the session the same answer sets. The twin: the upstream's
// logout (a deletion of its own) deletes __Host-session.
func TestHostPrefixPathsInBrowser(t *testing.T) {
	t.Parallel()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ctx/login":
			w.Header().Add("Set-Cookie", "session=ctx; Path=/ctx")
		case "/login":
			w.Header().Add("Set-Cookie", "session=abc; Path=/")
			w.Header().Add("Set-Cookie", "session=; Path=/old; Max-Age=0")
		case "/ctx/logout":
			w.Header().Add("Set-Cookie", "session=; Path=/ctx; Max-Age=0")
		}
		c, _ := r.Cookie("session")
		who := "nobody"
		if c != nil {
			who = c.Value
		}
		fmt.Fprintf(w, "<!doctype html><title>app</title><p id=who>%s</p>", who)
	})
	for _, mode := range []gateway.HTTP2Mode{gateway.HTTP2On, gateway.HTTP2Off} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			b, target, _ := cookieGateway(t, mode, gateway.Cookies{Secure: true, HTTPOnly: true, SameSite: gateway.SameSiteLax, HostPrefix: "session"}, app)
			who := func(path string) string {
				t.Helper()
				if status, err := b.Navigate(t.Context(), target+path); err != nil || status != http.StatusOK {
					t.Fatalf("navigate to %s: %d %v", path, status, err)
				}
				var s string
				if err := b.Eval(t.Context(), `document.getElementById("who").textContent`, &s); err != nil {
					t.Fatal(err)
				}
				return s
			}
			// A context path's session comes back.
			if got := storedCookies(t, b, target+"/ctx/login", target+"/"); got["__Host-session"] == nil || got["__Host-session"].Value != "ctx" {
				t.Fatalf("after the /ctx login Chromium holds %v, want __Host-session=ctx", keys(got))
			}
			if got := who("/ctx/page"); got != "ctx" {
				t.Errorf("under /ctx the upstream got session %q, want ctx", got)
			}
			// An answer that sets the session and deletes an old copy.
			got := storedCookies(t, b, target+"/login", target+"/")
			if got["__Host-session"] == nil || got["__Host-session"].Value != "abc" {
				t.Fatalf("after a login that deletes an /old copy Chromium holds %v, want __Host-session=abc", keys(got))
			}
			if got := who("/page"); got != "abc" {
				t.Errorf("after the login the upstream got session %q, want abc", got)
			}
			// The twin: the upstream's logout, under its context path.
			if got := storedCookies(t, b, target+"/ctx/logout", target+"/"); got["__Host-session"] != nil {
				t.Errorf("the upstream's logout left __Host-session=%s", got["__Host-session"].Value)
			}
			if got := who("/page"); got != "nobody" {
				t.Errorf("after logout the upstream got session %q, want none", got)
			}
		})
	}
}

// TestTrailerCookiesInBrowser is why the gateway drops Set-Cookie from an
// upstream's trailer on a route with cookie settings (dropTrailerCookies)
// rather than hardening it: Chromium stores no cookie from a trailer, over
// HTTP/2 or HTTP/1.1, when a route without cookie settings relays it as
// sent. The allowed twin: the same answer's header cookie is stored, and
// on the hardened route stored hardened.
func TestTrailerCookiesInBrowser(t *testing.T) {
	t.Parallel()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "head=1; Path=/")
		io.WriteString(w, "<!doctype html><title>app</title><p>chunked")
		w.(http.Flusher).Flush() // chunked, so that a trailer can follow
		w.Header().Set(http.TrailerPrefix+"Set-Cookie", "trail=1; Path=/")
	})
	for _, mode := range []gateway.HTTP2Mode{gateway.HTTP2On, gateway.HTTP2Off} {
		for _, tc := range []struct {
			name    string
			cookies gateway.Cookies
		}{
			{"plain", gateway.Cookies{}},
			{"hardened", gateway.Cookies{Secure: true, SameSite: gateway.SameSiteLax}},
		} {
			t.Run(mode.String()+", "+tc.name, func(t *testing.T) {
				t.Parallel()
				b, target, _ := cookieGateway(t, mode, tc.cookies, app)
				got := storedCookies(t, b, target+"/", target+"/")
				if got["trail"] != nil {
					t.Errorf("Chromium stored the trailer's cookie: %v", keys(got))
				}
				c := got["head"]
				if c == nil {
					t.Fatalf("the header's cookie was not stored: %v", keys(got))
				}
				if hardened := tc.cookies.Secure; c.Secure != hardened {
					t.Errorf("head stored with Secure %v, want %v", c.Secure, hardened)
				}
			})
		}
	}
}

// TestUpstreamHostPrefixInBrowser: with host-prefix: session, an
// upstream that sets __Host-session itself (Path=/, Secure) sets the
// same cookie as its bare session line: Chromium holds exactly one
// __Host-session, hardened, whichever line came last, and the upstream
// gets it back once, as session. (The gateway does not repair such a
// line: one without Path=/ is refused by Chromium, as without the
// gateway; docs/gateway.md.)
func TestUpstreamHostPrefixInBrowser(t *testing.T) {
	t.Parallel()
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/own":
			w.Header().Add("Set-Cookie", "__Host-session=own; Path=/; Secure")
		case "/bare-then-own":
			w.Header().Add("Set-Cookie", "session=bare; Path=/")
			w.Header().Add("Set-Cookie", "__Host-session=own2; Path=/; Secure")
		case "/own-then-bare":
			w.Header().Add("Set-Cookie", "__Host-session=own3; Path=/; Secure")
			w.Header().Add("Set-Cookie", "session=bare3; Path=/")
		}
		fmt.Fprintf(w, "<!doctype html><title>app</title><p id=who>%s</p>", r.Header.Get("Cookie"))
	})
	for _, mode := range []gateway.HTTP2Mode{gateway.HTTP2On, gateway.HTTP2Off} {
		t.Run(mode.String(), func(t *testing.T) {
			t.Parallel()
			b, target, _ := cookieGateway(t, mode, gateway.Cookies{Secure: true, HTTPOnly: true, SameSite: gateway.SameSiteLax, HostPrefix: "session"}, app)
			for _, step := range []struct{ path, want string }{
				{"/own", "own"},
				{"/bare-then-own", "own2"},
				{"/own-then-bare", "bare3"},
			} {
				got := storedCookies(t, b, target+step.path, target+"/")
				c := got["__Host-session"]
				if len(got) != 1 || c == nil || c.Value != step.want || !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax {
					t.Fatalf("after %s Chromium holds %v, want one __Host-session=%s, HttpOnly, SameSite=Lax", step.path, keys(got), step.want)
				}
				if status, err := b.Navigate(t.Context(), target+"/page"); err != nil || status != http.StatusOK {
					t.Fatalf("navigate: %d %v", status, err)
				}
				var seen string
				if err := b.Eval(t.Context(), `document.getElementById("who").textContent`, &seen); err != nil {
					t.Fatal(err)
				}
				if want := "session=" + step.want; seen != want {
					t.Errorf("after %s the upstream got Cookie %q, want %q", step.path, seen, want)
				}
			}
		})
	}
}

func keys(m map[string]*network.Cookie) string {
	var s []string
	for k, c := range m {
		s = append(s, k+"="+c.Value+";Path="+c.Path)
	}
	return strings.Join(s, " ")
}
