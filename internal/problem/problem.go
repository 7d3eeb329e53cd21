// Package problem writes refusals as the design brief's contract says: an
// RFC 9457 problem document (application/problem+json) when the client
// accepts JSON, plain text otherwise, always with a stable reason code.
package problem

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
)

// Details is the body of a refusal. Reason is the stable machine-readable
// code (for example "cross-site"); Title is a short human summary that does
// not depend on the request; Detail may explain this occurrence but must
// never contain unescaped attacker-controlled text (the JSON encoder escapes
// <, > and &, and the text form is served with nosniff).
type Details struct {
	Status int    `json:"status"`
	Reason string `json:"reason"`
	Title  string `json:"title"`
	Detail string `json:"detail,omitempty"`
}

// TypeURI is the RFC 9457 "type" of a reason code.
func TypeURI(reason string) string { return "urn:forgeproof:problem:" + reason }

// Write sends d with status d.Status, as problem JSON when r accepts JSON
// and as text otherwise.
func Write(w http.ResponseWriter, r *http.Request, d Details) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Add("Vary", "Accept")
	if AcceptsJSON(r.Header.Values("Accept")) {
		body, _ := json.Marshal(struct {
			Type string `json:"type"`
			Details
		}{TypeURI(d.Reason), d}) // a struct of strings and an int cannot fail to encode
		h.Set("Content-Type", "application/problem+json")
		w.WriteHeader(d.Status)
		w.Write(append(body, '\n'))
		return
	}
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(d.Status)
	if d.Detail != "" {
		fmt.Fprintf(w, "%d %s: %s (reason: %s)\n", d.Status, d.Title, d.Detail, d.Reason)
		return
	}
	fmt.Fprintf(w, "%d %s (reason: %s)\n", d.Status, d.Title, d.Reason)
}

// AcceptsJSON reports whether any Accept header value lists a JSON media
// type (application/json, application/problem+json or any +json) with a
// non-zero quality. Wildcards do not count: a browser's */* gets text.
func AcceptsJSON(accept []string) bool {
	for _, v := range accept {
		for _, part := range strings.Split(v, ",") {
			mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
			if err != nil {
				continue
			}
			if q, ok := params["q"]; ok && strings.Trim(q, "0.") == "" {
				continue
			}
			if mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
				return true
			}
		}
	}
	return false
}
