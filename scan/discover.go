package scan

import (
	"bytes"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/net/html"
)

// A form is an HTML form found on a page.
type form struct {
	Method    string
	Action    *url.URL // resolved against the page
	Fields    map[string]string
	Multipart bool
	// TokenField is the hidden field that looks like an anti-CSRF token.
	TokenField string
	// Password is true for login and password-change forms: the scanner
	// does not guess credentials and skips them.
	Password bool
	// PasswordFields names the password inputs; Filled the visible fields
	// the page gave no value, which the scanner filled with placeholders
	// (a browser would send them empty).
	PasswordFields []string
	Filled         map[string]bool
	// Types holds the input type of each Filled field ("textarea" for a
	// textarea), so that a scan can give each request its own value.
	Types map[string]string
	// MaxLen holds the maxlength of Filled fields that have one.
	MaxLen map[string]int
	// ID is the form's id attribute, for messages.
	ID string
	// Files names the file inputs.
	Files []string
	// Marks counts the error marks (errorMarkers) on the form's own tags
	// and those inside it: an answer that shows the form again with an
	// error in it is told from the page by these, also when it is only
	// a fragment of the page (see reshowsForm).
	Marks int
}

// tokenLike matches the names of anti-CSRF token fields (sectok:
// DokuWiki's).
var tokenLike = regexp.MustCompile(`(?i)csrf|xsrf|token|authenticity|nonce|sectok`)

// maxForms bounds the forms taken from one page.
const maxForms = 100

// parseForms returns the forms of an HTML page at base. Malformed HTML is
// parsed as a browser would; forms whose action does not parse are
// skipped.
func parseForms(body []byte, base *url.URL) []form {
	z := html.NewTokenizer(bytes.NewReader(body))
	var forms []form
	var cur *form
	var selectName string
	// submitter: the open form's default button (its first submit
	// button) was seen; a browser sends its name and value.
	submitter := false
	var selectValue *string
	// optionText: the open <option> has no value attribute, so its text
	// is the value.
	optionText, optionSelected := false, false
	for len(forms) < maxForms {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if cur != nil {
				forms = append(forms, *cur)
			}
			return forms
		case html.StartTagToken, html.SelfClosingTagToken:
			marked := errorMarkers.Match(z.Raw()) // before Token, which may reuse the buffer
			t := z.Token()
			if marked && cur != nil {
				cur.Marks++
			}
			attr := func(k string) (string, bool) {
				for _, a := range t.Attr {
					if a.Key == k {
						return a.Val, true
					}
				}
				return "", false
			}
			switch t.Data {
			case "form":
				if cur != nil { // nested forms are ignored by browsers too
					continue
				}
				m, _ := attr("method")
				m = strings.ToUpper(strings.TrimSpace(m))
				if m == "" {
					m = "GET"
				}
				act, _ := attr("action")
				ref, err := url.Parse(strings.TrimSpace(act))
				if err != nil {
					continue
				}
				enc, _ := attr("enctype")
				id, _ := attr("id")
				submitter = false
				cur = &form{
					ID:        id,
					Filled:    map[string]bool{},
					Types:     map[string]string{},
					MaxLen:    map[string]int{},
					Method:    m,
					Action:    base.ResolveReference(ref),
					Fields:    map[string]string{},
					Multipart: strings.EqualFold(strings.TrimSpace(enc), "multipart/form-data"),
				}
				if marked {
					cur.Marks++
				}
			case "input":
				if cur == nil {
					continue
				}
				name, _ := attr("name")
				typ, _ := attr("type")
				typ = strings.ToLower(typ)
				val, _ := attr("value")
				_, checked := attr("checked")
				if typ == "password" {
					cur.Password = true
					if name != "" {
						cur.PasswordFields = append(cur.PasswordFields, name)
					}
				}
				if typ == "submit" || typ == "image" {
					if !submitter && typ == "submit" {
						addSubmitter(cur, name, val)
					}
					submitter = true
					continue
				}
				if typ == "file" && name != "" && !slices.Contains(cur.Files, name) {
					cur.Files = append(cur.Files, name)
				}
				if name == "" || typ == "button" || typ == "reset" || typ == "file" {
					continue
				}
				if (typ == "checkbox" || typ == "radio") && !checked {
					continue
				}
				if _, dup := cur.Fields[name]; dup {
					continue
				}
				if val == "" && typ != "hidden" {
					val = placeholderValue(typ)
					cur.Filled[name] = true
					cur.Types[name] = typ
					if n, err := strconv.Atoi(maxLen(t)); err == nil && n > 0 {
						cur.MaxLen[name] = n
					}
				}
				cur.Fields[name] = val
				if typ == "hidden" && cur.TokenField == "" && tokenLike.MatchString(name) {
					cur.TokenField = name
				}
			case "button":
				if typ, _ := attr("type"); cur != nil && !submitter && (typ == "" || strings.EqualFold(typ, "submit")) {
					name, _ := attr("name")
					val, _ := attr("value")
					addSubmitter(cur, name, val)
					submitter = true
				}
			case "textarea":
				if name, _ := attr("name"); cur != nil && name != "" {
					cur.Fields[name] = "forgeproof"
					cur.Filled[name] = true
					cur.Types[name] = "textarea"
					if n, err := strconv.Atoi(maxLen(t)); err == nil && n > 0 {
						cur.MaxLen[name] = n
					}
				}
			case "select":
				if name, _ := attr("name"); cur != nil && name != "" {
					selectName = name
					v := ""
					selectValue = &v
				}
			case "option":
				optionText = false
				if cur != nil && selectValue != nil {
					v, hasValue := attr("value")
					_, sel := attr("selected")
					if _, seen := cur.Fields[selectName]; !seen || sel {
						cur.Fields[selectName] = v
						optionText, optionSelected = !hasValue, sel
					}
				}
			}
		case html.TextToken:
			if optionText && cur != nil && selectValue != nil {
				if _, seen := cur.Fields[selectName]; seen && (optionSelected || cur.Fields[selectName] == "") {
					cur.Fields[selectName] = strings.TrimSpace(string(z.Text()))
				}
			}
			optionText = false
		case html.EndTagToken:
			t := z.Token()
			switch t.Data {
			case "form":
				if cur != nil {
					forms = append(forms, *cur)
					cur = nil
				}
			case "select":
				selectName, selectValue = "", nil
			}
		}
	}
	return forms
}

// addSubmitter adds the form's default button, the one a click on the
// first submit button or Enter in a field submits it with: a browser
// sends its name and value (DokuWiki saves a page only with do[save]).
func addSubmitter(f *form, name, val string) {
	if name == "" {
		return
	}
	if _, dup := f.Fields[name]; !dup {
		f.Fields[name] = val
	}
}

// maxLen is the maxlength attribute of an input or textarea token.
func maxLen(t html.Token) string {
	for _, a := range t.Attr {
		if a.Key == "maxlength" {
			return strings.TrimSpace(a.Val)
		}
	}
	return ""
}

// placeholderValue fills a visible field that has no value.
func placeholderValue(typ string) string {
	switch typ {
	case "number", "range":
		return "1"
	case "email":
		return "forgeproof@example.com"
	case "url":
		return "https://example.com/"
	}
	return "forgeproof"
}

// findToken returns the value of the field named field in the form whose
// action is action (or, failing that, in any form of the page). The value
// may be empty: a page can render an empty token (a guard that is off).
func findToken(body []byte, base, action *url.URL, field string) (string, bool) {
	var any string
	found := false
	for _, f := range parseForms(body, base) {
		v, ok := f.Fields[field]
		if !ok {
			continue
		}
		if action != nil && f.Action.Path == action.Path {
			return v, true
		}
		if !found || any == "" {
			any, found = v, true
		}
	}
	return any, found
}
