package csrf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
)

// The canonical forms of the header names ("X-Csrf-Token"), so looking
// them up does not canonicalize them on every request.
var (
	canonicalHeaderName = http.CanonicalHeaderKey(HeaderName)
	canonicalSPAHeader  = http.CanonicalHeaderKey(SPAHeader)
)

// ErrFormTooLarge is the cause (in [Error].Err) of a [ReasonTokenMissing]
// refusal of a form body larger than the limit searched for the token
// field (see [Protection.SetMaxFormBytes]).
var ErrFormTooLarge = errors.New("form body is larger than the limit searched for the csrf_token field: send the token in the " + HeaderName + " header")

// checkToken verifies the token r carries against r's binding (see
// bindingFor for st).
func (c *config) checkToken(r *http.Request, st *requestState) *Error {
	if c.keys == nil {
		return &Error{Reason: ReasonNoKeys}
	}
	kind, binding, err := c.bindingFor(r, st)
	if err != nil {
		return &Error{Reason: ReasonBindingUnavailable, Err: err}
	}
	tok, where, err := c.findToken(r)
	if tok == "" {
		return &Error{Reason: ReasonTokenMissing, Err: err}
	}
	if err := c.keys.verify(tok, kind, binding); err != nil {
		return &Error{Reason: ReasonTokenInvalid, Header: where, Err: err}
	}
	return nil
}

// findToken looks for a token in the X-CSRF-Token header, the SPA header
// when on, and then a urlencoded or multipart form field. where names the
// place it was found.
func (c *config) findToken(r *http.Request) (tok, where string, err error) {
	if v := header(r, canonicalHeaderName); v != "" {
		return v, HeaderName, nil
	}
	if c.spa {
		if v := header(r, canonicalSPAHeader); v != "" {
			return v, SPAHeader, nil
		}
	}
	if r.PostForm != nil {
		// The form was parsed already (by a handler before this one).
		if v := r.PostForm.Get(FormField); v != "" || r.MultipartForm != nil {
			return v, "form field " + FormField, nil
		}
		// ParseForm alone leaves a multipart body (and a DELETE's) unread,
		// and r.PostForm without its fields: search the body. One that
		// ParseForm read is at its end, and has nothing more to give.
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || (mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data") {
		return "", "", nil
	}
	body, err := c.peekBody(r)
	if err != nil {
		return "", "", err
	}
	if mt == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return "", "", fmt.Errorf("form body: %w", err)
		}
		return vals.Get(FormField), "form field " + FormField, nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			return "", "", fmt.Errorf("multipart body: no %s field: %w", FormField, err)
		}
		if part.FormName() == FormField && part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, TokenLength+1))
			if err != nil {
				return "", "", fmt.Errorf("multipart body: %w", err)
			}
			return string(v), "multipart field " + FormField, nil
		}
	}
}

// peekBody reads up to maxFormBytes of r.Body and puts what it read back in
// front of the rest, so the handler reads the whole body as sent.
func (c *config) peekBody(r *http.Request) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	orig := r.Body
	body, err := io.ReadAll(io.LimitReader(orig, c.maxFormBytes+1))
	r.Body = readCloser{io.MultiReader(bytes.NewReader(body), orig), orig}
	if err != nil {
		return nil, fmt.Errorf("reading form body: %w", err)
	}
	if int64(len(body)) > c.maxFormBytes {
		return nil, ErrFormTooLarge
	}
	return body, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// formOverride reports whether r's urlencoded or multipart body may carry
// a _method field (in any spelling isOverrideKey takes) naming a method
// other than GET, HEAD or OPTIONS, as method-override middleware reads
// it from a POST: true too when the body cannot be read within the form
// limit, which fails closed. It reads the body as findToken does, and
// puts the bytes back.
func (c *config) formOverride(r *http.Request) bool {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	// A malformed parameter ("application/x-www-form-urlencoded; a", which
	// a no-cors fetch may send) comes back with the media type and
	// ErrInvalidMediaParameter, and net/http's ParseForm reads such a body
	// as a form all the same: so must this. (A multipart body then has no
	// boundary, and fails closed below.)
	if err != nil && !errors.Is(err, mime.ErrInvalidMediaParameter) ||
		mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data" {
		return false
	}
	if r.PostForm != nil {
		// Parsed already, by a handler before this one.
		for k, v := range r.PostForm {
			if isOverrideKey(k) && unsafeOverrides(v) {
				return true
			}
		}
		if r.MultipartForm != nil || mt == "application/x-www-form-urlencoded" {
			return false
		}
	}
	body, err := c.peekBody(r)
	if err != nil {
		return true
	}
	if mt == "application/x-www-form-urlencoded" {
		return overriddenInQuery(string(body))
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			return false
		}
		if err != nil {
			return true
		}
		if isOverrideKey(part.FormName()) && part.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(part, 64))
			if err != nil || unsafeOverride(string(v)) {
				return true
			}
		}
	}
}
