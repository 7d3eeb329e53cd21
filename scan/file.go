package scan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is the endpoints file: YAML or JSON (JSON is YAML), with keys
//
//	endpoints:            # state-changing requests to test
//	  - method: POST
//	    path: /transfer
//	    form: {to: mallory, amount: "1"}
//	    token_field: csrf_token
//	    token_page: /
//	  - method: POST
//	    path: /api/transfers
//	    json: {to: mallory, amount: 1}
//	    headers: {X-CSRF-Token: "…"}   # the legitimate request's only
//	  - method: WS                     # a WebSocket: handshakes only
//	    path: /live
//	login: {path: /login, page: /, form: {user: alice, password: secret}}
//	attacker_login: {form: {user: mallory, password: secret2}}  # path, page: login's
//	verify: {path: /api/balance, pointer: /balance}
//	start_pages: [/, /settings]
//
// Unknown keys are errors.
type File struct {
	Endpoints []Endpoint `json:"endpoints"`
	Login     *Login     `json:"login,omitempty"`
	// AttackerLogin is Config.AttackerLogin.
	AttackerLogin *Login        `json:"attacker_login,omitempty"`
	Verify        *Verification `json:"verify,omitempty"`
	StartPages    []string      `json:"start_pages,omitempty"`
}

// maxFileSize bounds the endpoints file.
const maxFileSize = 1 << 20

// ParseFile parses an endpoints file. name is used in error messages.
func ParseFile(name string, data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%s: file is larger than %d bytes", name, maxFileSize)
	}
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("%s: file is empty", name)
	}
	// Through JSON, so that one set of tags (and DisallowUnknownFields)
	// serves both syntaxes and a YAML json: mapping becomes a JSON body.
	j, err := json.Marshal(doc)
	if err != nil {
		// yaml decodes a mapping with a non-string key (1: x) into a
		// type that JSON cannot encode.
		return nil, fmt.Errorf("%s: every mapping key must be a string", name)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.DisallowUnknownFields()
	var f File
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	for i := range f.Endpoints {
		f.Endpoints[i].source = "file"
		if err := f.Endpoints[i].validate(); err != nil {
			return nil, fmt.Errorf("%s: endpoints[%d]: %w", name, i, err)
		}
	}
	if f.Login != nil && f.Login.Path == "" && f.Login.Page == "" && f.Login.TokenPage == "" {
		return nil, fmt.Errorf("%s: login: path or page is required", name)
	}
	if f.AttackerLogin != nil && len(f.AttackerLogin.Form) == 0 {
		return nil, fmt.Errorf("%s: attacker_login: form is required", name)
	}
	if f.Verify != nil {
		if f.Verify.Path == "" {
			return nil, fmt.Errorf("%s: verify: path is required", name)
		}
		if _, err := parsePointer(f.Verify.Pointer); err != nil {
			return nil, fmt.Errorf("%s: verify: %w", name, err)
		}
	}
	return &f, nil
}

// ParseEndpoint parses the --endpoint flag syntax: "METHOD PATH [BODY]",
// where BODY is urlencoded form fields ("to=mallory&amount=1") or a JSON
// object or array.
func ParseEndpoint(s string) (Endpoint, error) {
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return Endpoint{}, fmt.Errorf("invalid endpoint %q: want \"METHOD PATH [BODY]\"", s)
	}
	e := Endpoint{Method: fields[0], Path: fields[1], source: "flag"}
	// The body is everything after the path, spaces included.
	rest := strings.TrimSpace(s)
	rest = strings.TrimSpace(rest[len(fields[0]):])
	body := strings.TrimSpace(rest[len(fields[1]):])
	if body != "" {
		// Errors quote the method and path only: the body may hold a
		// secret (a password field).
		s = fields[0] + " " + fields[1] + " …"
	}
	switch {
	case body == "":
	case body[0] == '{' || body[0] == '[':
		e.JSON = json.RawMessage(body)
	default:
		v, err := url.ParseQuery(body)
		if err != nil {
			// Not err: it quotes the bad part of the body.
			return Endpoint{}, fmt.Errorf("invalid endpoint %q: form body: invalid urlencoding", s)
		}
		e.Form = map[string]string{}
		for k, vs := range v {
			e.Form[k] = vs[0]
		}
	}
	if err := e.validate(); err != nil {
		return Endpoint{}, fmt.Errorf("invalid endpoint %q: %w", s, err)
	}
	return e, nil
}
