package gateway

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/internal/problem"
	"github.com/forgeproof/forgeproof/internal/wsupgrade"
)

// HeaderCSRFToken carries, on requests to routes whose CSRF mode uses
// tokens, a fresh masked token for this request from the gateway to the
// upstream, which embeds it in its forms as the csrf_token field (or
// hands it to scripts for the X-CSRF-Token header). Client-sent copies
// are deleted.
const HeaderCSRFToken = "Forgeproof-Csrf-Token"

// csrfGuard is a route's CSRF protection. Its csrf.Protection gives a
// WebSocket handshake (a GET, which a browser sends cross-site with the
// client certificate and cookies) the origin checks of an unsafe request,
// without a token, which a handshake cannot carry.
type csrfGuard struct {
	prot       *csrf.Protection
	reportOnly bool
}

func (p *compiler) csrfGuard(key string, c RouteCSRF, rt *route, cc *compiled) *csrfGuard {
	g := &csrfGuard{prot: csrf.New(), reportOnly: c.ReportOnly}
	if err := g.prot.SetMode(rt.csrfMode); err != nil {
		return g // route reported it
	}
	for i, o := range c.TrustedOrigins {
		if err := g.prot.AddTrustedOrigin(o); err != nil {
			p.add(fmt.Sprintf("%s.trusted-origins[%d]", key, i), "%v", err)
		}
	}
	for _, s := range cc.cfg.TrustedProxies {
		// compile's p.prefixes has reported, once, every entry this
		// refuses; reporting here again would repeat it per route.
		g.prot.AddTrustedProxy(s)
	}
	g.prot.SetAllowSameSite(c.AllowSameSite)
	g.prot.SetReportOnly(c.ReportOnly)
	g.prot.SetSPA(c.SPA)
	g.prot.SetBinding(tokenBinding(cc.cfg.Tokens.SessionCookie))
	g.prot.SetDenyHandler(denyCSRF)
	return g
}

// tokenMissingDetail says, behind the gateway, where the app finds the
// token it did not put in the page. A token-missing request has passed
// the origin checks: it is not called cross-site.
const tokenMissingDetail = "the request passed the origin checks, but this route also requires a CSRF token and the page that sent it did not include one: " +
	"the app receives a fresh token in the " + HeaderCSRFToken + " request header and must put it into its forms as the csrf_token field, " +
	"or into the " + csrf.HeaderName + " header of fetch requests (or use csrf mode origin-only)"

// denyCSRF answers a CSRF refusal as the csrf package does, except that a
// missing token's detail names the header the upstream gets it in.
func denyCSRF(w http.ResponseWriter, r *http.Request, e *csrf.Error) {
	// The form peek (csrf looks for the token field in a form body)
	// failed to read the body: the client's framing or its time, as when
	// the upstream exchange reads it (upstreamError), not a CSRF refusal.
	var timeoutErr *clientTimeoutError
	var bodyErr *clientBodyError
	if errors.As(e.Err, &timeoutErr) || errors.As(e.Err, &bodyErr) {
		if x := exchangeFrom(r.Context()); x != nil {
			x.csrfReason = ""
		}
		if timeoutErr != nil {
			writeBodyProblem(w, r, http.StatusRequestTimeout, ReasonClientTimeout, "request body not received in time")
		} else {
			writeBodyProblem(w, r, http.StatusBadRequest, ReasonBodyInvalid, "request body malformed or incomplete")
		}
		return
	}
	if e.Reason == csrf.ReasonTokenMissing && !errors.Is(e.Err, csrf.ErrFormTooLarge) {
		problem.Write(w, r, problem.Details{
			Status: http.StatusForbidden,
			Reason: string(e.Reason),
			Title:  "refused: the request carries no CSRF token",
			Detail: tokenMissingDetail,
		})
		return
	}
	csrf.WriteProblem(w, r, e)
}

// tokenBinding returns what a request's tokens are bound to: the
// application's session cookie and the client certificate's public key
// together when the request has both, else whichever it has, else nothing
// (the csrf package then binds to its pre-session cookie). A request with
// several non-empty copies of the session cookie is bound to all of them,
// in order, length-prefixed: upstreams differ on which copy they use.
//
// Both together, because a session cookie alone can be planted: a sibling
// subdomain can toss its own session cookie into the victim's browser and
// mint a token for that session with its own client; bound to the victim's
// key as well, that token is worthless. The prefixes keep the three kinds
// apart, and the digest's fixed length keeps "key, then session" unambiguous.
func tokenBinding(sessionCookie string) func(*http.Request) ([]byte, error) {
	return func(r *http.Request) ([]byte, error) {
		var spki []byte
		if x := exchangeFrom(r.Context()); x != nil && x.hasIdentity && x.identity.SPKISHA256 != ([32]byte{}) {
			spki = x.identity.SPKISHA256[:]
		}
		var values []string
		if sessionCookie != "" {
			// Every copy, not the first: upstreams differ on which one
			// they use (Go, PHP, Express the first, Django the last,
			// Tomcat the first naming a live session), and a sibling
			// host can toss one sent before the real one.
			for _, ck := range r.CookiesNamed(sessionCookie) {
				if ck.Value != "" {
					values = append(values, ck.Value)
				}
			}
		}
		// One copy binds as its value, several as all of them in order,
		// each length-prefixed, under a kind of their own.
		kind, session := "session", []byte(nil)
		switch len(values) {
		case 0:
		case 1:
			session = []byte(values[0])
		default:
			kind = "sessions"
			for _, v := range values {
				session = binary.AppendUvarint(session, uint64(len(v)))
				session = append(session, v...)
			}
		}
		switch {
		case spki != nil && session != nil:
			b := append([]byte("spki-sha256+"+kind+":"), spki...)
			return append(b, session...), nil
		case session != nil:
			return append([]byte(kind+":"), session...), nil
		case spki != nil:
			return append([]byte("spki-sha256:"), spki...), nil
		}
		return nil, nil
	}
}

// tokens loads the key ring when some route needs it, gives it to the
// routes' guards and returns it (nil when none is loaded).
func (p *compiler) tokens(t Tokens, need bool, routes []*route) *csrf.KeyRing {
	if t.KeyFile == "" {
		if need {
			p.add("tokens.key-file", "is required: a route's CSRF mode uses tokens")
		}
		return nil
	}
	if fi, err := os.Stat(t.KeyFile); err != nil {
		p.add("tokens.key-file", "cannot read %q: %v", t.KeyFile, pemutil.PathErr(err))
		return nil
	} else if perm := fi.Mode().Perm(); perm&0o004 != 0 {
		p.add("tokens.key-file", "%q is readable by others (mode %04o): chmod 600 it", t.KeyFile, perm)
		return nil
	} else if perm&0o003 != 0 {
		p.add("tokens.key-file", "%q is writable or executable by others (mode %04o): chmod 600 it", t.KeyFile, perm)
		return nil
	} else if perm&0o020 != 0 {
		// Group-readable is tolerated with the Insecure option (fails
		// open for Kubernetes fsGroup mounts); group-writable never.
		p.add("tokens.key-file", "%q is writable by its group (mode %04o): chmod 640 it at most", t.KeyFile, perm)
		return nil
	} else if perm&0o070 != 0 && !t.InsecureAllowGroupReadableKeyFile {
		p.add("tokens.key-file", "%q is readable by its group (mode %04o): chmod 600 it, or, for a Kubernetes fsGroup mount, set tokens.insecure-allow-group-readable-key-file", t.KeyFile, perm)
		return nil
	} else if !p.closedFolder("tokens.key-file", t.KeyFile) {
		// Whoever may write the folder may replace the key, and with a
		// key of their own forge every token.
		return nil
	}
	ring, err := csrf.LoadKeyRing(t.KeyFile)
	if err != nil {
		p.add("tokens.key-file", "%v", err)
		return nil
	}
	for _, rt := range routes {
		if rt.guard != nil && rt.usesTokens() {
			rt.guard.prot.SetKeyRing(ring)
		}
	}
	return ring
}

// handler puts the guard in front of next. Refusals are recorded on the
// request's exchange for the access log and the metrics; with tokens, a
// fresh token for the upstream is minted after the checks passed.
func (g *csrfGuard) handler(next http.Handler, tokens bool) http.Handler {
	observe := func(r *http.Request, err *csrf.Error, enforced bool) {
		if x := exchangeFrom(r.Context()); x != nil {
			x.csrfReason, x.csrfEnforced = string(err.Reason), enforced
			x.reason = Reason(err.Reason)
			x.decision = decisionReportOnly
			if enforced {
				x.decision = decisionDeny
			}
		}
	}
	g.prot.SetObserver(observe)
	withToken := next
	if tokens {
		withToken = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if x := exchangeFrom(r.Context()); x != nil {
				// No token when the request has no binding: the upstream
				// then renders no form token, and the next unsafe request
				// is refused (fail closed).
				x.csrfToken, _ = g.prot.Token(r)
			}
			next.ServeHTTP(w, r)
		})
	}
	checked := g.prot.Handler(withToken)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isWebSocketHandshake(r) {
			checked.ServeHTTP(w, r)
			return
		}
		// Check gives the handshake the origin checks; it goes on to
		// next, not through Handler: no cookie is set on the 101 and no
		// token minted, since a handshake's answer renders no form.
		if e := csrfError(g.prot.Check(r)); e != nil {
			observe(r, e, !g.reportOnly)
			if !g.reportOnly {
				// The same body and headers as any refused POST on the route.
				g.prot.Refuse(w, r, e)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// check is the guard's decision on r without answering it (Decide, and
// the re-check of open WebSockets).
func (g *csrfGuard) check(r *http.Request) *csrf.Error {
	return csrfError(g.prot.Check(r))
}

// csrfError is the error of csrf.Protection.Check as a *csrf.Error, nil
// for nil. Check returns *csrf.Error only; anything else fails closed.
func csrfError(err error) *csrf.Error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*csrf.Error); ok {
		return e
	}
	return &csrf.Error{Reason: "csrf-error", Err: err}
}

// isWebSocketHandshake reports whether r is a WebSocket handshake, as the
// csrf check reads one: a GET asking to upgrade to WebSocket that no
// method override makes unsafe. Only a GET is a handshake (RFC 6455); a
// GET with ?_method=DELETE or X-HTTP-Method-Override: DELETE is an unsafe
// request to an upstream that reads the override, Upgrade or not, and
// needs its token.
func isWebSocketHandshake(r *http.Request) bool {
	return r.Method == http.MethodGet && wsupgrade.Requested(r.Header) && !csrf.UnsafeMethodOverride(r)
}
