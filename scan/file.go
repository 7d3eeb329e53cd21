package scan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// File is the endpoints file: YAML or JSON (JSON is YAML), with keys
// spelled with dashes, as in every forgeproof YAML file:
//
//	endpoints:            # state-changing requests to test
//	  - method: POST
//	    path: /transfer
//	    form: {to: mallory, amount: "1"}
//	    token-field: csrf_token
//	    token-page: /
//	  - method: POST
//	    path: /api/transfers
//	    json: {to: mallory, amount: 1}
//	    headers: {X-CSRF-Token: "…"}   # the legitimate request's only
//	  - method: WS                     # a WebSocket: handshakes only
//	    path: /live
//	login: {path: /login, page: /, form: {user: alice, password: secret}}
//	attacker-login: {form: {user: mallory, password: secret2}}  # path, page: login's
//	verify: {path: /api/balance, pointer: /balance}
//	start-pages: [/, /settings]
//
// Unknown keys are errors; errors name the file, the line and the key.
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

// fileKey is a key of the endpoints file: its spelling in the file, the
// name of its JSON tag, and what its value must be.
type fileKey struct {
	tag  string
	kind valueKind
	sub  map[string]fileKey // for kindMapping and kindList (of mappings)
}

type valueKind int

const (
	kindString  valueKind = iota
	kindBool              // true or false
	kindStrings           // a list of strings
	kindFields            // a mapping of names to scalar values (a form)
	kindAny               // any value (a JSON body)
	kindMapping           // a mapping with the keys of sub
	kindList              // a list of mappings with the keys of sub
)

var (
	loginKeys = map[string]fileKey{
		"path":        {tag: "path"},
		"form":        {tag: "form", kind: kindFields},
		"page":        {tag: "page"},
		"token-field": {tag: "token_field"},
		"token-page":  {tag: "token_page"},
	}
	fileKeys = map[string]fileKey{
		"endpoints": {tag: "endpoints", kind: kindList, sub: map[string]fileKey{
			"method":      {tag: "method"},
			"path":        {tag: "path"},
			"form":        {tag: "form", kind: kindFields},
			"multipart":   {tag: "multipart", kind: kindBool},
			"json":        {tag: "json", kind: kindAny},
			"token-field": {tag: "token_field"},
			"token-page":  {tag: "token_page"},
			"headers":     {tag: "headers", kind: kindFields},
		}},
		"login":          {tag: "login", kind: kindMapping, sub: loginKeys},
		"attacker-login": {tag: "attacker_login", kind: kindMapping, sub: loginKeys},
		"verify": {tag: "verify", kind: kindMapping, sub: map[string]fileKey{
			"path":    {tag: "path"},
			"pointer": {tag: "pointer"},
		}},
		"start-pages": {tag: "start_pages", kind: kindStrings},
	}
)

// fileDecoder checks the YAML node tree of an endpoints file against
// fileKeys, renames its keys to their JSON tags and remembers the line of
// every key.
type fileDecoder struct {
	name  string
	lines map[string]int
	err   error // the first problem
}

func (d *fileDecoder) fail(n *yaml.Node, key, format string, a ...any) {
	if d.err == nil {
		d.err = &FileError{File: d.name, Line: n.Line, Key: key, Msg: fmt.Sprintf(format, a...)}
	}
}

// FileError is a problem in an endpoints file, at a line (0 when unknown)
// and a key ("" for the whole file).
type FileError struct {
	File string // the endpoints file
	Line int    // 1-based; 0 when unknown
	Key  string // dotted key path, "" for the whole file
	Msg  string // what is wrong
}

// Error reads "file:line: key: msg", leaving out what is unknown.
func (e *FileError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	if e.Key != "" {
		b.WriteString(": " + e.Key)
	}
	b.WriteString(": " + e.Msg)
	return b.String()
}

func (d *fileDecoder) mapping(n *yaml.Node, path string, keys map[string]fileKey) {
	if n.Kind != yaml.MappingNode {
		d.fail(n, path, "must be a mapping")
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		full := k.Value
		if path != "" {
			full = path + "." + k.Value
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, path, "keys must be plain strings")
			return
		}
		fk, ok := keys[k.Value]
		if !ok {
			if dashed := strings.ReplaceAll(k.Value, "_", "-"); dashed != k.Value {
				if _, ok := keys[dashed]; ok {
					d.fail(k, full, "unknown key: write %q (keys are spelled with dashes, as in every forgeproof YAML file)", dashed)
					return
				}
			}
			d.fail(k, full, "unknown key")
			return
		}
		if seen[k.Value] {
			d.fail(k, full, "duplicate key")
			return
		}
		seen[k.Value] = true
		d.lines[full] = k.Line
		k.Value = fk.tag
		d.value(v, full, fk)
	}
}

func (d *fileDecoder) value(n *yaml.Node, path string, fk fileKey) {
	if n.Kind == yaml.AliasNode {
		d.fail(n, path, "YAML aliases are not supported")
		return
	}
	switch fk.kind {
	case kindString:
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.fail(n, path, "must be a single value")
		}
	case kindBool:
		if n.Kind != yaml.ScalarNode || n.Value != "true" && n.Value != "false" {
			d.fail(n, path, "must be true or false")
		}
	case kindStrings:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list of strings")
			return
		}
		for i, item := range n.Content {
			if item.Kind != yaml.ScalarNode {
				d.fail(item, fmt.Sprintf("%s[%d]", path, i), "must be a string")
			}
		}
	case kindFields:
		if n.Kind != yaml.MappingNode {
			d.fail(n, path, "must be a mapping of field names to values")
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || v.Kind != yaml.ScalarNode {
				d.fail(k, path+"."+k.Value, "must be a field name and a single value")
			}
		}
	case kindAny:
		// A JSON body: anything YAML can say, checked when encoded.
	case kindMapping:
		d.mapping(n, path, fk.sub)
	case kindList:
		if n.Kind != yaml.SequenceNode {
			d.fail(n, path, "must be a list")
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			d.mapping(item, p, fk.sub)
		}
	}
}

// at returns a FileError for key at its line.
func (d *fileDecoder) at(key string, err error) error {
	return &FileError{File: d.name, Line: d.lines[key], Key: key, Msg: err.Error()}
}

// yamlSyntaxError turns a YAML syntax error into a FileError with its
// line. go-yaml leaves the line out of errors on the first line: they are
// on line 1.
func yamlSyntaxError(name string, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				line, msg = n, after
			}
		}
	}
	return &FileError{File: name, Line: line, Msg: msg}
}

// ParseFile parses an endpoints file. name is used in error messages,
// which are *FileError values: the file, the line, the key and what is
// wrong.
func ParseFile(name string, data []byte) (*File, error) {
	if len(data) > maxFileSize {
		return nil, &FileError{File: name, Msg: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FileError{File: name, Msg: "file is empty"}
		}
		return nil, yamlSyntaxError(name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, &FileError{File: name, Line: extra.Line, Msg: "more than one YAML document"}
	} else if !errors.Is(err, io.EOF) {
		return nil, yamlSyntaxError(name, err)
	}
	doc := &root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	if doc.Kind == yaml.ScalarNode && doc.Tag == "!!null" {
		return nil, &FileError{File: name, Msg: "file is empty"}
	}
	d := &fileDecoder{name: name, lines: map[string]int{}}
	d.mapping(doc, "", fileKeys)
	if d.err != nil {
		return nil, d.err
	}
	var tree any
	if err := doc.Decode(&tree); err != nil {
		return nil, yamlSyntaxError(name, err)
	}
	// Through JSON, so that one set of tags serves both syntaxes and a
	// YAML json: mapping becomes a JSON body. The keys were checked and
	// renamed to those tags above.
	j, err := json.Marshal(tree)
	if err != nil {
		// yaml decodes a mapping with a non-string key (1: x), in a JSON
		// body, into a type that JSON cannot encode.
		return nil, &FileError{File: name, Msg: "every mapping key must be a string"}
	}
	jd := json.NewDecoder(bytes.NewReader(j))
	jd.DisallowUnknownFields()
	var f File
	if err := jd.Decode(&f); err != nil {
		// Not expected after the checks above; never call a YAML file
		// JSON in the message.
		return nil, &FileError{File: name, Msg: "invalid value: " + strings.TrimPrefix(err.Error(), "json: ")}
	}
	for i := range f.Endpoints {
		f.Endpoints[i].source = "file"
		if err := f.Endpoints[i].validate(); err != nil {
			return nil, d.at(fmt.Sprintf("endpoints[%d]", i), err)
		}
	}
	if f.Login != nil && f.Login.Path == "" && f.Login.Page == "" && f.Login.TokenPage == "" {
		return nil, d.at("login", errors.New("path or page is required"))
	}
	if f.AttackerLogin != nil && len(f.AttackerLogin.Form) == 0 {
		return nil, d.at("attacker-login", errors.New("form is required"))
	}
	if f.Verify != nil {
		if f.Verify.Path == "" {
			return nil, d.at("verify", errors.New("path is required"))
		}
		if _, err := parsePointer(f.Verify.Pointer); err != nil {
			return nil, d.at("verify.pointer", err)
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
