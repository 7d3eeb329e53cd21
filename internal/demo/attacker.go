package demo

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/forgeproof/forgeproof/internal/accesslog"
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
// as mallory. The bank's balances and login counts are the oracle.
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

// Verdicts an attack page shows once the bank has answered.
const (
	VerdictBlocked    = "blocked"
	VerdictMoneyMoved = "money moved"
	VerdictLogin      = "login forged"
	VerdictNoChange   = "nothing changed"
)

// AttackerOptions configures NewAttacker. The zero value serves pages
// that only send their forgeries.
type AttackerOptions struct {
	// InsecureNoCSRF says the bank's gateway runs with its CSRF guard off
	// (--insecure-no-csrf): the pages then say the forgeries will work.
	InsecureNoCSRF bool
	// SameSite says the pages are served from another port of the bank's
	// host: the same site, another origin. The pages say what makes it so.
	SameSite bool
	// Bank, if set, is the oracle: each page shows the balances before
	// and after its forgery and a verdict ("blocked", "money moved", …).
	Bank *Bank

	// answers, set by Start, is what the gateway answered: the pages show
	// it beside the balances.
	answers *answers
}

// NewAttacker returns the handler of the attacker site whose pages forge
// requests to the bank at bankURL (e.g. "https://localhost:8443"). Serve it
// on another site (http://127.0.0.2:port) for cross-site forgeries, or on
// another port of the bank's host for same-site ones.
//
// Each page sends its forgery at once, from a hidden frame (forms), fetch
// or an image, so that the page stays and, with opts.Bank, shows what the
// bank answered, the balances before and after, and the verdict, which it
// polls from GET /result on this site.
func NewAttacker(bankURL string, opts AttackerOptions) http.Handler {
	s := &attackerSite{bank: strings.TrimSuffix(bankURL, "/"), opts: opts, attempts: map[uint64]*attempt{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		s.page(w, "index", nil, false)
	})
	for _, a := range Attacks {
		name := strings.TrimPrefix(a.Path, "/")
		mux.HandleFunc("GET "+a.Path, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Has("top") && submitsForm(a) {
				// The classic attack page: the form goes at the top level,
				// and the browser shows the bank's answer.
				s.page(w, name, nil, true)
				return
			}
			s.page(w, name, s.start(a), false)
		})
	}
	mux.HandleFunc("GET /result", s.result)
	return mux
}

// maxAttempts bounds the attempts an attacker site remembers.
const maxAttempts = 1000

type attackerSite struct {
	bank string
	opts AttackerOptions

	mu       sync.Mutex
	next     uint64
	attempts map[uint64]*attempt
}

// An attempt is one view of an attack page: what the bank looked like
// before, and where the gateway's access log stood.
type attempt struct {
	attack Attack
	before map[string]int64
	logins map[string]int
	mark   uint64
}

// start records a new attempt of a, or returns nil without an oracle.
func (s *attackerSite) start(a Attack) *attemptView {
	if s.opts.Bank == nil {
		return nil
	}
	at := &attempt{attack: a, before: s.opts.Bank.Balances(), logins: s.opts.Bank.Logins()}
	if s.opts.answers != nil {
		at.mark = s.opts.answers.mark()
	}
	s.mu.Lock()
	s.next++
	id := s.next
	s.attempts[id] = at
	delete(s.attempts, id-maxAttempts)
	s.mu.Unlock()
	return &attemptView{ID: id, Alice: at.before[ClientName], Mallory: at.before["mallory"]}
}

// attemptView is what an attack page shows before its forgery.
type attemptView struct {
	ID             uint64
	Alice, Mallory int64
}

// submitsForm reports whether a's page submits a form (and so has a
// top-level variant, ?top=1).
func submitsForm(a Attack) bool {
	switch a.Path {
	case "/form", "/multipart", "/text-plain", "/login":
		return true
	}
	return false
}

func (s *attackerSite) page(w http.ResponseWriter, name string, at *attemptView, top bool) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	attackTemplates.ExecuteTemplate(w, name, pageView{ // errors are the client's write failures
		Bank:     s.bank,
		Attacks:  Attacks,
		Insecure: s.opts.InsecureNoCSRF,
		SameSite: s.opts.SameSite,
		Attempt:  at,
		Top:      top,
	})
}

type pageView struct {
	Bank     string
	Attacks  []Attack
	Insecure bool
	SameSite bool
	Attempt  *attemptView
	Top      bool // the form goes at the top level
}

// Result is what GET /result?id=N answers an attack page: "done" once the
// gateway has answered its forgery.
type Result struct {
	Done bool `json:"done"`
	// Answer is the gateway's answer ("403 Forbidden, refused by
	// forgeproof, reason cross-site"); Status and Reason the same as data.
	Answer string `json:"answer,omitempty"`
	Status int    `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Before and After are alice's and mallory's balances.
	Before map[string]int64 `json:"before,omitempty"`
	After  map[string]int64 `json:"after,omitempty"`
	// Verdict is one of the Verdict constants; Explanation says why.
	Verdict     string `json:"verdict,omitempty"`
	Explanation string `json:"explanation,omitempty"`
}

func (s *attackerSite) result(w http.ResponseWriter, r *http.Request) {
	id, _ := strconv.ParseUint(r.URL.Query().Get("id"), 10, 64)
	s.mu.Lock()
	at := s.attempts[id]
	s.mu.Unlock()
	if at == nil || s.opts.answers == nil {
		http.Error(w, "no such attempt", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	path, _, _ := strings.Cut(at.attack.Target, "?")
	ans, ok := s.opts.answers.find(at.mark, at.attack.Method, path)
	if !ok {
		json.NewEncoder(w).Encode(Result{})
		return
	}
	json.NewEncoder(w).Encode(judge(at, ans, s.opts.Bank.Balances(), s.opts.Bank.Logins()))
}

// judge says what an attempt achieved.
func judge(at *attempt, ans accesslog.Record, after map[string]int64, logins map[string]int) Result {
	res := Result{
		Done:   true,
		Status: ans.Status,
		Reason: ans.Reason,
		Answer: fmt.Sprintf("%d %s", ans.Status, http.StatusText(ans.Status)),
		Before: map[string]int64{ClientName: at.before[ClientName], "mallory": at.before["mallory"]},
		After:  map[string]int64{ClientName: after[ClientName], "mallory": after["mallory"]},
	}
	if ans.Decision == "deny" {
		res.Answer += ", refused by forgeproof before it reached the bank (reason " + ans.Reason + ")"
	} else {
		res.Answer += ", from the bank itself (forgeproof let the request through)"
	}
	moved := false
	for k, v := range after {
		if at.before[k] != v {
			moved = true
		}
	}
	switch {
	case moved:
		res.Verdict = VerdictMoneyMoved
		res.Explanation = fmt.Sprintf("mallory's balance went from %d to %d: the bank acted for the holder of your client certificate (or your session), "+
			"because nothing told it that another site had sent the request.", at.before["mallory"], after["mallory"])
	case logins["mallory"] > at.logins["mallory"]:
		res.Verdict = VerdictLogin
		res.Explanation = "the bank accepted a login as mallory sent by this page. A real attack page submits it at the top level, " +
			"where the session cookie sticks and you go on as mallory without noticing."
	case ans.Decision == "deny":
		res.Verdict = VerdictBlocked
		res.Explanation = "forgeproof refused the forged request: " + reasonText(ans.Reason) + ". The bank never saw it; no balance changed."
	default:
		res.Verdict = VerdictNoChange
		res.Explanation = "the request reached the bank and changed nothing"
		if at.attack.Method == http.MethodGet {
			res.Explanation += ": a GET never moves money at this bank, so forgeproof lets it through"
		}
		res.Explanation += "."
	}
	return res
}

// reasonText explains a reason code to the demo's visitor.
func reasonText(reason string) string {
	switch reason {
	case "cross-site":
		return "your browser said, in Sec-Fetch-Site, that the request came from another site"
	case "same-site":
		return "your browser said, in Sec-Fetch-Site, that the request came from another origin of the same site (another port)"
	case "origin-mismatch":
		return "the Origin header named another origin than the bank's"
	case "token-missing":
		return "the request carried no CSRF token"
	case "token-invalid":
		return "the request's CSRF token was not valid for this session"
	}
	return "reason " + reason
}

var attackTemplates = template.Must(template.New("").Parse(`
{{define "head"}}<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{.}}</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 46rem; margin: 2rem auto; padding: 0 1rem; background: #fffaf0; }
.mode { padding: .5rem; background: #eef; }
.mode.off { background: #fdd; }
.site { padding: .5rem; background: #f4f4f4; }
#verdict { font-size: 1.6rem; font-weight: bold; padding: .5rem; }
#verdict.blocked, #verdict.nothing-changed { background: #dfd; }
#verdict.money-moved, #verdict.login-forged { background: #fcc; }
td, th { padding: .2rem 1rem .2rem 0; text-align: left; }
iframe { display: none; }
</style></head>{{end}}

{{define "mode"}}{{if .Insecure}}<p class="mode off" id="mode">The bank's CSRF guard is <b>OFF</b> (<code>forgeproof demo --insecure-no-csrf</code>): forged requests reach the bank, and these pages move money.</p>
{{else}}<p class="mode" id="mode">The bank's CSRF guard is <b>on</b>: forgeproof should refuse every forged request from this page before it reaches the bank.</p>
{{end}}{{end}}

{{define "site"}}{{if .SameSite}}<p class="site" id="site">This page is served from <b>another port of the bank's host</b>: the same scheme (https) and host as the bank at <code>{{.Bank}}</code>, another port. Browsers call that <b>same-site</b> (a site is the scheme and the registrable domain; ports do not count), so even <code>SameSite=Strict</code> cookies ride along, but it is another <i>origin</i>, and the browser says so (<code>Sec-Fetch-Site: same-site</code>). forgeproof refuses it unless a route sets <code>allow-same-site</code>.</p>
{{else}}<p class="site" id="site">This page is on <b>another site</b> than the bank at <code>{{.Bank}}</code> (another host, here also another scheme): browsers call its requests to the bank <b>cross-site</b> and say so (<code>Sec-Fetch-Site: cross-site</code>, and an <code>Origin</code> header).</p>
{{end}}{{end}}

{{define "index"}}{{template "head" "a perfectly innocent site"}}<body>
<h1>A perfectly innocent site</h1>
{{template "mode" .}}{{template "site" .}}
<p>Each page below makes your browser send a forged request to the bank at <code>{{.Bank}}</code>, with your client certificate attached (browsers present it on every request to the bank, whichever page asks), and shows what the bank answered.</p>
<ul id="attacks">{{range .Attacks}}<li><a href="{{.Path}}">{{.Description}}</a>: {{.Method}} {{.Target}}</li>{{end}}</ul>
<p><a href="{{.Bank}}/">Back to the bank</a></p>
</body></html>{{end}}

{{define "top"}}{{template "mode" .}}
<p><a href="/">&larr; all attacks</a> &middot; <a href="{{.Bank}}/">the bank</a></p>{{end}}

{{define "report"}}{{with .Attempt}}
<h2>What happened</h2>
<table id="report">
<tr><th></th><th>alice</th><th>mallory</th></tr>
<tr><td>before</td><td id="before-alice">{{.Alice}}</td><td id="before-mallory">{{.Mallory}}</td></tr>
<tr><td>after</td><td id="after-alice">…</td><td id="after-mallory">…</td></tr>
</table>
<p>The bank answered: <b id="answer">waiting for the request…</b></p>
<p id="verdict"></p>
<p id="explanation"></p>
<script>
(function poll(n) {
  fetch("/result?id=" + {{.ID}}, {cache: "no-store"}).then(r => r.json()).then(res => {
    if (!res.done) {
      if (n < 100) { setTimeout(() => poll(n + 1), 200); } else { document.getElementById("answer").textContent = "no answer seen: did the browser send the request? Reload to try again."; }
      return;
    }
    document.getElementById("answer").textContent = res.answer;
    document.getElementById("after-alice").textContent = res.after.alice;
    document.getElementById("after-mallory").textContent = res.after.mallory;
    const v = document.getElementById("verdict");
    v.textContent = res.verdict.toUpperCase();
    v.className = res.verdict.replace(/ /g, "-");
    document.getElementById("explanation").textContent = res.explanation;
    document.title = res.verdict;
  });
})(0);
</script>
{{else}}<p>Look at the bank's balances to see what it did.</p>{{end}}{{end}}

{{define "form"}}{{template "head" "urlencoded form"}}<body>
<h1>An auto-submitted form</h1>
{{template "top" .}}
<p>This page submitted, as soon as it loaded, a hidden form: <code>POST {{.Bank}}/transfer</code> with <code>to=mallory&amp;amount=100</code> (urlencoded), {{if .Top}}at the top level: your browser now shows the bank's answer (use Back to return).{{else}}into a hidden frame. <a href="?top=1">Send it at the top level instead</a>, as a real attack page would: then your session cookie can ride along too (Chromium sends one without SameSite on a cross-site top-level POST for two minutes after you log in).{{end}}</p>
{{template "site" .}}
{{if not .Top}}<iframe name="sink" title="sink"></iframe>{{end}}
<form method="post" action="{{.Bank}}/transfer"{{if not .Top}} target="sink"{{end}}>
<input type="hidden" name="to" value="mallory"><input type="hidden" name="amount" value="100">
</form>
<script>document.forms[0].submit();</script>
{{template "report" .}}
</body></html>{{end}}

{{define "multipart"}}{{template "head" "multipart form"}}<body>
<h1>An auto-submitted multipart form</h1>
{{template "top" .}}
<p>This page submitted, as soon as it loaded, a hidden <code>multipart/form-data</code> form: <code>POST {{.Bank}}/transfer</code> with <code>to=mallory</code>, <code>amount=100</code>, {{if .Top}}at the top level: your browser now shows the bank's answer (use Back to return).{{else}}into a hidden frame. <a href="?top=1">Send it at the top level instead</a>, as a real attack page would: then your session cookie can ride along too (Chromium sends one without SameSite on a cross-site top-level POST for two minutes after you log in).{{end}}</p>
{{template "site" .}}
{{if not .Top}}<iframe name="sink" title="sink"></iframe>{{end}}
<form method="post" enctype="multipart/form-data" action="{{.Bank}}/transfer"{{if not .Top}} target="sink"{{end}}>
<input type="hidden" name="to" value="mallory"><input type="hidden" name="amount" value="100">
</form>
<script>document.forms[0].submit();</script>
{{template "report" .}}
</body></html>{{end}}

{{define "text-plain"}}{{template "head" "text/plain form"}}<body>
<h1>A text/plain form with a JSON body</h1>
{{template "top" .}}
<p>This page submitted a hidden form with <code>enctype="text/plain"</code> to the bank's JSON API, <code>POST {{.Bank}}/api/transfers</code>. Such a form needs no CORS preflight, and its body, <code>{"to":"mallory","amount":100,"x":"="}</code>, is JSON that the bank (like many frameworks) parses although it is sent as text/plain. {{if not .Top}}<a href="?top=1">Send it at the top level instead</a>.{{end}}</p>
{{template "site" .}}
{{if not .Top}}<iframe name="sink" title="sink"></iframe>{{end}}
<form method="post" enctype="text/plain" action="{{.Bank}}/api/transfers"{{if not .Top}} target="sink"{{end}}>
<input type="hidden" name='{"to":"mallory","amount":100,"x":"' value='"}'>
</form>
<script>document.forms[0].submit();</script>
{{template "report" .}}
</body></html>{{end}}

{{define "fetch"}}{{template "head" "fetch"}}<body>
<h1>A no-cors fetch with a JSON body</h1>
{{template "top" .}}
<p>This page called <code>fetch("{{.Bank}}/api/transfers", {method: "POST", mode: "no-cors", credentials: "include"})</code> with the body <code>{"to":"mallory","amount":100}</code> (sent as text/plain). It cannot read the answer, but it does not need to: the request is sent.</p>
{{template "site" .}}
<script>
fetch({{.Bank}} + "/api/transfers", {method: "POST", mode: "no-cors", credentials: "include",
  body: '{"to":"mallory","amount":100}'}).catch(() => {});
</script>
{{template "report" .}}
</body></html>{{end}}

{{define "fetch-form"}}{{template "head" "fetch form"}}<body>
<h1>A no-cors fetch with a form body</h1>
{{template "top" .}}
<p>This page called <code>fetch("{{.Bank}}/transfer", {method: "POST", mode: "no-cors", credentials: "include"})</code> with the urlencoded body <code>to=mallory&amp;amount=100</code>.</p>
{{template "site" .}}
<script>
fetch({{.Bank}} + "/transfer", {method: "POST", mode: "no-cors", credentials: "include",
  body: new URLSearchParams({to: "mallory", amount: "100"})}).catch(() => {});
</script>
{{template "report" .}}
</body></html>{{end}}

{{define "img"}}{{template "head" "image"}}<body>
<h1>An image that is a transfer URL</h1>
{{template "top" .}}
<p>This page shows an image whose address is <code>GET {{.Bank}}/transfer?to=mallory&amp;amount=100</code>. A bank that moved money on a GET would pay; forgeproof never checks GETs (they must not change state), so this bank must not move money on one, and does not.</p>
{{template "site" .}}
<img src="{{.Bank}}/transfer?to=mallory&amp;amount=100" alt="">
{{template "report" .}}
</body></html>{{end}}

{{define "login"}}{{template "head" "login as mallory"}}<body>
<h1>Login CSRF: logging you in as mallory</h1>
{{template "top" .}}
<p>This page submitted a hidden login form, <code>POST {{.Bank}}/login</code> with mallory's name and password, {{if .Top}}at the top level{{else}}into a hidden frame (<a href="?top=1">at the top level instead</a>){{end}}. Logged in as mallory without noticing, you would then pay into, or type secrets into, mallory's account.</p>
{{template "site" .}}
{{if not .Top}}<iframe name="sink" title="sink"></iframe>{{end}}
<form method="post" action="{{.Bank}}/login"{{if not .Top}} target="sink"{{end}}>
<input type="hidden" name="username" value="mallory"><input type="hidden" name="password" value="demo">
</form>
<script>document.forms[0].submit();</script>
{{template "report" .}}
</body></html>{{end}}
`))
