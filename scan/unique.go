package scan

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"net/url"
	"regexp"
	"strings"
)

// newRunID is a short random ID that makes this scan's values unique.
func newRunID() string {
	b := make([]byte, 3)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// fresh returns e with a value of its own in every field the scanner
// fills (the text fields a discovered form left empty): a re-scan, or
// the next probe of this one, would otherwise submit the same name and
// be refused as a duplicate ("already exists") whatever the origin
// check says. The values hold digits, so the baseline comparison masks
// them where a service echoes them.
func (sc *scanner) fresh(e *Endpoint) *Endpoint {
	if len(e.filled) == 0 {
		return e
	}
	c := *e
	c.Form = maps.Clone(e.Form)
	for name, typ := range e.filled {
		if v, ok := sc.uniqueValue(typ, e.filledMax[name]); ok {
			c.Form[name] = v
		}
	}
	return &c
}

// uniqueValue is a new value for a field of type typ, or false when
// the type's placeholder is kept (numbers, dates, colours…).
//
// A value fits the field's maxlength (limit, 0 if none), as a browser
// would make it: the long form where it fits, else a short one that is
// still unique (fp plus the run and the count), cut to max at worst.
func (sc *scanner) uniqueValue(typ string, limit int) (string, bool) {
	if sc.runID == "" {
		sc.runID = newRunID()
	}
	sc.seq++
	long := fmt.Sprintf("forgeproof-%s-%d", sc.runID, sc.seq)
	short := fmt.Sprintf("fp%s%d", sc.runID, sc.seq)
	fit := func(prefix, suffix string) string {
		v := prefix + long + suffix
		if limit <= 0 || len(v) <= limit {
			return v
		}
		v = prefix + short + suffix
		if len(v) <= limit {
			return v
		}
		// Keep the end: the count, which makes it unique in this run.
		return short[max(0, len(short)-limit):]
	}
	switch typ {
	case "", "text", "search", "textarea":
		return fit("", ""), true
	case "email":
		return fit("", "@example.com"), true
	case "url":
		return fit("https://example.com/", ""), true
	}
	return "", false
}

// errorMarkers are the marks frameworks put on a form shown again with
// a validation error: Django's errorlist, Rails' field_with_errors and
// error_explanation, Bootstrap's is-invalid, invalid-feedback and
// alert-danger, aria-invalid. (Not role="alert": success messages use
// it too.)
var errorMarkers = regexp.MustCompile(`(?i)class\s*=\s*["'][^"']*\b(errorlist|errornote|field_with_errors|error_explanation|is-invalid|invalid-feedback|has-error|field-error|form-error|alert-danger|alert-error|errors?)\b|aria-invalid\s*=\s*["']?true`)

// reshowsForm reports whether resp, the answer to a POST of e at u,
// shows e's form again (a form with the same method and action, holding
// e's fields) with more error marks than the page the form came from
// (page; nil if unknown), in the whole answer or in the form itself:
// the service refused the submission and asks the user to correct it.
// It returns the marks' count for messages.
func reshowsForm(resp *response, e *Endpoint, u *url.URL, page []byte) (bool, int) {
	if resp.Status < 200 || resp.Status >= 300 || len(e.Form) == 0 {
		return false, 0
	}
	f, found := shownForm(resp.Body, e, u)
	if !found {
		return false, 0
	}
	n := len(errorMarkers.FindAllIndex(resp.Body, -1))
	inForm := f.Marks
	if page != nil {
		n -= len(errorMarkers.FindAllIndex(page, -1))
		if pf, ok := shownForm(page, e, u); ok {
			inForm -= pf.Marks
		}
	}
	// Marks in the form itself count too: an answer that is a fragment of
	// the page (WordPress's Quick Draft answers its widget alone, with
	// its error inside the form) has fewer marks than the whole page had
	// in its other widgets.
	n = max(n, inForm)
	return n > 0, max(n, 0)
}

// formBack reports whether resp, a 2xx answer to a probe, shows the
// endpoint's form when the legitimate request's answer did not: the
// service did not take the probe as it took that request, though it
// says no error (MediaWiki shows a form posted without its token again,
// fresh, as if it had not been sent; its skin makes the two answers
// alike by their words).
func formBack(st *epState, resp *response) bool {
	if resp.Status < 200 || resp.Status >= 300 || len(st.e.Form) == 0 {
		return false
	}
	if _, ok := shownForm(resp.Body, st.e, st.u); !ok {
		return false
	}
	_, inBase := shownForm(st.base.Body, st.e, st.u)
	return !inBase
}

// shownForm finds e's form on a page: same method and action path, with
// every field of e but its token.
func shownForm(body []byte, e *Endpoint, u *url.URL) (form, bool) {
	for _, f := range parseForms(body, u) {
		if f.Method != e.Method || f.Action.Path != u.Path {
			continue
		}
		all := true
		for k := range e.Form {
			if _, ok := f.Fields[k]; !ok && k != e.TokenField {
				all = false
				break
			}
		}
		if all {
			return f, true
		}
	}
	return form{}, false
}

// formPage is the body of the page e's form was found on (or its token
// page, or else the target's start page), if the scan fetched it.
func (sc *scanner) formPage(e *Endpoint) []byte {
	for _, p := range []string{e.page, e.TokenPage, sc.target.String()} {
		if p == "" {
			continue
		}
		if u, err := resolve(sc.target, p); err == nil {
			if b, ok := sc.pages[u.String()]; ok {
				return b
			}
		}
	}
	return nil
}

// rememberPage keeps a page's body for formPage, within a bound.
func (sc *scanner) rememberPage(u *url.URL, resp *response) {
	if resp.Status != 200 || !strings.Contains(strings.ToLower(resp.Header.Get("Content-Type")), "html") {
		return
	}
	if _, ok := sc.pages[u.String()]; !ok && len(sc.pages) >= maxRememberedPages {
		return
	}
	sc.pages[u.String()] = resp.Body
}

// maxRememberedPages bounds the page bodies a scan keeps.
const maxRememberedPages = 64
