package scan_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

func TestParseFile(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string // "" = valid
		check   func(t *testing.T, f *scan.File)
	}{
		{"yaml", `
endpoints:
  - method: post
    path: /transfer
    form: {to: mallory, amount: "1"}
    token-field: csrf_token
    token-page: /
  - method: POST
    path: /api/transfers
    json: {to: mallory, amount: 1}
login: {path: /login, form: {user: alice, password: secret}}
verify: {path: /api/balance, pointer: /balance}
start-pages: [/, /settings]
`, "", func(t *testing.T, f *scan.File) {
			if len(f.Endpoints) != 2 || f.Endpoints[0].Method != "POST" || f.Endpoints[0].TokenField != "csrf_token" {
				t.Errorf("endpoints: got %+v", f.Endpoints)
			}
			if got, want := string(f.Endpoints[1].JSON), `{"amount":1,"to":"mallory"}`; got != want {
				t.Errorf("json body: got %s, want %s", got, want)
			}
			if f.Login == nil || f.Login.Form["password"] != "secret" || f.Verify.Pointer != "/balance" || len(f.StartPages) != 2 {
				t.Errorf("login/verify/start pages: got %+v %+v %v", f.Login, f.Verify, f.StartPages)
			}
		}},
		{"json", `{"endpoints": [{"method": "DELETE", "path": "/account"}]}`, "", func(t *testing.T, f *scan.File) {
			if f.Endpoints[0].Method != "DELETE" {
				t.Errorf("got %+v", f.Endpoints)
			}
		}},
		{"unknown key", `{"endpoints": [], "endpoint": []}`, `scan.yaml:1: endpoint: unknown key`, nil},
		// issue 12: one spelling, dashes, as in the gateway config; the
		// old underscore spelling says what to write.
		{"underscore key", "endpoints:\n  - method: POST\n    path: /x\n    token_field: t\n", `scan.yaml:4: endpoints[0].token_field: unknown key: write "token-field"`, nil},
		{"underscore top-level key", "start_pages: [/]\n", `scan.yaml:1: start_pages: unknown key: write "start-pages"`, nil},
		{"unknown nested key on its line", "endpoints:\n  - method: POST\n    path: /x\n    fom: {a: b}\n", "scan.yaml:4: endpoints[0].fom: unknown key", nil},
		{"wrong type on its line", "endpoints:\n  - method: [POST]\n    path: /x\n", "scan.yaml:2: endpoints[0].method: must be a single value", nil},
		{"form not a mapping", "endpoints:\n  - {method: POST, path: /x, form: a=b}\n", "scan.yaml:2: endpoints[0].form: must be a mapping", nil},
		{"multipart not a boolean", "endpoints: [{method: POST, path: /x, multipart: yes}]\n", "endpoints[0].multipart: must be true or false", nil},
		{"endpoint error on its line", "verify: {path: /b, pointer: /b}\nendpoints:\n  - {method: HEAD, path: /x}\n", `scan.yaml:3: endpoints[0]: invalid method "HEAD"`, nil},
		{"syntax error on line 1 keeps its line", "endpoints: [{method: POST, path: /x}\n", "scan.yaml:1: ", nil},
		{"syntax error on line 1, no line from yaml", "a: b: c\n", "scan.yaml:1: mapping values are not allowed", nil},
		{"syntax error on line 2", "start-pages: /\n  y: 2\n", "scan.yaml:2: mapping values are not allowed", nil},
		{"attacker login", "login: {page: /, form: {password: x}}\nattacker-login: {form: {password: y}}\n", "", func(t *testing.T, f *scan.File) {
			if f.AttackerLogin == nil || f.AttackerLogin.Form["password"] != "y" {
				t.Errorf("got %+v", f.AttackerLogin)
			}
		}},
		{"attacker login without form", "attacker-login: {path: /login}\n", "scan.yaml:1: attacker-login: form is required", nil},
		{"headers", "endpoints: [{method: POST, path: /x, json: {a: 1}, headers: {X-CSRF-Token: t}}]\n", "", func(t *testing.T, f *scan.File) {
			if f.Endpoints[0].Headers["X-CSRF-Token"] != "t" {
				t.Errorf("headers: got %v", f.Endpoints[0].Headers)
			}
		}},
		{"user data keeps underscores", "endpoints: [{method: POST, path: /x, form: {csrf_token: a, to_account: b}}]\n", "", func(t *testing.T, f *scan.File) {
			if f.Endpoints[0].Form["csrf_token"] != "a" || f.Endpoints[0].Form["to_account"] != "b" {
				t.Errorf("form fields renamed: %v", f.Endpoints[0].Form)
			}
		}},
		{"bad method", `endpoints: [{method: HEAD, path: /x}]`, `invalid method "HEAD"`, nil},
		{"no path", `endpoints: [{method: POST}]`, "path is required", nil},
		{"form and json", `endpoints: [{method: POST, path: /x, form: {a: b}, json: {a: b}}]`, "exclusive", nil},
		{"token on json", `endpoints: [{method: POST, path: /x, json: {a: b}, token-field: t}]`, "token-field applies to forms only", nil},
		{"bad pointer", `verify: {path: /b, pointer: balance}`, "scan.yaml:1: verify.pointer: invalid JSON pointer", nil},
		{"verify without path", `verify: {pointer: /balance}`, "verify: path is required", nil},
		{"login without path or page", `login: {form: {password: x}}`, "login: path or page is required", nil},
		{"login by its page", `login: {page: /, form: {password: x}}`, "", func(t *testing.T, f *scan.File) {
			if f.Login.Page != "/" || f.Login.Path != "" {
				t.Errorf("got %+v, want page / and no path", f.Login)
			}
		}},
		{"empty", ``, "file is empty", nil},
		{"not yaml", `endpoints: [`, "scan.yaml", nil},
		{"non-string keys", `endpoints: [{method: POST, path: /x, json: {1: 2}}]`, "must be a string", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := scan.ParseFile("scan.yaml", []byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				if !strings.HasPrefix(err.Error(), "scan.yaml") {
					t.Errorf("got %q, want the file name first", err)
				}
				if strings.Contains(strings.ToLower(err.Error()), "json:") || strings.Contains(err.Error(), "unknown field") || !strings.Contains(tt.in, "_") && strings.Contains(err.Error(), "_") {
					t.Errorf("got %q: a YAML file's error in JSON decoder terms", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("got %v, want no error", err)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestParseEndpoint(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // fmt of method, path, form, json
		wantErr string
	}{
		{"form", "POST /transfer to=mallory&amount=1", "POST /transfer map[amount:1 to:mallory] ", ""},
		{"json with spaces", `POST /api/transfers {"to": "mallory", "amount": 1}`, `POST /api/transfers map[] {"to": "mallory", "amount": 1}`, ""},
		{"no body", "delete /account", "DELETE /account map[] ", ""},
		{"one word", "POST", "", "want \"METHOD PATH [BODY]\""},
		{"bad method", "TRACE /x", "", `invalid method "TRACE"`},
		{"bad json", "POST /x {oops", "", "not valid JSON"},
		{"bad form", "POST /x a=%zz", "", "form body"},
		{"bad form quotes no body", "POST /x password=hunter2%zz", "", `invalid endpoint "POST /x …": form body: invalid urlencoding`},
		{"bad method quotes no body", "FETCH /x password=hunter2", "", `invalid endpoint "FETCH /x …": invalid method "FETCH"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := scan.ParseEndpoint(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			form := e.Form
			if form == nil {
				form = map[string]string{}
			}
			if got := fmt.Sprintf("%s %s %v %s", e.Method, e.Path, form, e.JSON); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{
		"endpoints: [{method: POST, path: /transfer, form: {to: m}, token-field: t}]",
		`{"endpoints": [{"method": "POST", "path": "/x", "json": [1, 2]}], "verify": {"path": "/b", "pointer": "/a~1b/0"}}`,
		"login: {path: /login}\nstart-pages: [/]",
		"endpoints: &a [*a]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := scan.ParseFile("fuzz.yaml", data)
		if err != nil {
			return
		}
		for _, e := range file.Endpoints {
			if e.Method == "" || e.Path == "" {
				t.Fatalf("accepted an endpoint without method or path: %+v", e)
			}
		}
	})
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"POST /transfer to=mallory&amount=1", `POST /x {"a":1}`, "GET /x?y=1", "PUT  /x   [1]"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := scan.ParseEndpoint(s)
		if err == nil && (e.Path == "" || e.Method == "") {
			t.Fatalf("accepted %q as %+v", s, e)
		}
	})
}
