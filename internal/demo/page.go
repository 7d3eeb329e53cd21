package demo

import (
	"html/template"
	"net/http"
	"slices"
)

// pageData is what the bank's page shows. html/template escapes every
// field for its context.
type pageData struct {
	Banner   string
	Message  string
	Status   int
	User     string
	Via      string // "session" or "certificate"
	Holder   string // the certificate holder, if any
	Balance  int64
	Known    bool // User has an account
	Others   []string
	Token    string
	Accounts []accountRow
	Links    []Link
	Password string

	ClientP12, CAFile string
}

type accountRow struct {
	Name    string
	Balance int64
}

var pageTemplate = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>forgeproof demo bank</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; }
.banner { padding: .5rem; background: #eef; }
.msg { padding: .5rem; background: #efe; }
.err { padding: .5rem; background: #fee; }
form { margin: 1rem 0; }
td, th { padding: .2rem 1rem .2rem 0; text-align: left; }
</style>
</head>
<body>
<h1>forgeproof demo bank</h1>
{{with .Banner}}<p class="banner" id="banner">{{.}}</p>{{end}}
{{with .Message}}<p class="{{if lt $.Status 300}}msg{{else}}err{{end}}" id="message">{{.}}</p>{{end}}

{{if .User}}
<p>Acting for <b id="user">{{.User}}</b> (by <span id="via">{{.Via}}</span>){{if .Holder}}; client certificate: <b id="holder">{{.Holder}}</b>{{end}}.</p>
{{if .Known}}
<p>Balance: <b id="balance">{{.Balance}}</b></p>
<h2>Transfer</h2>
<form id="transfer-form" method="post" action="/transfer">
<input type="hidden" name="csrf_token" value="{{.Token}}">
<label>To <select name="to">{{range .Others}}<option>{{.}}</option>{{end}}</select></label>
<label>Amount <input name="amount" inputmode="numeric" value="10" size="7"></label>
<button type="submit">Send</button>
</form>
{{else}}
<p>There is no account named {{.User}}.</p>
{{end}}
{{else}}
<div id="no-certificate">
<p><b>Your browser presented no client certificate</b>, and you are not logged in.</p>
<p>To present alice's certificate, import {{with .ClientP12}}<code id="p12">{{.}}</code>{{else}}the demo's <code>client.p12</code>{{end}} (the password is empty) into your browser:</p>
<ul>
<li><b>Chrome, Chromium, Edge</b>: open <code>chrome://certificate-manager</code> (Settings &rarr; Privacy and security &rarr; Security &rarr; Manage certificates) &rarr; <i>Your certificates</i> &rarr; <b>Import</b>. On macOS, double-click the file instead (Keychain).</li>
<li><b>Firefox</b>: Settings &rarr; Privacy &amp; Security &rarr; Certificates &rarr; <b>View Certificates&hellip;</b> &rarr; <i>Your Certificates</i> &rarr; <b>Import&hellip;</b></li>
</ul>
<p>To trust this site without a warning, import {{with .CAFile}}<code>{{.}}</code>{{else}}the demo's <code>ca.pem</code>{{end}} as a certificate authority the same way (Chrome: <i>Trusted certificates</i>; Firefox: <i>Authorities</i>, "Trust this CA to identify websites").</p>
<p>Then <b>restart the browser</b> (it remembers "no certificate" for this site until then), reload this page and pick alice's certificate (issuer "forgeproof demo CA") when asked. Or log in below with a password.</p>
</div>
{{end}}

<h2>Log in</h2>
<form id="login-form" method="post" action="/login">
<input type="hidden" name="csrf_token" value="{{.Token}}">
<label>User <input name="username" value="alice" size="10"></label>
<label>Password <input name="password" type="password" size="10"></label>
<button type="submit">Log in</button>
</form>
<p>Every demo account (alice, bob, mallory) has the password <code>{{.Password}}</code>.</p>
{{if eq .Via "session"}}
<form id="logout-form" method="post" action="/logout">
<input type="hidden" name="csrf_token" value="{{.Token}}">
<button type="submit">Log out</button>
</form>
{{end}}

<h2>All accounts</h2>
<table id="accounts">
<tr><th>Account</th><th>Balance</th></tr>
{{range .Accounts}}<tr><td>{{.Name}}</td><td id="balance-{{.Name}}">{{.Balance}}</td></tr>
{{end}}</table>

{{with .Links}}
<h2>Try to rob alice</h2>
<p>Pages that make your browser send forged requests to this bank:</p>
<ul>{{range .}}<li><a href="{{.URL}}">{{.Name}}</a></li>{{end}}</ul>
{{end}}
</body>
</html>
`))

// render writes the bank's page with status and an optional message.
func (b *Bank) render(w http.ResponseWriter, r *http.Request, status int, msg string) {
	d := pageData{
		Banner:   b.opts.Banner,
		Message:  msg,
		Status:   status,
		Token:    r.Header.Get(TokenHeader),
		Links:    b.opts.Links,
		Password: Password,

		ClientP12: b.opts.ClientP12,
		CAFile:    b.opts.CAFile,
	}
	d.User, d.Via, _ = b.user(r)
	d.Holder, _ = b.holder(r)
	bal, _ := b.ledger.snapshot()
	names := make([]string, 0, len(bal))
	for n := range bal {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		d.Accounts = append(d.Accounts, accountRow{n, bal[n]})
		if n != d.User {
			d.Others = append(d.Others, n)
		}
	}
	d.Balance, d.Known = bal[d.User]
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store") // the page carries a CSRF token
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	pageTemplate.Execute(w, d) // errors are the client's write failures; nothing to do
}
