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
	"strings"

	"github.com/forgeproof/forgeproof/internal/ascii"
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

// formOverride reports whether r's body may carry a _method field (in
// any spelling isOverrideKey takes) that changes the method of a POST on
// a bypass pattern naming POST (changesMethod), as method-override
// middleware reads it: true too when the body cannot be read within the
// form limit, or readers may read it differently (formBody), which fails
// closed. It reads the body as findToken does, and puts the bytes back.
func (c *config) formOverride(r *http.Request) bool {
	kind, boundary := formBody(r.Header["Content-Type"])
	switch kind {
	case bodyNotForm:
		return false
	case bodyUnclear:
		return true
	}
	if r.PostForm != nil {
		// Parsed already, by a handler before this one.
		for k, v := range r.PostForm {
			if isOverrideKey(k) && overridesAny(v, r.Method) {
				return true
			}
		}
		if r.MultipartForm != nil {
			return false
		}
		// A urlencoded body that ParseForm read is at its end, and gives
		// nothing more below; one it left (no Content-Type, a duplicated
		// parameter) is read.
	}
	body, err := c.peekBody(r)
	if err != nil {
		return true
	}
	if kind == bodyURLEncoded {
		return overriddenInQuery(string(body), r.Method)
	}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
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
			if err != nil || changesMethod(v, r.Method) {
				return true
			}
		}
	}
}

// How a POST's body may be read as a form, by some common reader.
const (
	bodyNotForm    = iota // by none
	bodyURLEncoded        // as application/x-www-form-urlencoded
	bodyMultipart         // as multipart, with the boundary net/http reads
	bodyUnclear           // readers may disagree on it: fails closed
)

// formBody says how method-override middleware behind Handler may read
// the body of a POST with the Content-Type lines cts, and a multipart
// body's boundary. The media type is read as leniently as any common
// reader reads it, and never more strictly than a browser sends it (only
// the three CORS-safelisted types, or none, cross-site without a
// preflight):
//
//   - no Content-Type, or an empty one: Rack reads the body of a POST as
//     a form (Rack::Request#form_data?), and a no-cors fetch with an
//     ArrayBuffer or a type-less Blob sends none;
//   - application/x-www-form-urlencoded in any case, whatever its
//     parameters: mime.ParseMediaType refuses "…; a=1; a=2" (a duplicated
//     parameter, which a browser sends as it is), but Rack, PHP and
//     Express read the form; the media type ends at ';', ',' or white
//     space (Rack at ',', PHP at ' ');
//   - multipart/*: read with the boundary net/http reads, but only when
//     every reader takes the same one: the Content-Type parses cleanly
//     and names "boundary" once (PHP and Rack take the first "boundary"
//     in the text, "xboundary=a; boundary=b" too, net/http the parameter),
//     right after its value comes ';' or the end (Rack reads up to ';',
//     ',' or '"'). Anything else is unclear: Rack reads a multipart body
//     without a boundary as a urlencoded one.
//
// A Content-Type that contains "/json" or "+json" anywhere, even in a
// parameter of text/plain, is unclear: Laravel then reads the body as
// JSON, "_method" included (Request::isJson, createFromBase).
//
// A charset parameter must name an encoding in which ASCII is ASCII
// (asciiCompatible), or the form is unclear: Django decodes a form body
// with it before splitting it, so a UTF-16 "_method=DELETE" would hide
// from a byte-wise reading. More than one Content-Type line is unclear
// too (one meaning per request).
func formBody(cts []string) (kind int, boundary string) {
	var ct string
	switch len(cts) {
	case 0:
	case 1:
		ct = cts[0]
	default:
		return bodyUnclear, ""
	}
	ct = trimSpace(ct)
	essence := ct
	if i := strings.IndexAny(essence, ";, \t"); i >= 0 {
		essence = essence[:i]
	}
	switch {
	case essence == "" || ascii.EqualFold(essence, "application/x-www-form-urlencoded"):
		kind = bodyURLEncoded
	case len(essence) > len("multipart/") && ascii.EqualFold(essence[:len("multipart/")], "multipart/"):
		kind = bodyMultipart
	case ascii.EqualFold(essence, "text/plain"):
		kind = bodyNotForm
	default:
		return bodyNotForm, "" // not CORS-safelisted: sent cross-site only after a preflight
	}
	if containsFold(ct, "/json") || containsFold(ct, "+json") {
		return bodyUnclear, "" // Laravel reads the body as JSON (Request::isJson)
	}
	if kind == bodyNotForm {
		return kind, ""
	}
	hasCharset := containsFold(ct, "charset")
	if kind == bodyURLEncoded && !hasCharset {
		return kind, "" // the common case: no parsing, no allocation
	}
	lower := ascii.Lower(ct) // the same length as ct, so indices agree
	_, params, err := mime.ParseMediaType(ct)
	if hasCharset && (err != nil || !asciiCompatible(params["charset"]) || !namedOnce(ct, lower, "charset")) {
		return bodyUnclear, ""
	}
	if kind == bodyURLEncoded {
		return kind, ""
	}
	boundary = params["boundary"]
	if err != nil || boundary == "" || !namedOnce(ct, lower, "boundary") {
		return bodyUnclear, ""
	}
	_, rest, _ := strings.Cut(ct[strings.Index(lower, "boundary"):], "=")
	rest, quoted := strings.CutPrefix(rest, `"`)
	rest, ok := strings.CutPrefix(rest, boundary)
	if !ok {
		return bodyUnclear, "" // an escape in a quoted boundary
	}
	if quoted && !strings.HasPrefix(rest, `"`) || !quoted && rest != "" && rest[0] != ';' {
		return bodyUnclear, ""
	}
	return bodyMultipart, boundary
}

// namedOnce reports whether the parameter name (in lower case) occurs once
// in the Content-Type ct (lower is ct in lower case), and with nothing but
// spaces between it and its '=': where it occurs twice, or as "name*"
// (RFC 2231, which net/http and Django decode and others do not), readers
// may take different values.
func namedOnce(ct, lower, name string) bool {
	i := strings.Index(lower, name)
	if i < 0 || strings.Count(lower, name) != 1 {
		return false
	}
	return strings.HasPrefix(strings.TrimLeft(ct[i+len(name):], " \t"), "=")
}

// containsFold reports whether s contains lower (in lower case) with ASCII
// letters folded, without allocating.
func containsFold(s, lower string) bool {
	for i := 0; i+len(lower) <= len(s); i++ {
		if ascii.EqualFold(s[i:i+len(lower)], lower) {
			return true
		}
	}
	return false
}

// asciiCompatible reports whether the charset cs (empty when the
// parameter is) encodes ASCII as ASCII, one byte a character, with no
// escapes that spell ASCII otherwise (UTF-7's "+AF8-" is '_', EBCDIC's
// letters are other bytes, UTF-16's have NULs between them): the
// encodings form bodies are sent in. Others are refused rather than
// decoded.
func asciiCompatible(cs string) bool {
	if cs == "" {
		return true
	}
	for _, name := range [...]string{"utf-8", "utf8", "us-ascii", "ascii", "iso-8859-1", "iso8859-1", "latin1", "latin-1", "iso-8859-15", "windows-1252", "cp1252"} {
		if ascii.EqualFold(cs, name) {
			return true
		}
	}
	return false
}
