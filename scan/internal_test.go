package scan

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/publicsuffix"
)

func TestLookupPointer(t *testing.T) {
	doc := []byte(`{"balance": 100, "a/b": {"m~n": [1, {"x": "y"}]}, "f": 1.50}`)
	tests := []struct {
		name, pointer, want, wantErr string
	}{
		{"member", "/balance", "100", ""},
		{"whole document", "", `{"a/b":{"m~n":[1,{"x":"y"}]},"balance":100,"f":1.50}`, ""},
		{"escapes", "/a~1b/m~0n/1/x", `"y"`, ""},
		{"number kept as written", "/f", "1.50", ""},
		{"missing member", "/nope", "", `no member "nope"`},
		{"index out of range", "/a~1b/m~0n/2", "", `no element "2"`},
		{"leading zero index", "/a~1b/m~0n/01", "", `no element "01"`},
		{"inside a scalar", "/balance/x", "", "inside a scalar"},
		{"no slash", "balance", "", "must be empty or start with /"},
		{"bad escape", "/a~2", "", "~ must be followed by 0 or 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lookupPointer(doc, tt.pointer)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %q, %v, want %q", got, err, tt.want)
			}
		})
	}
	if _, err := lookupPointer([]byte("<html>"), "/x"); err == nil {
		t.Errorf("HTML: got no error, want one")
	}
}

const formsPage = `<!doctype html>
<form method="post" action="/transfer"><input type="hidden" name="csrf_token" value="tok1">
<input type="number" name="amount"><input type="submit" name="go" value="Send">
<input type="checkbox" name="unchecked" value="1"><input type="checkbox" name="checked" value="yes" checked>
<select name="currency"><option value="EUR">EUR<option value="USD" selected>USD</select>
<textarea name="memo"></textarea><select name="to"><option>bob</option><option>mallory</option></select></form>
<form action="search"><input name="q"></form>
<form method="POST" action="https://elsewhere.example/collect" enctype="multipart/form-data"><input name="x" value="1"></form>
<form method="post" action="/login"><input name="user"><input type="password" name="password"></form>
<form method="post" action="%zz"><input name="broken"></form>`

func TestParseForms(t *testing.T) {
	base, _ := url.Parse("https://bank.example/app/")
	forms := parseForms([]byte(formsPage), base)
	if len(forms) != 4 {
		t.Fatalf("got %d forms, want 4 (the one with a bad action skipped)", len(forms))
	}
	tests := []struct {
		name                  string
		f                     form
		method, action, token string
		multipart, password   bool
		fields                map[string]string
	}{
		{"transfer", forms[0], "POST", "https://bank.example/transfer", "csrf_token", false, false,
			map[string]string{"csrf_token": "tok1", "amount": "1", "go": "Send", "checked": "yes", "currency": "USD", "memo": "forgeproof", "to": "bob"}}, // go: the button a browser submits with
		{"search", forms[1], "GET", "https://bank.example/app/search", "", false, false, map[string]string{"q": "forgeproof"}},
		{"elsewhere", forms[2], "POST", "https://elsewhere.example/collect", "", true, false, map[string]string{"x": "1"}},
		{"login", forms[3], "POST", "https://bank.example/login", "", false, true, map[string]string{"user": "forgeproof", "password": "forgeproof"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := tt.f
			if f.Method != tt.method || f.Action.String() != tt.action || f.TokenField != tt.token || f.Multipart != tt.multipart || f.Password != tt.password {
				t.Errorf("got %s %s token %q multipart %v password %v, want %s %s %q %v %v",
					f.Method, f.Action, f.TokenField, f.Multipart, f.Password, tt.method, tt.action, tt.token, tt.multipart, tt.password)
			}
			if len(f.Fields) != len(tt.fields) {
				t.Errorf("fields: got %v, want %v", f.Fields, tt.fields)
			}
			for k, v := range tt.fields {
				if f.Fields[k] != v {
					t.Errorf("field %s: got %q, want %q", k, f.Fields[k], v)
				}
			}
		})
	}
	action, _ := url.Parse("https://bank.example/transfer")
	if tok, ok := findToken([]byte(formsPage), base, action, "csrf_token"); !ok || tok != "tok1" {
		t.Errorf("findToken: got %q, %v, want tok1", tok, ok)
	}
	if v, ok := findToken([]byte(`<form method=post><input type=hidden name=t value=""></form>`), base, action, "t"); !ok || v != "" {
		t.Errorf("findToken of an empty field: got %q, %v, want \"\", true", v, ok)
	}
	if _, ok := findToken([]byte(formsPage), base, action, "nope"); ok {
		t.Errorf("findToken of a missing field: got ok, want not found")
	}
}

func TestSimilarity(t *testing.T) {
	tests := []struct {
		name string
		a, b string
		same bool
	}{
		{"identical", "<p>Sent 1 to mallory</p>", "<p>Sent 1 to mallory</p>", true},
		{"numbers differ", "<p>Balance 99, token a1b2</p>", "<p>Balance 98, token c3d4</p>", true},
		{"both empty", "", "", true},
		{"error page", "<p>Sent 1 to mallory. Your balance is 99.</p>", "invalid token (reason: token-invalid)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := similarity([]byte(tt.a), []byte(tt.b)) >= similarityThreshold; got != tt.same {
				t.Errorf("got %v, want %v", got, tt.same)
			}
		})
	}
	base := &response{Status: 303, Header: http.Header{"Location": {"/?ok=1"}}}
	for _, tt := range []struct {
		name string
		r    *response
		want bool
	}{
		{"same redirect", &response{Status: 303, Header: http.Header{"Location": {"/?ok=2"}}}, true},
		{"redirect elsewhere", &response{Status: 303, Header: http.Header{"Location": {"/login"}}}, false},
		{"refused", &response{Status: 403}, false},
	} {
		if got := accepted(base, tt.r); got != tt.want {
			t.Errorf("accepted %s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestSiblingOrigin(t *testing.T) {
	tests := []struct{ target, want string }{
		{"https://bank.example.co.uk/x", "https://forgeproof-sibling.example.co.uk"},
		{"https://www.bank.example.com", "https://forgeproof-sibling.example.com"},
		{"https://127.0.0.1:8443/", "https://127.0.0.1:8444"},
		{"https://localhost/", "https://localhost:444"},
		{"https://[::1]:65535/", "https://[::1]:65534"},
	}
	for _, tt := range tests {
		u, _ := url.Parse(tt.target)
		if got := siblingOrigin(u); got != tt.want {
			t.Errorf("siblingOrigin(%s): got %s, want %s", tt.target, got, tt.want)
		}
	}
}

// TestBrowserContexts pins each context's headers: every probe must be a
// combination a browser really sends.
func TestBrowserContexts(t *testing.T) {
	const (
		html = "Accept: " + acceptHTML
		star = "Accept: */*"
		self = "https://bank.example:8443"
		atk  = "https://attacker.invalid"
		nav  = "Sec-Fetch-Dest: document|Sec-Fetch-Mode: navigate|"
	)
	tests := []struct {
		ctx  browserContext
		want string
	}{
		{ctxSameOrigin, html + "|Origin: " + self + "|Referer: " + self + "/|" + nav + "Sec-Fetch-Site: same-origin|Sec-Fetch-User: ?1"},
		{ctxSameOriginFetch, star + "|Origin: " + self + "|Referer: " + self + "/|Sec-Fetch-Dest: empty|Sec-Fetch-Mode: cors|Sec-Fetch-Site: same-origin"},
		{ctxPageLoad, html + "|" + nav + "Sec-Fetch-Site: none|Sec-Fetch-User: ?1"},
		{ctxCrossSite, html + "|Origin: " + atk + "|Referer: " + atk + "/|" + nav + "Sec-Fetch-Site: cross-site"},
		{ctxCrossSiteWindow, html + "|Origin: " + atk + "|Referer: " + atk + "/|" + nav + "Sec-Fetch-Site: cross-site"},
		{ctxCrossSiteNoCORS, star + "|Origin: " + atk + "|Referer: " + atk + "/|Sec-Fetch-Dest: empty|Sec-Fetch-Mode: no-cors|Sec-Fetch-Site: cross-site"},
		{ctxOriginNull, html + "|Origin: null|" + nav + "Sec-Fetch-Site: cross-site"},
		{ctxLookalikePrefix, html + "|Origin: https://bank.example.attacker.invalid:8443|Referer: https://bank.example.attacker.invalid:8443/|" + nav + "Sec-Fetch-Site: cross-site"},
		{ctxLookalikeSuffix, html + "|Origin: https://attackerbank.example:8443|Referer: https://attackerbank.example:8443/|" + nav + "Sec-Fetch-Site: cross-site"},
		{ctxLegacy, html + "|Origin: " + atk + "|Referer: " + atk + "/"},
		{ctxLegacyHTTP, html + "|Origin: http://bank.example:8443|Referer: http://bank.example:8443/"},
		{ctxSameSite, html + "|Origin: https://forgeproof-sibling.bank.example|Referer: https://forgeproof-sibling.bank.example/|" + nav + "Sec-Fetch-Site: same-site"},
		{ctxCrossSiteGET, html + "|Referer: " + atk + "/|" + nav + "Sec-Fetch-Site: cross-site|Sec-Fetch-User: ?1"},
		{ctxCORSRead, star + "|Origin: " + atk + "|Referer: " + atk + "/|Sec-Fetch-Dest: empty|Sec-Fetch-Mode: cors|Sec-Fetch-Site: cross-site"},
		{ctxPreflight, star + "|Origin: " + atk + "|Sec-Fetch-Dest: empty|Sec-Fetch-Mode: cors|Sec-Fetch-Site: cross-site"},
	}
	target, _ := url.Parse(self + "/transfer")
	for _, tt := range tests {
		h := http.Header{}
		tt.ctx.headers(h, target)
		var got []string
		for k, vs := range h {
			got = append(got, k+": "+strings.Join(vs, ","))
		}
		sort.Strings(got)
		if g := strings.Join(got, "|"); g != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.ctx.name, g, tt.want)
		}
	}
}

func TestCookieRules(t *testing.T) {
	cookies := map[string]http.SameSite{"none": http.SameSiteNoneMode, "lax": http.SameSiteLaxMode, "strict": http.SameSiteStrictMode, "absent": 0}
	tests := []struct {
		rule cookieRule
		want string
	}{
		{cookiesAll, "absent lax none strict"},
		{cookiesCrossSitePOST, "none"},
		{cookiesLaxPOSTWindow, "absent none"},
		{cookiesCrossSiteGET, "absent lax none"},
		{cookiesLegacy, "absent none"},
		{cookiesNone, ""},
	}
	for _, tt := range tests {
		var got []string
		for _, name := range []string{"absent", "lax", "none", "strict"} {
			if tt.rule.sends(&http.Cookie{Name: name, SameSite: cookies[name]}) {
				got = append(got, name)
			}
		}
		if strings.Join(got, " ") != tt.want {
			t.Errorf("rule %d: got %v, want %s", tt.rule, got, tt.want)
		}
	}
}

func TestTextPlainJSON(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"to":"m","amount":1}`, "{\"to\":\"m\",\"amount\":1,\"forgeproof\":\"=\"}\r\n"},
		{`{}`, "{\"forgeproof\":\"=\"}\r\n"},
		{`[1]`, "[1,\"=\"]\r\n"},
	}
	for _, tt := range tests {
		if got := string(textPlainJSON([]byte(tt.in))); got != tt.want {
			t.Errorf("textPlainJSON(%s): got %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzLookupPointer(f *testing.F) {
	f.Add([]byte(`{"balance": 100, "a/b": {"m~n": [1, {"x": "y"}]}}`), "/a~1b/m~0n/1/x")
	f.Add([]byte(`[1,2]`), "/01")
	f.Add([]byte(`{"": 1}`), "/")
	f.Fuzz(func(t *testing.T, doc []byte, p string) {
		v, err := lookupPointer(doc, p)
		if err == nil && v == "" {
			t.Fatalf("no error and no value for %q", p)
		}
	})
}

func FuzzParseForms(f *testing.F) {
	f.Add([]byte(formsPage))
	f.Add([]byte(`<form method=post action=//evil.example/><input name=a value=b><form>`))
	f.Add([]byte(`<select name=s><option selected>`))
	f.Add([]byte(`<form id=l method=post action=/login><input type=hidden name=csrf_token value=t><input type=password name=pw></form>`))
	f.Add([]byte(`<p>Wrong password.</p><form method=post><input name=user><input type=password name=password></form>`))
	f.Add([]byte(`{"reason":"token-missing"}`))
	f.Add([]byte("403 refused (reason: token-missing)\n"))
	base, _ := url.Parse("https://bank.example/")
	login, _ := url.Parse("https://bank.example/login")
	f.Fuzz(func(t *testing.T, body []byte) {
		forms := parseForms(body, base)
		for _, fm := range forms {
			if fm.Action == nil || fm.Fields == nil || fm.Filled == nil {
				t.Fatalf("form without action or fields: %+v", fm)
			}
			for _, p := range fm.PasswordFields {
				if _, ok := fm.Fields[p]; !ok && p != "" {
					// A duplicate name keeps the first field's value;
					// the name is still a field.
					t.Fatalf("password field %q not among the fields %v", p, fm.Fields)
				}
			}
		}
		for _, action := range []*url.URL{login, nil} {
			if fm, ok := loginForm(forms, action, base); ok && (fm.Method != "POST" || !sameOrigin(fm.Action, base)) {
				t.Fatalf("login form %s %s: want a POST on the target", fm.Method, fm.Action)
			}
		}
		// The refused-login page: a login form at the action's path that
		// loginForm would pick (with its password field) from that page.
		if showsLoginForm(body, login) {
			if fm, ok := loginForm(parseForms(body, login), login, base); !ok || !fm.Password {
				t.Fatalf("showsLoginForm: true, but loginForm finds no password form to %s", login.Path)
			}
		}
		if r := serviceReason(&response{Body: body}); r != "" && !reasonText.MatchString(r) {
			t.Fatalf("serviceReason: got %q, want only a reason code", r)
		}
	})
}

// TestRedaction: the curl commands (findings and dry runs) never show a
// secret-looking value, in any body encoding, and show the rest as sent.
func TestRedaction(t *testing.T) {
	target, _ := url.Parse("https://bank.example/")
	u, _ := url.Parse("https://bank.example/x")
	j := &jar{}
	j.set([]*http.Cookie{{Name: "sid", Value: "hunter2-cookie"}})
	form := &Endpoint{Method: "POST", Path: "/x", Form: map[string]string{"password": "hunter2", "to": "bob"}, TokenField: "t"}
	jsonEP := &Endpoint{Method: "POST", Path: "/x", JSON: []byte(`{"to":"bob","auth":{"api_key":"hunter2"},"list":[{"secret":"hunter2"}]}`)}
	login := &Endpoint{Method: "POST", Path: "/x", Form: map[string]string{"user": "alice", "next": "/"}, secret: true}
	tests := []struct {
		name string
		e    *Endpoint
		v    variant
		tok  string
		keep string // a value that must still be shown
	}{
		{"form", form, baselineVariant(form), "hunter2-token", "to=bob"},
		{"multipart", form, variant{ctx: ctxCrossSite, body: bodyMultipart, token: tokenForeign}, "hunter2-token", "bob"},
		{"query", form, variant{ctx: ctxCrossSiteGET, body: bodyQuery, method: "GET", token: tokenFresh}, "hunter2-token", "to=bob"},
		{"json", jsonEP, baselineVariant(jsonEP), "", `"to":"bob"`},
		{"text/plain json", jsonEP, variant{ctx: ctxCrossSite, body: bodyTextPlain}, "", `"to":"bob"`},
		{"login form", login, baselineVariant(login), "", "user=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := build(tt.e, u, tt.v, tt.tok, j, target)
			c := curlCommand(r, nil)
			if strings.Contains(c, "hunter2") || strings.Contains(c, "alice") {
				t.Errorf("got %s, want no secret", c)
			}
			if !strings.Contains(c, tt.keep) {
				t.Errorf("got %s, want %q in it", c, tt.keep)
			}
			if sent := string(r.Body) + r.URL.String(); tt.e != login && !strings.Contains(sent, "hunter2") {
				t.Errorf("sent %q: want the real values sent", sent)
			}
		})
	}
}

// TestNewSession: which cookies of a login answer start a session; each
// refused case has its accepted twin.
func TestNewSession(t *testing.T) {
	before := map[string]string{"sid": "visitor-1"}
	tests := []struct {
		name string
		c    *http.Cookie
		want bool
	}{
		{"new cookie", &http.Cookie{Name: "session", Value: "s-1"}, true},
		{"known cookie, new value", &http.Cookie{Name: "sid", Value: "s-2"}, true},
		{"known cookie, same value", &http.Cookie{Name: "sid", Value: "visitor-1"}, false},
		{"deleted (Max-Age)", &http.Cookie{Name: "session", Value: "s-1", MaxAge: -1}, false},
		{"deleted (Expires in the past)", &http.Cookie{Name: "session", Value: "s-1", Expires: time.Unix(1, 0)}, false},
		{"expires later", &http.Cookie{Name: "session", Value: "s-1", Expires: time.Now().Add(time.Hour)}, true},
		{"empty value", &http.Cookie{Name: "session", Value: ""}, false},
		{"anti-CSRF cookie", &http.Cookie{Name: "__Host-forgeproof-csrf", Value: "t-1"}, false},
		{"anti-CSRF cookie (Laravel, Angular)", &http.Cookie{Name: "XSRF-TOKEN", Value: "t-1"}, false},
		{"anti-CSRF cookie (Django)", &http.Cookie{Name: "csrftoken", Value: "t-1"}, false},
		{"anti-CSRF cookie (ASP.NET Core)", &http.Cookie{Name: ".AspNetCore.Antiforgery.x1", Value: "t-1"}, false},
		// Session cookies whose names say "token" are sessions, not
		// anti-CSRF cookies (NextAuth, JWTs in cookies).
		{"session token cookie (NextAuth)", &http.Cookie{Name: "__Secure-next-auth.session-token", Value: "s-1"}, true},
		{"JWT cookie", &http.Cookie{Name: "access_token", Value: "s-1"}, true},
		{"remember token", &http.Cookie{Name: "remember_token", Value: "s-1"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := newSession(tt.c, before); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestShowsLoginForm: the refused-login page is told by a POST form to
// the login action with a password field; pages without one are not.
func TestShowsLoginForm(t *testing.T) {
	at, _ := url.Parse("https://bank.example/login")
	tests := []struct {
		name, body string
		want       bool
	}{
		{"form posting to itself", `<form method=post><input name=u><input type=password name=p></form>`, true},
		{"form with the action", `<form method=post action="/login?next=/"><input type=password name=p></form>`, true},
		{"app page", `<form method=post action=/transfer><input name=amount></form>`, false},
		{"form to another action", `<form method=post action=/signup><input type=password name=p></form>`, false},
		{"no password field", `<form method=post action=/login><input name=u></form>`, false},
		{"GET form", `<form action=/login><input type=password name=p></form>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := showsLoginForm([]byte(tt.body), at); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestLoginRefusedPrintable: a refused-login message names the form by
// its id and action, which the service chose; control characters in them
// (a terminal escape sequence, say) are never written raw to the
// operator's terminal, and a plain id and action are shown as they are.
func TestLoginRefusedPrintable(t *testing.T) {
	page, _ := url.Parse("https://bank.example/")
	tests := []struct {
		name, body, want string
	}{
		{"plain", `<form id=login-form method=post action=/login><input type=password name=p></form>`,
			"login: form #login-form on https://bank.example/: POST https://bank.example/login answered 200 with the login form again (a POST form to /login with a password field)"},
		{"escape sequences", "<form id=\"x\x1b]0;owned\x07\" method=post action=\"/log%1b[2Jin\"><input type=password name=p></form>",
			`login: form #"x\x1b]0;owned\a" on https://bank.example/: POST https://bank.example/log%1b[2Jin answered 200 with the login form again (a POST form to /log%1b[2Jin with a password field)`},
	}
	sc := &scanner{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			forms := parseForms([]byte(tt.body), page)
			if len(forms) != 1 {
				t.Fatalf("got %d forms, want 1", len(forms))
			}
			step, err := sc.loginFromForm(&Login{Form: map[string]string{"p": "secret"}}, page, forms[0])
			if err != nil {
				t.Fatal(err)
			}
			err = loginRefused(step, &response{Status: 200, Body: []byte(tt.body)}, nil)
			if err == nil {
				t.Fatal("got nil, want the login form again")
			}
			if got := err.Error(); !strings.HasPrefix(got, tt.want) {
				t.Errorf("got %q, want it to start with %q", got, tt.want)
			}
			if strings.ContainsFunc(err.Error()+step.desc, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
				t.Errorf("got a control character in %q", err)
			}
		})
	}
}

// TestOverrideQueryKeepsEndpointQuery: the ?_method= probe appends to
// the endpoint's query as written (order, escapes, bare flags), so it
// probes the endpoint's own URL; only an earlier _method pair gives way.
// The twin: the probe that sends _method in the body leaves the query
// untouched.
func TestOverrideQueryKeepsEndpointQuery(t *testing.T) {
	target, _ := url.Parse("https://bank.example/")
	e := &Endpoint{Method: "PUT", Path: "/items", Form: map[string]string{"name": "x"}}
	var inBody, inQuery variant
	for _, f := range families(e, target) {
		for _, v := range f.variants {
			switch {
			case v.override != "" && v.overrideQuery:
				inQuery = v
			case v.override != "":
				inBody = v
			}
		}
	}
	if inQuery.override == "" || inBody.override == "" {
		t.Fatalf("families(%s): want a ?_method= and a body _method variant", e.Method)
	}
	tests := []struct {
		name      string
		rawQuery  string
		v         variant
		wantQuery string
	}{
		{"order, escapes and a bare flag kept", "b=2&a=%2F&c", inQuery, "b=2&a=%2F&c&_method=PUT"},
		{"no query", "", inQuery, "_method=PUT"},
		{"an earlier _method gives way", "_method=DELETE&b=2&%5Fmethod=GET", inQuery, "b=2&_method=PUT"},
		{"body twin: query untouched", "b=2&a=%2F&c", inBody, "b=2&a=%2F&c"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse("https://bank.example/items")
			u.RawQuery = tt.rawQuery
			r := build(e, u, tt.v, "", &jar{}, target)
			if r.URL.RawQuery != tt.wantQuery {
				t.Errorf("got query %q, want %q", r.URL.RawQuery, tt.wantQuery)
			}
			if want := "/items?" + tt.wantQuery; tt.wantQuery != "" && r.URL.RequestURI() != want {
				t.Errorf("got request target %q, want %q", r.URL.RequestURI(), want)
			}
		})
	}
}

// TestQueryProbeKeepsEndpointQuery: the method-downgrade probe (a POST
// sent as a GET with its fields in the query) appends the fields to the
// endpoint's query as written (order, escapes, bare flags), so it probes
// the endpoint's own URL; only the endpoint's pairs of the same names
// give way. The curl command shows the same URL, secrets redacted. The
// twin: the legitimate form POST leaves the query untouched.
func TestQueryProbeKeepsEndpointQuery(t *testing.T) {
	target, _ := url.Parse("https://bank.example/")
	e := &Endpoint{Method: "POST", Path: "/x", Form: map[string]string{"to": "bob", "amount": "5", "password": "hunter2"}}
	var get variant
	for _, f := range families(e, target) {
		for _, v := range f.variants {
			if v.body == bodyQuery && v.method == "GET" && v.override == "" {
				get = v
			}
		}
	}
	if get.body != bodyQuery {
		t.Fatalf("families(%s): want a GET with the fields in the query", e.Method)
	}
	tests := []struct {
		name      string
		rawQuery  string
		v         variant
		wantQuery string
		wantShown string // the query of the curl command; "" if as sent
	}{
		{"order, escapes and a bare flag kept", "b=2&a=%2F&c", get,
			"b=2&a=%2F&c&amount=5&password=hunter2&to=bob", "b=2&a=%2F&c&amount=5&password=REDACTED&to=bob"},
		{"no query", "", get, "amount=5&password=hunter2&to=bob", "amount=5&password=REDACTED&to=bob"},
		{"the endpoint's pairs of the fields' names give way", "to=alice&b=2&%74o=carol&amount", get,
			"b=2&amount=5&password=hunter2&to=bob", "b=2&amount=5&password=REDACTED&to=bob"},
		{"form twin: query untouched", "b=2&a=%2F&c", baselineVariant(e), "b=2&a=%2F&c", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse("https://bank.example/x")
			u.RawQuery = tt.rawQuery
			r := build(e, u, tt.v, "", &jar{}, target)
			if r.URL.RawQuery != tt.wantQuery {
				t.Errorf("got query %q, want %q", r.URL.RawQuery, tt.wantQuery)
			}
			if want := "/x?" + tt.wantQuery; tt.wantQuery != "" && r.URL.RequestURI() != want {
				t.Errorf("got request target %q, want %q", r.URL.RequestURI(), want)
			}
			if tt.wantShown == "" {
				return
			}
			if want := "https://bank.example/x?" + tt.wantShown; !strings.Contains(curlCommand(r, nil), want) {
				t.Errorf("got curl command %s, want %q in it", curlCommand(r, nil), want)
			}
		})
	}
}

// TestLookalikeOrigins: the look-alike origins are cross-site to the
// target (another registrable domain), keep its port, and are left out
// where no browser could send them (a host name ending with an IP
// address; any host name around an IPv6 one). The family is always
// there: a page whose URL names the target can be made for any host.
func TestLookalikeOrigins(t *testing.T) {
	tests := []struct {
		name, target, prefix, suffix string
	}{
		{"domain", "https://app.example.com/", "https://app.example.com.attacker.invalid", "https://attackerexample.com"},
		{"port", "https://app.example.com:8443/x", "https://app.example.com.attacker.invalid:8443", "https://attackerexample.com:8443"},
		{"public suffix", "https://foo.github.io/", "https://foo.github.io.attacker.invalid", "https://attackerfoo.github.io"},
		{"single label", "https://localhost:8443/", "https://localhost.attacker.invalid:8443", "https://attackerlocalhost:8443"},
		{"IPv4", "https://127.0.0.1:8443/", "https://127.0.0.1.attacker.invalid:8443", ""},
		{"IPv6", "https://[::1]:8443/", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, _ := url.Parse(tt.target)
			if got := lookalikePrefix(u); got != tt.prefix {
				t.Errorf("prefix: got %q, want %q", got, tt.prefix)
			}
			if got := lookalikeSuffix(u); got != tt.suffix {
				t.Errorf("suffix: got %q, want %q", got, tt.suffix)
			}
			site, _ := publicsuffix.EffectiveTLDPlusOne(u.Hostname())
			for _, o := range []string{tt.prefix, tt.suffix} {
				if o == "" {
					continue
				}
				ou, err := url.Parse(o)
				if err != nil || ou.Port() != u.Port() {
					t.Errorf("%s: not an origin on port %q (%v)", o, u.Port(), err)
					continue
				}
				if osite, _ := publicsuffix.EffectiveTLDPlusOne(ou.Hostname()); site != "" && osite == site {
					t.Errorf("%s: same site as %s", o, tt.target)
				}
			}
			e := &Endpoint{Method: "POST", Path: "/x", Form: map[string]string{"a": "1"}}
			hasFamily := slices.ContainsFunc(families(e, u), func(f family) bool { return f.rule == RuleOriginLookalike })
			skipped := slices.ContainsFunc(notApplicable(e, u), func(f FamilyResult) bool { return f.Rule == RuleOriginLookalike })
			if !hasFamily || skipped {
				t.Errorf("family %v, skipped %v; want the family", hasFamily, skipped)
			}
		})
	}
}
