package scan

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/forgeproof/forgeproof/internal/printable"
)

// maxBody bounds how much of each response is read.
const maxBody = 1 << 20

// maxHeader bounds each response's header block (Set-Cookie lines
// included). Go's client would take 10 MiB; a WebSocket handshake's
// answer, read by http.ReadResponse, would take any size.
const maxHeader = 1 << 20

// A request is one HTTP request the scanner sends (or, in a dry run,
// prints). Keeping it as data lets the same value be sent, printed as a
// curl command and redacted.
type request struct {
	Method  string
	URL     *url.URL
	Header  http.Header
	Body    []byte
	Cookies []*http.Cookie
	// Anonymous requests go without the client certificate (with the
	// attacker's, if one was configured): CORS preflights, and pages
	// fetched for another session's token.
	Anonymous bool
	// shownBody and shownURL, when set, are Body and URL with secrets
	// (tokens, passwords) replaced by REDACTED, for curl commands.
	shownBody []byte
	shownURL  *url.URL
	// secretHeaders are headers whose values curl commands show as
	// REDACTED (an endpoint's token header).
	secretHeaders map[string]bool
}

type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// location is the Location header's path, the part compared between a
// baseline redirect and a probe's. It stays escaped (quoted when it does
// not parse): evidence shows it, and a decoded path may hold the
// service's control characters.
func (r *response) location() string {
	l := r.Header.Get("Location")
	if u, err := url.Parse(l); err == nil {
		return u.EscapedPath()
	}
	return printable.Quote(l)
}

// cookies parses the response's Set-Cookie headers.
func (r *response) cookies() []*http.Cookie {
	return (&http.Response{Header: r.Header}).Cookies()
}

// errScope means a request would have left the target: the scanner
// refuses it (a second line of defence behind resolve).
var errScope = errors.New("request outside the target")

// sender sends requests to the target only, one at a time, at most rate
// per second, each bounded by a timeout, at most max in all.
type sender struct {
	target *url.URL
	// victimTLS and anonTLS are the clients' TLS configurations, for the
	// WebSocket handshakes that dial on their own.
	victimTLS, anonTLS *tls.Config
	victim             *http.Client
	anon               *http.Client
	timeout            time.Duration
	max                int

	mu    sync.Mutex
	gap   time.Duration
	next  time.Time
	count int
}

func newSender(target *url.URL, victimTLS, attackerTLS *tls.Config, timeout time.Duration, rate float64, max int) *sender {
	if attackerTLS == nil {
		attackerTLS = &tls.Config{}
		if victimTLS != nil {
			// The same trust, without the client certificate.
			attackerTLS = victimTLS.Clone()
			attackerTLS.Certificates = nil
			attackerTLS.GetClientCertificate = nil
		}
	}
	return &sender{
		victimTLS: victimTLS,
		anonTLS:   attackerTLS,
		target:    target,
		victim:    newClient(victimTLS),
		anon:      newClient(attackerTLS),
		timeout:   timeout,
		max:       max,
		gap:       time.Duration(float64(time.Second) / rate),
	}
}

func newClient(cfg *tls.Config) *http.Client {
	t := &http.Transport{
		// No proxy: requests go to the target host and nowhere else.
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig:        cfg,
		TLSHandshakeTimeout:    10 * time.Second,
		ResponseHeaderTimeout:  30 * time.Second,
		MaxResponseHeaderBytes: maxHeader,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        30 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: t,
		// Never follow redirects: the next hop may be another host, and
		// the redirect itself is what the oracle compares.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func (s *sender) close() {
	s.victim.CloseIdleConnections()
	s.anon.CloseIdleConnections()
}

func (s *sender) requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count
}

// wait applies the rate limit and the request cap.
func (s *sender) wait(ctx context.Context) error {
	s.mu.Lock()
	if s.count >= s.max {
		s.mu.Unlock()
		return fmt.Errorf("%w (%d requests)", errLimit, s.max)
	}
	s.count++
	now := time.Now()
	at := s.next
	if at.Before(now) {
		at = now
	}
	s.next = at.Add(s.gap)
	s.mu.Unlock()
	if d := time.Until(at); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return fmt.Errorf("%w: %v", errCanceled, ctx.Err())
		}
	}
	return nil
}

// send sends r and reads at most maxBody of the answer.
func (s *sender) send(ctx context.Context, r *request) (*response, error) {
	if !sameOrigin(r.URL, s.target) {
		return nil, fmt.Errorf("%w: %s", errScope, r.URL.Redacted())
	}
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL.String(), body)
	if err != nil {
		return nil, err
	}
	for k, vs := range r.Header {
		req.Header[k] = append([]string(nil), vs...)
	}
	if len(r.Cookies) > 0 {
		req.Header.Set("Cookie", cookieHeader(r.Cookies))
	}
	c := s.victim
	if r.Anonymous {
		c = s.anon
	}
	resp, err := c.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return nil, fmt.Errorf("%w: %v", errCanceled, parent.Err())
		}
		err = s.late(ctx, err)
		if ue, ok := err.(*url.Error); ok {
			// Its message repeats the URL, whose query may hold fields
			// (a GET downgrade's): show the redacted one.
			ue.URL = r.URL.Redacted()
			if r.shownURL != nil {
				ue.URL = r.shownURL.Redacted()
			}
		}
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		if parent.Err() != nil {
			return nil, fmt.Errorf("%w: %v", errCanceled, parent.Err())
		}
		return nil, fmt.Errorf("%s %s: reading the response: %v", r.Method, r.URL.Redacted(), s.late(ctx, err))
	}
	return &response{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// late names the limit when err came from the request's own timeout
// (ctx's deadline, or the connection's, set from it): "context deadline
// exceeded" alone does not say which deadline.
func (s *sender) late(ctx context.Context, err error) error {
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		return err
	}
	if ue, ok := err.(*url.Error); ok {
		ue.Err = fmt.Errorf("no complete answer within the %v timeout (--timeout): %w", s.timeout, ue.Err)
		return ue
	}
	return fmt.Errorf("no complete answer within the %v timeout (--timeout): %w", s.timeout, err)
}

func cookieHeader(cs []*http.Cookie) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = c.Name + "=" + c.Value
	}
	return strings.Join(parts, "; ")
}
