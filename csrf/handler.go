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
// Responses to requests with unsafe methods get "Vary: Origin,
// Sec-Fetch-Site" (and the default deny response "Vary: Accept") so that
// caches never serve one client's decision to another.
//
// With a key ring set, Handler also sets the pre-session cookie on
// responses to requests that have no valid one and whose binding function
// reports no session, the SPA cookie when SPA is on, and makes
// [Protection.Token], [Protection.TemplateField] and [Protection.Rotate]
// work for the request it passes to h.
func (p *Protection) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := p.load()
		if !isSafe(r.Method) {
			addVary(w.Header())
		}
		if e := c.check(r, nil); e != nil {
			if c.observer != nil {
				c.observer(r, e, !c.reportOnly)
			}
			if !c.reportOnly {
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

// varyValue is shared by every response that has no Vary yet, so the
// accept path does not allocate. Its capacity equals its length: Header.Add
// appends to a new array, never into this one.
var varyValue = []string{"Origin, Sec-Fetch-Site"}

func addVary(h http.Header) {
	if _, ok := h["Vary"]; !ok {
		h["Vary"] = varyValue[:1:1]
		return
	}
	h.Add("Vary", varyValue[0])
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
	if needPreSession {
		if _, ok := c.readPreSession(r); !ok {
			st.preSession = c.setPreSession(w, r)
		}
	}
	if c.spa {
		if kind, v, err := c.bindingFor(r, st); err == nil {
			c.setSPACookie(w, r, c.keys.mint(kind, v))
		}
	}
	return r.WithContext(context.WithValue(r.Context(), stateKey{}, st))
}
