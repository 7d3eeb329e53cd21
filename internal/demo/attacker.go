package demo

import (
	"html/template"
	"net/http"
	"strings"
)

// An Attack is one page of the attacker site: what it makes a visiting
// browser send to the bank.
type Attack struct {
	// Path of the page on the attacker site, e.g. "/form".
	Path string
	// Method and Target are the request the browser sends to the bank
	// (Target is a path on the bank).
	Method, Target string
	// Description says what the page does, for people and test logs.
	Description string
}

// Attacks lists the attacker site's pages. Each one, opened in a browser
// that holds alice's certificate (and perhaps her session cookie), tries
// to pay 100 to mallory, except the login CSRF, which logs the browser in
// as mallory. The pages record nothing: the bank's balances and login
// counts are the oracle.
var Attacks = []Attack{
	{"/form", "POST", "/transfer", "auto-submitted urlencoded form"},
	{"/multipart", "POST", "/transfer", "auto-submitted multipart form"},
	{"/text-plain", "POST", "/api/transfers", `auto-submitted enctype="text/plain" form with a JSON-shaped body`},
	{"/fetch", "POST", "/api/transfers", `fetch with mode "no-cors" and credentials "include", text/plain JSON body`},
	{"/fetch-form", "POST", "/transfer", `fetch with mode "no-cors" and credentials "include", urlencoded body`},
	{"/img", "GET", "/transfer?to=mallory&amount=100", "image GET to the transfer URL (must not change state)"},
	{"/login", "POST", "/login", "login CSRF: auto-submitted login as mallory"},
}

// TextPlainBody is the body the text/plain attack makes a browser send
// (the form encodes name=value; the name and value are split at the "=").
const TextPlainBody = `{"to":"mallory","amount":100,"x":"="}`

// NewAttacker returns the handler of the attacker site whose pages forge
// requests to the bank at bankURL (e.g. "https://localhost:8443"). Serve it
// on another site (http://127.0.0.2:port) for cross-site forgeries, or on
// another port of the bank's host for same-site ones.
func NewAttacker(bankURL string) http.Handler {
	bankURL = strings.TrimSuffix(bankURL, "/")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		writeAttackPage(w, "index", bankURL)
	})
	for _, a := range Attacks {
		name := strings.TrimPrefix(a.Path, "/")
		mux.HandleFunc("GET "+a.Path, func(w http.ResponseWriter, r *http.Request) {
			writeAttackPage(w, name, bankURL)
		})
	}
	return mux
}

func writeAttackPage(w http.ResponseWriter, name, bankURL string) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	attackTemplates.ExecuteTemplate(w, name, struct {
		Bank    string
		Attacks []Attack
	}{bankURL, Attacks}) // errors are the client's write failures
}

// Every attack page sets document.title to "sent" once its request has
// gone (for fetch and image pages) so a browser test knows when to look at
// the balances; form pages navigate to the bank instead.
var attackTemplates = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.}}</title></head>{{end}}

{{define "index"}}{{template "head" "a perfectly innocent site"}}<body>
<h1>A perfectly innocent site</h1>
<p>Each page below makes your browser send a forged request to the bank at <code>{{.Bank}}</code>.
With forgeproof in front of the bank, none of them moves money.</p>
<ul>{{range .Attacks}}<li><a href="{{.Path}}">{{.Description}}</a>: {{.Method}} {{.Target}}</li>{{end}}</ul>
</body></html>{{end}}

{{define "form"}}{{template "head" "urlencoded form"}}<body onload="document.forms[0].submit()">
<form method="post" action="{{.Bank}}/transfer">
<input type="hidden" name="to" value="mallory"><input type="hidden" name="amount" value="100">
</form></body></html>{{end}}

{{define "multipart"}}{{template "head" "multipart form"}}<body onload="document.forms[0].submit()">
<form method="post" enctype="multipart/form-data" action="{{.Bank}}/transfer">
<input type="hidden" name="to" value="mallory"><input type="hidden" name="amount" value="100">
</form></body></html>{{end}}

{{define "text-plain"}}{{template "head" "text/plain form"}}<body onload="document.forms[0].submit()">
<form method="post" enctype="text/plain" action="{{.Bank}}/api/transfers">
<input type="hidden" name='{"to":"mallory","amount":100,"x":"' value='"}'>
</form></body></html>{{end}}

{{define "fetch"}}{{template "head" "fetch"}}<body>
<script>
fetch({{.Bank}} + "/api/transfers", {method: "POST", mode: "no-cors", credentials: "include",
  body: '{"to":"mallory","amount":100}'}).finally(() => { document.title = "sent"; });
</script></body></html>{{end}}

{{define "fetch-form"}}{{template "head" "fetch form"}}<body>
<script>
fetch({{.Bank}} + "/transfer", {method: "POST", mode: "no-cors", credentials: "include",
  body: new URLSearchParams({to: "mallory", amount: "100"})}).finally(() => { document.title = "sent"; });
</script></body></html>{{end}}

{{define "img"}}{{template "head" "image"}}<body>
<img src="{{.Bank}}/transfer?to=mallory&amount=100" alt="" onload="document.title='sent'" onerror="document.title='sent'">
</body></html>{{end}}

{{define "login"}}{{template "head" "login as mallory"}}<body onload="document.forms[0].submit()">
<form method="post" action="{{.Bank}}/login">
<input type="hidden" name="username" value="mallory"><input type="hidden" name="password" value="demo">
</form></body></html>{{end}}
`))
