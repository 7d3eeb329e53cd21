package csrf

import (
	"net/http"

	"github.com/forgeproof/forgeproof/internal/problem"
)

// Handler returns a handler that checks each request as [Protection.Check]
// does before calling h. A refused request is answered by the deny handler
// (by default 403 with the reason code) after the observer is told; in
// report-only mode the observer is told and h is called anyway.
//
// Refusals carry "Vary: Origin, Sec-Fetch-Site" (the default deny response
// adds "Vary: Accept" and "Cache-Control: no-store") so that no cache
// serves one client's refusal to another. Allowed responses get no Vary:
// only unsafe methods are ever refused, and caches never answer an unsafe
// request from storage, nor a GET (which is always allowed) with a
// decision.
//
// With a key ring set, Handler also sets the pre-session cookie on
// responses to requests that have no valid one and whose binding function
// reports no session, and when SPA is on the SPA cookie on responses to
// requests whose SPA cookie is missing or no longer valid for their binding.
// A response on which it sets a cookie gets "Cache-Control: no-store"
// unless h sets its own: a shared cache must not hand one visitor's
// pre-session cookie to another. It also makes [Protection.Token],
// [Protection.TemplateField] and [Protection.Rotate] work for the request
// it passes to h.
func (p *Protection) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := p.load()
		// st keeps the pre-session cookie once read, for prepareTokens.
		var st requestState
		if e := c.check(r, &st); e != nil {
			if c.observer != nil {
				c.observer(r, e, !c.reportOnly)
			}
			if !c.reportOnly {
				w.Header().Add("Vary", "Origin, Sec-Fetch-Site")
				c.denyResponse(w, r, e)
				return
			}
			// Report-only: the refusal was reported; let it through.
		}
		if c.keys != nil {
			r = c.prepareTokens(w, r, &st)
		}
		h.ServeHTTP(w, r)
	})
}

func (c *config) denyResponse(w http.ResponseWriter, r *http.Request, e *Error) {
	if c.deny != nil {
		c.deny(w, r, e)
		return
	}
	problem.Write(w, r, problem.Details{
		Status: http.StatusForbidden,
		Reason: string(e.Reason),
		Title:  problemTitle,
		Detail: e.Reason.detail(),
	})
}

// prepareTokens sets the cookies tokens need and returns r with st, the
// pre-session value when there is one, in its context.
func (c *config) prepareTokens(w http.ResponseWriter, r *http.Request, st *requestState) *http.Request {
	// The binding function is called once here: a session lookup may cost.
	var session []byte
	var bindErr error
	if c.binding != nil {
		session, bindErr = c.binding(r)
	}
	setCookie := false
	if bindErr == nil && len(session) == 0 && !st.hasPreSession {
		st.hasPreSession = c.readPreSession(r, &st.preSession)
		if !st.hasPreSession {
			c.setPreSession(w, r, &st.preSession)
			st.hasPreSession = true
			setCookie = true
		}
	}
	if c.spa && bindErr == nil {
		// As bindingFor would answer: the session, else the pre-session
		// value, which is now in st.
		kind, v := kindSession, session
		if len(session) == 0 {
			kind, v = kindPreSession, st.preSession[:]
		}
		if ck, ok := cookie(r, SPACookie); !ok || c.keys.verify(ck, kind, v) != nil {
			c.setSPACookie(w, r, c.keys.mint(kind, v))
			setCookie = true
		}
	}
	if setCookie {
		if _, ok := w.Header()["Cache-Control"]; !ok {
			w.Header().Set("Cache-Control", "no-store")
		}
	}
	// Token and Rotate may be called on any request, so every request
	// carries the state, in one allocation besides the request's copy.
	return r.WithContext(&stateContext{Context: r.Context(), st: *st})
}
