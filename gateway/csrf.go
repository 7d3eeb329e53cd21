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
		if rt.guard != nil {
			rt.guard.prot.SetKeyRing(ring)
		}
	}
	return ring
}

// check applies the route's CSRF checks. It returns the refusal reason, or
// "" when the request may proceed.
func (g *csrfGuard) check(r *http.Request) string {
	err := g.prot.Check(r)
	if err == nil {
		return ""
	}
	if reason, ok := csrf.ReasonOf(err); ok {
		return string(reason)
	}
	return "csrf-error" // Check returns only *csrf.Error; fail closed on anything else
}
