package csrf

import (
	"net/http"
)

// Handler returns a handler that checks each request as [Protection.Check]
// does before calling h. A refused request is answered by the deny handler
// (by default 403 with the reason code) after the observer is told; in
// report-only mode the observer is told and h is called anyway.
//
// Refusals carry "Vary: Origin, Sec-Fetch-Site" (the default deny response
// adds "Vary: Accept" and "Cache-Control: no-store") so that no cache
// serves one client's refusal to another. Allowed responses get no Vary:
// only unsafe methods (and safe ones a method override makes unsafe, see
// [UnsafeMethodOverride], and WebSocket handshakes, whose 101 no cache
// stores) are ever refused, caches never answer an unsafe request from
// storage, and a stored answer to an allowed GET, served to a request
// that would have been refused, changes no state.
//
// With a key ring set, Handler also sets the pre-session cookie on
// responses to requests that have no valid one and whose binding function
// reports no session, and when SPA is on the SPA cookie on responses to
// requests whose SPA cookie is missing or no longer valid for their binding,
// refused ones included when a token was missing or invalid (so an SPA's
// retry passes).
// A response on which it sets a cookie gets "Cache-Control: no-store"
// unless h sets its own: a shared cache must not hand one visitor's
// pre-session cookie to another. It also makes [Protection.Token],
// [Protection.TemplateField] and [Protection.Rotate] work for the request
// it passes to h: when it sets a new pre-session cookie, h gets a copy of
// the request whose Cookie header holds it, as the browser will send it.
//
// Handler calls the binding function at most once per request, and only
// when it needs the answer (a token to verify, no valid pre-session
// cookie, or SPA on); it then passes the answer on in the request's
// context, so Token does not call the function again (until
// [Protection.Rotate]: a login or logout changes the session). A request
// that needed neither goes to h as it came, without a copy.
func (p *Protection) Handler(h http.Handler) http.Handler {
	return &protected{p: p, h: h}
}

// protected is h behind p. A type of its own, not an [http.HandlerFunc]
// closure: a request reaches ServeHTTP in one call rather than through
// HandlerFunc.ServeHTTP and then the closure, and the method is compiled
// here, with p.load inlined, wherever Handler is inlined (a closure
// copied into the caller's package got load as a call). The token path
// is a method of its own, so the origin-only path keeps a small frame.
type protected struct {
	p *Protection
	h http.Handler
}

func (x *protected) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := x.p.load()
	if c.keys == nil {
		// Origin checks only: no state to keep.
		if e := c.check(r, nil); e != nil && c.refused(w, r, e) {
			return
		}
		x.h.ServeHTTP(w, r)
		return
	}
	x.serveTokens(c, w, r)
}

// serveTokens is ServeHTTP with a key ring set.
func (x *protected) serveTokens(c *config, w http.ResponseWriter, r *http.Request) {
	// st keeps what check learned (the binding function's answer, the
	// pre-session cookie) for prepareTokens: neither is asked twice.
	var st requestState
	if e := c.check(r, &st); e != nil {
		if c.spa && !c.reportOnly && (e.Reason == ReasonTokenMissing || e.Reason == ReasonTokenInvalid) {
			// An SPA whose XSRF-TOKEN no longer fits its binding (a login
			// whose new session the binding function did not yet see in
			// Rotate, a key retired) would be refused until it loads a
			// page; a fresh cookie on the refusal lets its retry pass. The
			// origin checks passed, and no other origin reads the cookie.
			c.prepareTokens(w, r, &st, x.p)
		}
		if c.refused(w, r, e) {
			return
		}
	}
	x.h.ServeHTTP(w, c.prepareTokens(w, r, &st, x.p))
}

// refused tells the observer about e and, unless in report-only mode,
// answers r with the refusal. It reports whether it answered.
func (c *config) refused(w http.ResponseWriter, r *http.Request, e *Error) bool {
	if c.observer != nil {
		c.observer(r, e, !c.reportOnly)
	}
	if c.reportOnly {
		// Report-only: the refusal was reported; let it through.
		return false
	}
	c.refuse(w, r, e)
	return true
}

// Refuse answers r exactly as Handler answers a request refused for e:
// "Vary: Origin, Sec-Fetch-Site", then the deny handler's response (by
// default 403 with an RFC 9457 problem document or text, the reason code,
// its detail, "Vary: Accept" and "Cache-Control: no-store"). It neither
// tells the observer nor looks at report-only mode: it is for callers of
// [Protection.Check] that decide those themselves, such as a proxy that
// checks a WebSocket handshake (a GET) as the unsafe request it is.
//
// A nil e is a caller's mistake: it is still refused, with no reason code,
// rather than let through.
func (p *Protection) Refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	if e == nil {
		e = &Error{}
	}
	p.load().refuse(w, r, e)
}

func (c *config) refuse(w http.ResponseWriter, r *http.Request, e *Error) {
	w.Header().Add("Vary", "Origin, Sec-Fetch-Site")
	if c.deny != nil {
		c.deny(w, r, e)
		return
	}
	WriteProblem(w, r, e)
}

// prepareTokens sets the cookies tokens need and returns the request to
// pass on: r itself when Token can learn all it needs from r (the hot
// path: no copy, no allocation), else a copy carrying the binding
// function's answer for p's Token, so it does not call it again, and,
// when a new pre-session cookie was set, that cookie in a copy of the
// Cookie header.
func (c *config) prepareTokens(w http.ResponseWriter, r *http.Request, st *requestState, p *Protection) *http.Request {
	if !st.hasPreSession {
		st.hasPreSession = c.readPreSession(r, &st.preSession)
	}
	if !st.hasPreSession || c.spa {
		// Whether r has a session decides whether it needs a pre-session
		// cookie, and what the SPA cookie's token is bound to.
		c.callBinding(r, st)
	}
	var fresh string // the new pre-session cookie's pair, if one is set
	if !st.hasPreSession && st.bind.err == nil && len(st.bind.session) == 0 {
		fresh = c.setPreSession(w, r, &st.preSession)
		st.hasPreSession = true
	}
	setCookie := fresh != ""
	if c.spa && st.bind.err == nil {
		// As bindingFor would answer: the session, else the pre-session
		// value, which is now in st.
		kind, v := kindSession, st.bind.session
		if len(v) == 0 {
			kind, v = kindPreSession, st.preSession[:]
		}
		// A cookie signed by an older key of the ring is replaced too:
		// scripts send its value back on every request for as long as it
		// verifies, so it would never go out of use during a key
		// rotation, and the first unsafe request after the old key is
		// retired would be refused.
		if ck, ok := cookie(r, SPACookie); !ok || !verifiedByActive(c.keys.verifyBy(ck, kind, v)) {
			c.setSPACookie(w, r, c.keys.mint(kind, v))
			setCookie = true
		}
	}
	if setCookie {
		noStore(w)
	}
	if !st.bind.called && fresh == "" {
		return r
	}
	ctx := r.Context()
	if st.bind.called {
		ctx = &answerContext{Context: ctx, p: p, bind: st.bind}
	}
	r2 := r.WithContext(ctx)
	if fresh != "" {
		// A copy: the caller's request keeps the headers it was sent with.
		r2.Header = r.Header.Clone()
		if r2.Header == nil {
			r2.Header = make(http.Header)
		}
		putCookieFirst(r2.Header, fresh)
	}
	return r2
}

// noStore keeps a response that sets a pre-session or SPA cookie out of
// shared caches, which would hand one visitor's cookie to others, unless
// the handler chose a Cache-Control of its own.
func noStore(w http.ResponseWriter) {
	if _, ok := w.Header()["Cache-Control"]; !ok {
		w.Header().Set("Cache-Control", "no-store")
	}
}

// verifiedByActive reports whether verifyBy found a token valid and signed
// by the active key.
func verifiedByActive(active bool, err error) bool { return err == nil && active }
