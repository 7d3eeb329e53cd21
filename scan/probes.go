package scan

import (
	"bytes"
	"encoding/json"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"
)

// bodyKind is how a variant encodes the endpoint's fields.
type bodyKind int

const (
	bodyNative            bodyKind = iota // the endpoint's own encoding (form or JSON)
	bodyForm                              // application/x-www-form-urlencoded
	bodyMultipart                         // multipart/form-data
	bodyTextPlain                         // a text/plain form whose body is JSON-shaped
	bodyTextPlainExact                    // a no-cors fetch's text/plain body: the JSON as is
	bodyTextPlainJSONType                 // a no-cors fetch's body, the JSON as is, as textPlainJSONType
	bodyQuery                             // the fields in the query string of a GET
)

// tokenKind is which anti-CSRF token a variant carries.
type tokenKind int

const (
	tokenFresh   tokenKind = iota // the victim's own, as the real page has it
	tokenNone                     // left out: an attacker does not know it
	tokenEmpty                    // present and empty
	tokenForeign                  // a valid token of another session
)

// A variant is one concrete forged (or legitimate) request.
type variant struct {
	label  string
	ctx    browserContext
	body   bodyKind
	token  tokenKind
	method string // overrides the endpoint's method when set
	// override is sent as the _method field (method-override probes).
	override string
	// overrideQuery sends override in the query string (?_method=PUT)
	// instead of the body, where Express's method-override('_method')
	// and others look for it.
	overrideQuery bool
	// legit: the service's own page sends it, with the endpoint's
	// Headers (a token header); forgeries never carry them.
	legit bool
	// railsFormat is appended to the path (".json"): Rails takes the
	// format from the path's extension (every route ends in an
	// optional (.:format)), so protect_from_forgery unless: -> {
	// request.format.json? } lets a form posted there through. Sent
	// only to a service recognised as Rails.
	railsFormat string
}

// A family is the set of variants that test one rule on one endpoint: the
// first accepted variant is the finding, the rest are not sent.
type family struct {
	rule     string
	variants []variant
	// control, if set, is a request that must NOT look accepted for a
	// baseline-inferred acceptance to count (for GET downgrades, whose
	// answer may be the same page whatever the parameters).
	control *variant
}

// families returns the probe families for endpoint e on target t, in the
// order they run. Each uses only header combinations a browser really
// sends (and origins a browser can send to t).
func families(e *Endpoint, t *url.URL) []family {
	isJSON := len(e.JSON) > 0
	var fs []family
	switch {
	case e.Method == "GET":
		fs = append(fs, family{rule: RuleGetStateChange, variants: []variant{
			{label: "cross-site GET navigation (link, window.open)", ctx: ctxCrossSiteGET, body: bodyQuery, token: tokenNone},
		}})
		return fs
	case e.Method != "POST":
		// A form or a no-cors fetch can only send GET and POST; PUT,
		// PATCH and DELETE are reachable cross-site only through an
		// override (or CORS, checked separately).
		fs = append(fs, family{rule: RuleMethodOverride, variants: []variant{
			{label: "cross-site form POST with _method=" + e.Method, ctx: ctxCrossSiteWindow, body: bodyForm, token: tokenNone, method: "POST", override: e.Method},
			{label: "cross-site form POST to ?_method=" + e.Method, ctx: ctxCrossSiteWindow, body: bodyForm, token: tokenNone, method: "POST", override: e.Method, overrideQuery: true},
		}})
		return fs
	}
	// The bodies a forgery tries: a form's fields, or for a JSON
	// endpoint the JSON-shaped text/plain body and, when the JSON is a
	// flat object, its members as form fields (many JSON APIs parse
	// urlencoded bodies too: Express with express.urlencoded, Flask's
	// request.form fallback).
	forged := []bodyKind{bodyForm}
	if isJSON {
		forged = []bodyKind{bodyTextPlain}
		if flatJSON(e.JSON) != nil {
			forged = append(forged, bodyForm)
		}
	}
	// each makes one variant per forged body.
	each := func(label string, ctx browserContext) []variant {
		var vs []variant
		for _, b := range forged {
			l := label
			if isJSON && b == bodyForm {
				l += ", the JSON members as urlencoded fields"
			}
			vs = append(vs, variant{label: l, ctx: ctx, body: b, token: tokenNone})
		}
		return vs
	}
	cross := family{rule: RuleCrossSiteForgery}
	if isJSON {
		cross.rule = RuleTextPlainJSON
		cross.variants = []variant{
			{label: "cross-site form POST, enctype=text/plain, JSON-shaped body", ctx: ctxCrossSite, body: bodyTextPlain, token: tokenNone},
			// A fetch's body is the script's string: no padding member
			// that a strict schema (Joi's default, zod's .strict())
			// would refuse.
			{label: "cross-site no-cors fetch, text/plain body, the JSON as is", ctx: ctxCrossSiteNoCORS, body: bodyTextPlainExact, token: tokenNone},
			// A Content-Type check that finds "json" anywhere in the
			// header: the type is still CORS-safelisted.
			{label: "cross-site no-cors fetch, Content-Type: " + textPlainJSONType + ", the JSON as is", ctx: ctxCrossSiteNoCORS, body: bodyTextPlainJSONType, token: tokenNone},
		}
	} else {
		cross.variants = []variant{
			{label: "cross-site form POST, urlencoded", ctx: ctxCrossSite, body: bodyForm, token: tokenNone},
			{label: "cross-site form POST, multipart", ctx: ctxCrossSite, body: bodyMultipart, token: tokenNone},
			{label: "cross-site no-cors fetch, urlencoded", ctx: ctxCrossSiteNoCORS, body: bodyForm, token: tokenNone},
		}
	}
	fs = append(fs, cross)
	if isJSON && flatJSON(e.JSON) != nil {
		fs = append(fs, family{rule: RuleCrossSiteForgery, variants: []variant{
			{label: "cross-site form POST, urlencoded, the JSON members as fields", ctx: ctxCrossSite, body: bodyForm, token: tokenNone},
			{label: "cross-site form POST, multipart, the JSON members as fields", ctx: ctxCrossSite, body: bodyMultipart, token: tokenNone},
		}})
	}
	fs = append(fs,
		family{rule: RuleLaxPostWindow, variants: each("cross-site form POST within two minutes of login (cookies without SameSite sent)", ctxCrossSiteWindow)},
		family{rule: RuleOriginNull, variants: append(each("form POST from a sandboxed iframe (Origin: null)", ctxOriginNull),
			each("top-level form POST from a no-referrer page (Origin: null) within two minutes of login (cookies without SameSite sent)", inLaxPOSTWindow(ctxOriginNull))...)},
	)
	var look []variant
	if lookalikePrefix(t) != "" {
		look = append(look, each("cross-site form POST from "+lookalikePrefix(t), ctxLookalikePrefix)...)
	}
	if lookalikeSuffix(t) != "" {
		look = append(look, each("cross-site form POST from "+lookalikeSuffix(t), ctxLookalikeSuffix)...)
	}
	look = append(look, each("cross-site form POST from "+attackerOrigin+"/?"+origin(t)+" (Referrer-Policy: unsafe-url)", ctxLookalikeReferer)...)
	// The same pages within the Lax+POST window (cookies without SameSite).
	for _, v := range look {
		if v.ctx.cookies == cookiesCrossSitePOST {
			w := v
			w.label += " within two minutes of login (cookies without SameSite sent)"
			w.ctx = inLaxPOSTWindow(v.ctx)
			look = append(look, w)
		}
	}
	fs = append(fs, family{rule: RuleOriginLookalike, variants: look})
	fs = append(fs,
		family{rule: RuleLegacyOrigin, variants: each("cross-site form POST from a browser without Fetch Metadata", ctxLegacy)},
		family{rule: RuleOriginScheme, variants: each("form POST from http:// on the same host, without Fetch Metadata", ctxLegacyHTTP)},
		family{rule: RuleSameSiteForgery, variants: each("form POST from a same-site sibling origin", ctxSameSite)},
	)
	if e.TokenField != "" {
		fs = append(fs,
			family{rule: RuleTokenNotRequired, variants: []variant{
				{label: "same-origin form POST without the token, from a browser without Fetch Metadata or Origin", ctx: ctxSameOriginLegacy, body: bodyNative, token: tokenNone},
			}},
			family{rule: RuleTokenEmpty, variants: []variant{
				{label: "cross-site form POST with an empty token", ctx: ctxCrossSiteWindow, body: bodyForm, token: tokenEmpty},
			}},
			family{rule: RuleTokenUnbound, variants: []variant{
				{label: "cross-site form POST with the attacker's own token", ctx: ctxCrossSiteWindow, body: bodyForm, token: tokenForeign},
			}},
		)
	}
	if !isJSON || flatJSON(e.JSON) != nil {
		fs = append(fs, family{rule: RuleMethodDowngrade,
			variants: []variant{
				{label: "cross-site GET navigation with the fields in the query", ctx: ctxCrossSiteGET, body: bodyQuery, token: tokenNone, method: "GET"},
				{label: "cross-site GET navigation with _method=POST", ctx: ctxCrossSiteGET, body: bodyQuery, token: tokenNone, method: "GET", override: "POST"},
			},
			control: &variant{label: "the same GET without the fields", ctx: ctxCrossSiteGET, method: "GET"},
		})
	}
	// Rails takes the format from the path's extension (every route ends
	// in an optional (.:format)), so protect_from_forgery unless: -> {
	// request.format.json? } lets a form posted to PATH.json through,
	// its urlencoded body still filling params: each POST family's
	// first variant again, to that path (sent to Rails only).
	if u, err := resolve(t, e.Path); err == nil && !isJSON && !strings.HasSuffix(u.Path, "/") && !strings.Contains(path.Base(u.Path), ".") {
		for i := range fs {
			if f := &fs[i]; f.rule != RuleMethodDowngrade {
				v := f.variants[0]
				v.label += ", to the path with .json (Rails' format from the extension; sent to Rails only)"
				v.railsFormat = ".json"
				f.variants = append(f.variants, v)
			}
		}
	}
	return fs
}

// baselineVariant is the legitimate request: from the service's own page,
// with every cookie and a fresh token.
func baselineVariant(e *Endpoint) variant {
	switch {
	case e.Method == "GET":
		return variant{label: "legitimate same-origin GET", ctx: ctxPageLoad, body: bodyQuery, legit: true}
	case len(e.JSON) > 0 || len(e.Headers) > 0:
		// Only a script sets headers: the page's own fetch.
		return variant{label: "legitimate same-origin fetch", ctx: ctxSameOriginFetch, body: bodyNative, legit: true}
	}
	return variant{label: "legitimate same-origin form submission", ctx: ctxSameOrigin, body: bodyNative, legit: true}
}

// certOnlyVariant is the baseline without any cookie.
func certOnlyVariant(e *Endpoint) variant {
	v := baselineVariant(e)
	v.label = "legitimate request with the client certificate and no cookie"
	v.ctx.cookies = cookiesNone
	return v
}

// secretField matches form fields (and JSON members) whose values are
// redacted in output. It errs towards redacting: a redacted value costs a
// reproduction some typing, a shown one may cost an account.
var secretField = regexp.MustCompile(`(?i)pass|secret|pin$|otp|csrf|xsrf|token|key|session|sessid|^sid$|auth|nonce|signature|credential`)

// build makes the request of variant v against endpoint e at u, with the
// given token value and the victim's jar.
func build(e *Endpoint, u *url.URL, v variant, token string, j *jar, target *url.URL) *request {
	method := e.Method
	if v.method != "" {
		method = v.method
	}
	r := &request{Method: method, URL: cloneURL(u), Header: http.Header{}}
	if v.railsFormat != "" {
		r.URL.Path += v.railsFormat
		if r.URL.RawPath != "" {
			r.URL.RawPath += v.railsFormat
		}
	}
	r.Header.Set("User-Agent", userAgent)
	v.ctx.headers(r.Header, target)
	if v.legit {
		for k, val := range e.Headers {
			k = http.CanonicalHeaderKey(k)
			r.Header.Set(k, val)
			if r.secretHeaders == nil {
				r.secretHeaders = map[string]bool{}
			}
			r.secretHeaders[k] = true // a page's own header: a token, most often
		}
	}
	if j != nil {
		r.Cookies = j.pick(v.ctx.cookies)
	}
	fields := map[string]string{}
	if len(e.JSON) == 0 {
		for k, val := range e.Form {
			fields[k] = val
		}
	} else if v.body != bodyNative && v.body != bodyTextPlain && v.body != bodyTextPlainExact && v.body != bodyTextPlainJSONType {
		// A form (or query) forgery of a JSON endpoint: its members.
		if f := flatJSON(e.JSON); f != nil {
			fields = f
		}
	}
	if e.TokenField != "" {
		switch v.token {
		case tokenFresh, tokenForeign:
			fields[e.TokenField] = token
		case tokenEmpty:
			fields[e.TokenField] = ""
		case tokenNone:
			delete(fields, e.TokenField)
		}
	}
	if v.override != "" && !v.overrideQuery {
		fields["_method"] = v.override
	}
	if v.overrideQuery {
		r.URL.RawQuery = setRawQueryParams(r.URL.RawQuery, map[string]string{"_method": v.override})
	}
	// shown is what curl commands and dry runs print: secrets redacted.
	shown := map[string]string{}
	for k, val := range fields {
		if val != "" && (e.secret || k == e.TokenField || secretField.MatchString(k)) {
			val = redacted
		}
		shown[k] = val
	}
	body := v.body
	if body == bodyNative {
		body = bodyForm
		if e.Multipart {
			body = bodyMultipart
		}
		if len(e.JSON) > 0 {
			r.Body = append([]byte(nil), e.JSON...)
			r.shownBody = redactJSON(e.JSON)
			r.Header.Set("Content-Type", "application/json")
			return r
		}
	}
	switch body {
	case bodyForm:
		r.Body = []byte(encodeForm(fields))
		r.shownBody = []byte(encodeForm(shown))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	case bodyMultipart:
		var ct string
		r.Body, ct = encodeMultipart(fields, e.files)
		r.shownBody, _ = encodeMultipart(shown, e.files)
		r.Header.Set("Content-Type", ct)
	case bodyTextPlain:
		r.Body = textPlainJSON(e.JSON)
		if shown := redactJSON(e.JSON); shown != nil {
			r.shownBody = textPlainJSON(shown)
		}
		r.Header.Set("Content-Type", "text/plain")
	case bodyTextPlainExact, bodyTextPlainJSONType:
		r.Body = append([]byte(nil), e.JSON...)
		r.shownBody = redactJSON(e.JSON)
		r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		if body == bodyTextPlainJSONType {
			r.Header.Set("Content-Type", textPlainJSONType)
		}
	case bodyQuery:
		if len(fields) > 0 {
			su := cloneURL(r.URL)
			r.URL.RawQuery = setRawQueryParams(r.URL.RawQuery, fields)
			su.RawQuery = setRawQueryParams(su.RawQuery, shown)
			r.shownURL = su
		}
	}
	return r
}

// setRawQueryParams returns rawQuery with the pairs of params at its
// end (sorted by name, escaped as url.Values.Encode does), and without
// the earlier pairs of those names; every other byte is kept as it was.
// url.Values.Encode of the whole query would sort the pairs and escape
// them again, so an endpoint whose query depends on order or spelling (a
// signed URL, a %2F kept escaped, a bare flag) would be probed at another
// URL.
func setRawQueryParams(rawQuery string, params map[string]string) string {
	var out []string
	if rawQuery != "" {
		for _, p := range strings.Split(rawQuery, "&") {
			k, _, _ := strings.Cut(p, "=")
			if uk, err := url.QueryUnescape(k); err == nil {
				if _, ok := params[uk]; ok {
					continue
				}
			}
			out = append(out, p)
		}
	}
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, url.QueryEscape(k)+"="+url.QueryEscape(params[k]))
	}
	return strings.Join(out, "&")
}

// controlRequest is the control of a family: the GET without fields.
func controlRequest(u *url.URL, v variant, j *jar, target *url.URL) *request {
	r := &request{Method: "GET", URL: cloneURL(u), Header: http.Header{}}
	r.Header.Set("User-Agent", userAgent)
	v.ctx.headers(r.Header, target)
	if j != nil {
		r.Cookies = j.pick(v.ctx.cookies)
	}
	return r
}

func cloneURL(u *url.URL) *url.URL {
	c := *u
	return &c
}

func encodeForm(fields map[string]string) string {
	v := url.Values{}
	for k, val := range fields {
		v.Set(k, val)
	}
	return v.Encode()
}

// textPlainJSONType is the Content-Type of bodyTextPlainJSONType. The
// Fetch standard safelists a Content-Type whose parsed essence is
// text/plain (a parameter without a value is ignored), so a no-cors
// fetch sends it with no preflight; a check that looks for "json"
// anywhere in the header (strings.Contains, includes, an unanchored
// pattern, a suffix, a list split on ";") takes it.
const textPlainJSONType = "text/plain;application/json"

// multipartBoundary is fixed so that dry runs and curl commands are
// reproducible; it has the shape browsers use.
const multipartBoundary = "----WebKitFormBoundaryForgeproof0scan"

// placeholderFile is what a multipart request carries in a form's file
// input: a 1x1 PNG, which upload forms for images and for any file take.
var placeholderFile = []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")

// encodeMultipart encodes fields, and a placeholder file named
// forgeproof.png in each of files (file inputs).
func encodeMultipart(fields map[string]string, files []string) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	w.SetBoundary(multipartBoundary) // a valid constant: cannot fail
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.WriteField(k, fields[k]) // writes to a bytes.Buffer cannot fail
	}
	for _, name := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": name, "filename": "forgeproof.png"}))
		h.Set("Content-Type", "image/png")
		p, _ := w.CreatePart(h) // writes to a bytes.Buffer cannot fail
		p.Write(placeholderFile)
	}
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// textPlainJSON is the body a cross-site form with enctype=text/plain
// sends when its one field is named to make the body JSON: the browser
// writes name=value CRLF, so the = lands in a padding member.
func textPlainJSON(doc json.RawMessage) []byte {
	s := strings.TrimSpace(string(doc))
	switch {
	case strings.HasSuffix(s, "}") && strings.TrimSpace(s[1:len(s)-1]) == "":
		return []byte(`{"forgeproof":"=` + `"}` + "\r\n")
	case strings.HasSuffix(s, "}"):
		return []byte(s[:len(s)-1] + `,"forgeproof":"=` + `"}` + "\r\n")
	case strings.HasSuffix(s, "]") && strings.TrimSpace(s[1:len(s)-1]) == "":
		return []byte(`["=` + `"]` + "\r\n")
	case strings.HasSuffix(s, "]"):
		return []byte(s[:len(s)-1] + `,"=` + `"]` + "\r\n")
	}
	return []byte(s + "\r\n")
}

// flatJSON returns a JSON object of scalars as query fields, or nil.
func flatJSON(doc json.RawMessage) map[string]string {
	var m map[string]any
	if json.Unmarshal(doc, &m) != nil || len(m) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			out[k] = x
		case float64, bool:
			b, _ := json.Marshal(x)
			out[k] = string(b)
		default:
			return nil
		}
	}
	return out
}

// redactJSON returns doc with the values of secret-looking members
// replaced by REDACTED, or nil when it has none (the body is then shown
// as sent, byte for byte).
func redactJSON(doc json.RawMessage) []byte {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return nil
	}
	found := false
	var walk func(any) any
	walk = func(x any) any {
		switch t := x.(type) {
		case map[string]any:
			for k, val := range t {
				if secretField.MatchString(k) && val != nil && val != "" {
					t[k], found = redacted, true
				} else {
					t[k] = walk(val)
				}
			}
		case []any:
			for i := range t {
				t[i] = walk(t[i])
			}
		}
		return x
	}
	v = walk(v)
	if !found {
		return nil
	}
	b, _ := json.Marshal(v) // decoded JSON re-encodes
	return b
}

// nullControl is the null control of a form endpoint: the legitimate
// request (same origin, every cookie, the page's own headers) with every
// field, the token's included, sent empty and no file in its file
// inputs; nil when e has no form fields (a JSON body, a GET without
// fields).
//
// Empty rather than garbage: both are refused by a service that reads
// its input (an empty token is no token; an empty number, ID or choice
// is none), but a free-text field (a name, a title: most forms that
// create something have one) takes garbage as a valid value, while
// "this field is required" is the most common validation of all; and a
// service that checks neither its token nor its input creates nothing
// from an empty submission, where it would store the garbage.
func nullControl(e *Endpoint, u *url.URL, j *jar, target *url.URL) *request {
	if len(e.Form) == 0 || len(e.JSON) > 0 {
		return nil
	}
	c := *e
	c.Form = make(map[string]string, len(e.Form))
	for k := range e.Form {
		c.Form[k] = ""
	}
	c.files = nil
	v := baselineVariant(e)
	v.label = "null control: the legitimate request with every field empty, the token's included"
	return build(&c, u, v, "", j, target)
}
