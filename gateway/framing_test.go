package gateway_test

import (
	"crypto/tls"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// Requests of the framing tests. The smuggled GET after each is what a
// server in front that framed the request by its Content-Length would
// have sent as the next request (or, with the chunked reading, what
// follows the body).
const (
	clte     = "POST /public/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
	chunked  = "POST /public/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	smuggled = "GET /public/smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n"
	// headLike is a body that looks like the head of a CL+TE request.
	headLike = "POST /public/x HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
)

// TestFramingAmbiguousRefused: Content-Length with Transfer-Encoding
// (issue 11, class 6; request smuggling, RFC 9112 §6.1). Go's server
// reads such a request as chunked and deletes its Content-Length before
// the handler runs; the gateway's listener reads the framing from the
// connection, so the request is refused with 400 framing-ambiguous, the
// upstream receives nothing and the connection is closed: the pipelined
// request after it is neither answered nor forwarded. The twins are
// forwarded: a plain chunked request (then the connection is closed), a
// Content-Length POST followed by more requests on the connection (the
// scanner keeps in step, also when a body looks like a head), an
// HTTP/1.0 request with both fields (Go frames it by Content-Length and
// ignores Transfer-Encoding; the connection is closed after it, RFC 9112
// §6.1, so a front proxy that read it chunked has no request of its body
// answered, while its twin with Content-Length alone keeps the
// connection), and "OPTIONS *", which net/http's server
// answers itself before any handler (so a chunked one kept its
// connection, the smuggled request after it answered) unless told not to,
// as the gateway does, answering it the same way after the framing
// checks. The negative controls are in
// TestFramingAmbiguousNegativeControl.
func TestFramingAmbiguousRefused(t *testing.T) {
	t.Parallel()
	type answer struct {
		status  int
		refused bool // 400 framing-ambiguous
	}
	tests := []struct {
		name, send string
		bytewise   bool // one write (TLS record) per byte of the first head
		want       []answer
		closed     bool     // no answer after want
		upstream   []string // request lines the upstream got, in order
	}{
		{"CL+TE", clte + smuggled, false, []answer{{400, true}}, true, nil},
		{"TE+CL", "POST /public/x HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n" + smuggled,
			false, []answer{{400, true}}, true, nil},
		{"mixed-case names", "POST /public/x HTTP/1.1\r\nHost: localhost\r\ncontent-LENGTH: 5\r\nTRANSFER-encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled,
			false, []answer{{400, true}}, true, nil},
		{"bare LF line ends", "POST /public/x HTTP/1.1\nHost: localhost\nContent-Length: 5\nTransfer-Encoding: chunked\n\n0\r\n\r\n" + smuggled,
			false, []answer{{400, true}}, true, nil},
		{"head written byte by byte", clte + smuggled, true, []answer{{400, true}}, true, nil},
		{"refused before authorization", strings.Replace(clte, "/public/x", "/admin/x", 1) + smuggled,
			false, []answer{{400, true}}, true, nil},
		{"OPTIONS * (answered by net/http itself, were it not for the gateway)",
			strings.Replace(clte, "POST /public/x", "OPTIONS *", 1) + smuggled, false, []answer{{400, true}}, true, nil},
		{"after a Content-Length POST", "POST /public/a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello" + clte + smuggled,
			false, []answer{{200, false}, {400, true}}, true, []string{"POST /public/a HTTP/1.1"}},

		// Allowed twins.
		{"chunked: forwarded, then closed", chunked + smuggled, false, []answer{{200, false}}, true, []string{"POST /public/x HTTP/1.1"}},
		{"chunked, byte by byte", chunked + smuggled, true, []answer{{200, false}}, true, []string{"POST /public/x HTTP/1.1"}},
		{"Content-Length POST, then pipelined GETs", "POST /public/a HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello" +
			"GET /public/b HTTP/1.1\r\nHost: localhost\r\n\r\n" + "GET /public/c HTTP/1.1\r\nHost: localhost\r\n\r\n",
			false, []answer{{200, false}, {200, false}, {200, false}}, false,
			[]string{"POST /public/a HTTP/1.1", "GET /public/b HTTP/1.1", "GET /public/c HTTP/1.1"}},
		{"a body that looks like CL+TE, then chunked", "POST /public/a HTTP/1.1\r\nHost: localhost\r\nContent-Length: " + strconv.Itoa(len(headLike)) + "\r\n\r\n" +
			headLike + chunked + smuggled,
			false, []answer{{200, false}, {200, false}}, true, []string{"POST /public/a HTTP/1.1", "POST /public/x HTTP/1.1"}},
		{"OPTIONS *: net/http's answer, kept", "OPTIONS * HTTP/1.1\r\nHost: localhost\r\n\r\n" + "GET /public/b HTTP/1.1\r\nHost: localhost\r\n\r\n",
			false, []answer{{200, false}, {200, false}}, false, []string{"GET /public/b HTTP/1.1"}},
		{"chunked OPTIONS *: answered, then closed", strings.Replace(chunked, "POST /public/x", "OPTIONS *", 1) + smuggled,
			false, []answer{{200, false}}, true, nil},
		{"HTTP/1.0 with both: framed by Content-Length, then closed", "POST /public/a HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n" +
			"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\nhello" + "GET /public/b HTTP/1.1\r\nHost: localhost\r\n\r\n",
			false, []answer{{200, false}}, true, []string{"POST /public/a HTTP/1.1"}},
		{"HTTP/1.0 chunked: no body, then closed", "POST /public/a HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n" +
			"Transfer-Encoding: chunked\r\n\r\n" + strconv.FormatInt(int64(len(smuggled)), 16) + "\r\n" + smuggled + "\r\n0\r\n\r\n",
			false, []answer{{200, false}}, true, []string{"POST /public/a HTTP/1.1"}},
		{"HTTP/1.0 with Content-Length: kept", "POST /public/a HTTP/1.0\r\nHost: localhost\r\nConnection: keep-alive\r\n" +
			"Content-Length: 5\r\n\r\nhello" + "GET /public/b HTTP/1.1\r\nHost: localhost\r\n\r\n",
			false, []answer{{200, false}, {200, false}}, false, []string{"POST /public/a HTTP/1.1", "GET /public/b HTTP/1.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, gw, u := rawWorld(t, respondOK)
			c := gw.dialRaw(t, w.web)
			if tt.bytewise {
				// The first head byte by byte, the rest at once: a refusal
				// may close the connection before it is written.
				end := strings.Index(tt.send, "\r\n\r\n") + 4
				for i := range end {
					c.send(tt.send[i : i+1])
				}
				c.Write([]byte(tt.send[end:]))
			} else {
				c.send(tt.send)
			}
			for i, a := range tt.want {
				resp, body := c.read()
				if resp.StatusCode != a.status {
					t.Fatalf("answer %d: got %d %s, want %d", i, resp.StatusCode, body, a.status)
				}
				refused := strings.Contains(body, string(gateway.ReasonFramingAmbiguous))
				if refused != a.refused || refused && !resp.Close {
					t.Errorf("answer %d: refused %v (Connection: close %v), want %v: %s", i, refused, resp.Close, a.refused, body)
				}
			}
			if tt.closed {
				if resp, _, err := c.next(); err == nil {
					t.Errorf("got another answer (%d): the connection was kept", resp.StatusCode)
				}
			}
			c.Close()
			conns := u.wait()
			var got []string
			for _, conn := range conns {
				got = append(got, conn.requests...)
			}
			if strings.Join(got, "\n") != strings.Join(tt.upstream, "\n") {
				t.Errorf("upstream got %q, want %q", got, tt.upstream)
			}
			all := received(conns)
			if strings.Contains(all, "smuggled") {
				t.Errorf("the smuggled request reached the upstream: %q", all)
			}
			if strings.Contains(tt.name, "chunked: forwarded") && (!strings.Contains(all, "hello") || strings.Contains(strings.ToLower(all), "content-length")) {
				t.Errorf("upstream got %q, want the body and no Content-Length", all)
			}
		})
	}
}

// TestFramingAmbiguousObserved: the refusal is an RFC 9457 problem
// document with its reason code, an access-log line and a metric label,
// like every other refusal.
func TestFramingAmbiguousObserved(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	u := newRawUpstream(t, respondOK)
	cfg := w.config()
	for i := range cfg.Routes {
		cfg.Routes[i].Upstream = u.URL
	}
	logs := &logBuffer{}
	gw := w.startWith(cfg, gateway.Options{Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	c := gw.dialRaw(t, w.web)
	c.send(strings.Replace(clte, "\r\n\r\n", "\r\nAccept: application/json\r\n\r\n", 1))
	resp, body := c.read()
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("got %s %q (%v), want a problem document", resp.Header.Get("Content-Type"), body, err)
	}
	if doc["status"] != 400.0 || doc["reason"] != string(gateway.ReasonFramingAmbiguous) {
		t.Errorf("got %v, want status 400, reason framing-ambiguous", doc)
	}
	if _, _, err := c.next(); err == nil {
		t.Errorf("the connection was kept")
	}
	c.Close()
	if got := received(u.wait()); got != "" {
		t.Errorf("upstream got %q, want nothing", got)
	}
	var line map[string]any
	for l := range strings.SplitSeq(logs.String(), "\n") {
		if strings.Contains(l, `"msg":"request"`) {
			json.Unmarshal([]byte(l), &line)
		}
	}
	if line["reason"] != string(gateway.ReasonFramingAmbiguous) || line["decision"] != "deny" || line["status"] != 400.0 {
		t.Errorf("access log: got %v, want reason framing-ambiguous, decision deny, status 400", line)
	}
	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	if want := `forgeproof_gateway_ambiguous_requests_total{reason="framing-ambiguous"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}

// TestFramingAmbiguousNegativeControl: with the refusal off, the CL+TE
// request is forwarded (the connection is still closed after it, the
// older defence); with the close off too, the smuggled request is
// answered and reaches the upstream: the attack the two defences stop.
func TestFramingAmbiguousNegativeControl(t *testing.T) {
	t.Parallel()
	for _, closeToo := range []bool{false, true} {
		w, gw, u := rawWorld(t, respondOK)
		gateway.SetFramingCheck(gw.g, false)
		gateway.SetChunkedClose(gw.g, !closeToo)
		c := gw.dialRaw(t, w.web)
		c.send(clte + smuggled)
		if resp, body := c.read(); resp.StatusCode != http.StatusOK {
			t.Fatalf("close off %v: got %d %s, want the request forwarded", closeToo, resp.StatusCode, body)
		}
		_, _, err := c.next()
		if answered := err == nil; answered != closeToo {
			t.Errorf("close off %v: smuggled request answered %v, want %v", closeToo, answered, closeToo)
		}
		c.Close()
		got := received(u.wait())
		if !strings.Contains(got, "POST /public/x") {
			t.Errorf("close off %v: the CL+TE request did not reach the upstream: %q", closeToo, got)
		}
		if reached := strings.Contains(got, "/public/smuggled"); reached != closeToo {
			t.Errorf("close off %v: smuggled request reached the upstream %v, want %v", closeToo, reached, closeToo)
		}
	}
}

// TestChunkedRequestCloses: Gateway.Handler mounted on a server of one's
// own has no gateway listener to read the framing, so a CL+TE request
// cannot be told from a chunked one: it is forwarded, and the gateway
// closes the connection after every chunked HTTP/1.1 request, so bytes
// after its body are never parsed as a request (docs/security-model.md).
// Negative control: with the close off, the smuggled request is answered
// and reaches the upstream.
func TestChunkedRequestCloses(t *testing.T) {
	t.Parallel()
	for _, check := range []bool{true, false} {
		w, gw, u := rawWorld(t, respondOK)
		gateway.SetChunkedClose(gw.g, check)
		embedded, srv := startEmbedded(t, w, gw.g.Handler())
		c := embedded.dialRaw(t, w.web)
		c.send(clte + smuggled)
		if resp, body := c.read(); resp.StatusCode != http.StatusOK {
			t.Fatalf("check %v: got %d %s, want 200 (forwarded)", check, resp.StatusCode, body)
		}
		_, _, err := c.next()
		if answered := err == nil; answered == check {
			t.Errorf("check %v: smuggled request answered %v, want %v (err %v)", check, answered, !check, err)
		}
		c.Close()
		srv.Close()
		got := received(u.wait())
		if reached := strings.Contains(got, "/public/smuggled"); reached == check {
			t.Errorf("check %v: smuggled request reached the upstream %v, want %v", check, reached, !check)
		}
		if !strings.Contains(got, "POST /public/x") {
			t.Errorf("check %v: the chunked request did not reach the upstream: %q", check, got)
		}
	}
}

// TestOptionsStarNegativeControl: why the gateway's servers set
// http.Server.DisableGeneralOptionsHandler. Without it net/http answers
// a chunked "OPTIONS *" itself, before any handler could refuse or
// close, keeps the connection and serves the request smuggled after it.
func TestOptionsStarNegativeControl(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var seen []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Method+" "+r.RequestURI)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pkitest.ServerWith(t, w.ca, serverOptions()).TLSCertificate()}}
	srv.StartTLS()
	defer srv.Close()
	c := (&running{w: w, base: srv.URL}).dialRaw(t, nil)
	c.send(strings.Replace(clte, "POST /public/x", "OPTIONS *", 1) + smuggled)
	for i := range 2 {
		if resp, body := c.read(); resp.StatusCode != http.StatusOK {
			t.Fatalf("answer %d: got %d %s, want 200", i, resp.StatusCode, body)
		}
	}
	c.Close()
	srv.Close()
	if strings.Join(seen, ",") != "GET /public/smuggled" {
		t.Errorf("the handler saw %q, want only the smuggled GET", seen)
	}
}
