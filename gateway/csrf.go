package gateway

import (
	"fmt"
	"net/http"
	"os"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/mtls"
)

// HeaderCSRFToken carries, on requests to routes whose CSRF mode uses
// tokens, a fresh masked token for this request from the gateway to the
// upstream, which embeds it in its forms as the csrf_token field (or
// hands it to scripts for the X-CSRF-Token header). Client-sent copies
// are deleted.
const HeaderCSRFToken = "Forgeproof-Csrf-Token"

// csrfGuard is a route's CSRF protection.
type csrfGuard struct {
	prot *csrf.Protection
}

func (p *problems) csrfGuard(key string, c RouteCSRF, rt *route, cc *compiled) *csrfGuard {
	prot := csrf.New()
	mode := csrf.ModeOriginOnly
	switch rt.csrfMode {
	case CSRFToken:
		mode = csrf.ModeOriginAndToken
	case CSRFTokenWhenNoBrowserHeaders:
		mode = csrf.ModeTokenIfNoBrowserHeaders
	}
	if err := prot.SetMode(mode); err != nil {
		p.add(key+".mode", "%v", err)
	}
	for i, o := range c.TrustedOrigins {
		if err := prot.AddTrustedOrigin(o); err != nil {
			p.add(fmt.Sprintf("%s.trusted-origins[%d]", key, i), "%v", err)
		}
	}
	for i, s := range cc.cfg.TrustedProxies {
		if err := prot.AddTrustedProxy(s); err != nil {
			p.add(fmt.Sprintf("trusted-proxies[%d]", i), "%v", err)
		}
	}
	prot.SetAllowSameSite(c.AllowSameSite)
	prot.SetReportOnly(c.ReportOnly)
	prot.SetDenyHandler(nil) // the default: 403 problem with the reason code
	prot.SetSPA(c.SPA)
	prot.SetBinding(tokenBinding(cc.cfg.Tokens.SessionCookie))
	return &csrfGuard{prot: prot}
}

// tokenBinding returns what a request's tokens are bound to: the
// application's session cookie when the request has one, else the client
// certificate's public key, else nothing (the csrf package then binds to
// its pre-session cookie). The prefixes keep a session value from ever
// equalling a key digest.
func tokenBinding(sessionCookie string) func(*http.Request) ([]byte, error) {
	return func(r *http.Request) ([]byte, error) {
		if sessionCookie != "" {
			if ck, err := r.Cookie(sessionCookie); err == nil && ck.Value != "" {
				return []byte("session:" + ck.Value), nil
			}
		}
		if id, ok := mtls.IdentityFromContext(r.Context()); ok && id.SPKISHA256 != ([32]byte{}) {
			return append([]byte("spki-sha256:"), id.SPKISHA256[:]...), nil
		}
		return nil, nil
	}
}

// tokens loads the key ring when some route needs it, and gives it to the
// routes' guards.
func (p *problems) tokens(t Tokens, need bool, routes []*route) *csrf.KeyRing {
	if t.KeyFile == "" {
		if need {
			p.add("tokens.key-file", "is required: a route's CSRF mode uses tokens")
		}
		return nil
	}
	if fi, err := os.Stat(t.KeyFile); err != nil {
		p.add("tokens.key-file", "cannot read %q: %v", t.KeyFile, fileError(err))
		return nil
	} else if fi.Mode().Perm()&0o077 != 0 {
		p.add("tokens.key-file", "%q is readable by others (mode %04o): chmod 600 it", t.KeyFile, fi.Mode().Perm())
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
	g.prot.SetObserver(func(r *http.Request, err *csrf.Error, enforced bool) {
		if x := exchangeFrom(r.Context()); x != nil {
			x.csrfReason, x.csrfEnforced = string(err.Reason), enforced
			x.reason = string(err.Reason)
			x.decision = decisionReportOnly
			if enforced {
				x.decision = decisionDeny
			}
		}
	})
	if !tokens {
		return g.prot.Handler(next)
	}
	return g.prot.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if x := exchangeFrom(r.Context()); x != nil {
			// No token when the request has no binding: the upstream
			// then renders no form token, and the next unsafe request
			// is refused (fail closed).
			x.csrfToken, _ = g.prot.Token(r)
		}
		next.ServeHTTP(w, r)
	}))
}
