package csrf

import (
	"context"
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
		if e := c.check(r); e != nil {
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
			r = c.prepareTokens(w, r)
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

// prepareTokens sets the cookies tokens need and records the pre-session
// value in r's context.
func (c *config) prepareTokens(w http.ResponseWriter, r *http.Request) *http.Request {
	st := &requestState{}
	needPreSession := true
	if c.binding != nil {
		if v, err := c.binding(r); err != nil || len(v) > 0 {
			needPreSession = false
		}
	}
	setCookie := false
	if needPreSession {
		if _, ok := c.readPreSession(r); !ok {
			st.preSession = c.setPreSession(w, r)
			setCookie = true
		}
	}
	if c.spa {
		if kind, v, err := c.bindingFor(r, st); err == nil {
			ck, err := r.Cookie(SPACookie)
			if err != nil || c.keys.verify(ck.Value, kind, v) != nil {
				c.setSPACookie(w, r, c.keys.mint(kind, v))
				setCookie = true
			}
		}
	}
	if setCookie {
		if _, ok := w.Header()["Cache-Control"]; !ok {
			w.Header().Set("Cache-Control", "no-store")
		}
	}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
}
