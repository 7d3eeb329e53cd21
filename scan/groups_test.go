package scan_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// groupsOptions choose how a small "groups" admin behaves. It is modelled
// on Django admin's "add group": GET / lists the groups and holds the add
// form (a hidden csrfmiddlewaretoken and an empty name field); POST /add/
// creates a group and answers 200 with a success page, or, for a name
// that exists, 200 with the form again and an errorlist; GET /api/groups
// is {"count": n, "now": …}. Cookies sessionid and csrftoken, as Django's.
type groupsOptions struct {
	// originCheck refuses cross-site and same-site POSTs (Sec-Fetch-Site,
	// then the whole Origin), as Django's CsrfViewMiddleware does.
	originCheck bool
	// token: "" (no token field), "unbound" (any token the service issued)
	// or "bound" (HMAC of the session).
	token string
	// unique refuses a name that exists, showing the form again.
	unique bool
	// getAdds makes GET /add/ add a group too (named from the query, or
	// "unnamed-N") and answer with the POST's success page; getForm makes
	// it show the form page instead (no state change); otherwise 405.
	getAdds, getForm bool
	// hideState leaves the groups out of GET / (and its script does not
	// name /api/groups): no state to discover.
	hideState bool
	// loginRequired redirects every page to /login/ without a session;
	// alice/wonderland and mallory/hunter2 can log in there.
	loginRequired bool
	// noSameSite sets the session cookie without a SameSite attribute
	// (Chromium's Lax+POST window then sends it on cross-site POSTs).
	noSameSite bool
	// symfony answers as Symfony's forms do: a success shows the page
	// again (the list, a message and an empty form), and a refused
	// forgery (origin or token) shows the form again with 200 and an
	// error, instead of a 403.
	symfony bool
}

type groups struct {
	opts groupsOptions
	key  []byte

	mu       sync.Mutex
	names    []string
	sessions map[string]string // session → user
	issued   map[string]bool
	loads    int
	flash    map[string]string // session → message for the next page
}

func newGroups(opts groupsOptions) *groups {
	return &groups{opts: opts, key: []byte(randomString()), sessions: map[string]string{}, issued: map[string]bool{}, flash: map[string]string{}}
}

func (g *groups) start(t testing.TB, p *testPKI) *httptest.Server {
	srv := httptest.NewUnstartedServer(g)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.server}, ClientCAs: p.pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func (g *groups) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.names)
}

func (g *groups) session(r *http.Request) (string, bool) {
	c, err := r.Cookie("sessionid")
	if err != nil {
		return "", false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.sessions[c.Value]
	return c.Value, ok
}

func (g *groups) newSession(w http.ResponseWriter, user string) string {
	id := randomString()
	g.mu.Lock()
	g.sessions[id] = user
	g.mu.Unlock()
	c := &http.Cookie{Name: "sessionid", Value: id, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
	if g.opts.noSameSite {
		c.SameSite = 0
	}
	http.SetCookie(w, c)
	return id
}

func (g *groups) token(session string) string {
	switch g.opts.token {
	case "bound":
		m := hmac.New(sha256.New, g.key)
		m.Write([]byte(session))
		return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	case "unbound":
		t := randomString()
		g.mu.Lock()
		g.issued[t] = true
		g.mu.Unlock()
		return t
	}
	return ""
}

func (g *groups) tokenOK(session, t string) bool {
	switch g.opts.token {
	case "bound":
		return t != "" && hmac.Equal([]byte(t), []byte(g.token(session)))
	case "unbound":
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.issued[t]
	}
	return true
}

func (g *groups) originOK(r *http.Request) bool {
	if !g.opts.originCheck {
		return true
	}
	if s := r.Header.Get("Sec-Fetch-Site"); s != "" {
		return s == "same-origin" || s == "none"
	}
	o := r.Header.Get("Origin")
	return o == "" || o == "https://"+r.Host
}

const groupsStyle = `<!doctype html><html><head><title>Groups</title></head><body>`

// form renders the add form; errors is an errorlist (or "").
func (g *groups) form(session, errors string) string {
	tok := ""
	if g.opts.token != "" {
		tok = `<input type="hidden" name="csrfmiddlewaretoken" value="` + html.EscapeString(g.token(session)) + `">`
	}
	return `<form method="post" action="/add/" id="group_form">` + tok + errors +
		`<label>Name <input type="text" name="name" maxlength="150"></label><input type="submit" value="Save"></form>`
}

func (g *groups) page(w http.ResponseWriter, session string) { g.pageWith(w, session, "") }

// pageWith is the page with errors (an errorlist, or "") in its form.
func (g *groups) pageWith(w http.ResponseWriter, session, errors string) {
	g.mu.Lock()
	g.loads++
	loads := g.loads
	msg := g.flash[session]
	delete(g.flash, session)
	names := append([]string(nil), g.names...)
	g.mu.Unlock()
	var b strings.Builder
	b.WriteString(groupsStyle)
	if g.opts.symfony {
		// A real layout's navigation and footer, the same on every page.
		b.WriteString(`<nav><a href="/">Home</a> <a href="/users">Users</a> <a href="/roles">Roles</a> <a href="/settings">Settings</a> <a href="/help">Help and documentation</a></nav>
<footer>Administration console of the example organisation, version five; all rights reserved by the authors of this small application for testing</footer>`)
	}
	// Changes with every load, like a clock or a nonce: never an oracle.
	fmt.Fprintf(&b, `<p id="served">page %d</p>`, loads)
	if msg != "" {
		// A flash message, gone at the next load (Django's messages).
		fmt.Fprintf(&b, `<ul class="messagelist"><li class="success">%s</li></ul>`, html.EscapeString(msg))
	}
	if !g.opts.hideState {
		fmt.Fprintf(&b, `<p id="count">%d groups</p><table>`, len(names))
		for _, n := range names {
			fmt.Fprintf(&b, `<tr><td>%s</td></tr>`, html.EscapeString(n))
		}
		b.WriteString(`</table><script>fetch("/api/groups").then(r => r.json())</script>`)
	}
	b.WriteString(g.form(session, errors) + `</body></html>`)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprint(w, b.String())
}

// success is the answer to an accepted add, for POST and (getAdds) GET.
func (g *groups) success(w http.ResponseWriter, name string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `%s<h1>Group added</h1><p>The group “%s” was added successfully. You may add another group below or go back to the list of groups.</p><p><a href="/">Back to the groups</a></p></body></html>`, groupsStyle, html.EscapeString(name))
}

func (g *groups) add(w http.ResponseWriter, session, name string) bool {
	g.mu.Lock()
	if g.opts.unique {
		for _, n := range g.names {
			if n == name {
				g.mu.Unlock()
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprint(w, groupsStyle+`<p class="errornote">Please correct the error below.</p>`+
					g.form(session, `<ul class="errorlist"><li>Group with this Name already exists.</li></ul>`)+`</body></html>`)
				return false
			}
		}
	}
	g.names = append(g.names, name)
	g.flash[session] = "The group was added."
	g.mu.Unlock()
	return true
}

func (g *groups) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
		http.Error(w, "client certificate required", http.StatusUnauthorized)
		return
	}
	session, ok := g.session(r)
	if !ok && !g.opts.loginRequired {
		session = g.newSession(w, "anonymous")
		ok = true
	}
	if _, err := r.Cookie("csrftoken"); err != nil {
		http.SetCookie(w, &http.Cookie{Name: "csrftoken", Value: randomString(), Path: "/", Secure: true, SameSite: http.SameSiteLaxMode})
	}
	switch {
	case r.URL.Path == "/login/" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, groupsStyle+`<form method="post" action="/login/"><input name="username"><input type="password" name="password"><input type="submit"></form></body></html>`)
		return
	case r.URL.Path == "/login/" && r.Method == http.MethodPost:
		u, pw := r.PostFormValue("username"), r.PostFormValue("password")
		if !(u == "alice" && pw == "wonderland" || u == "mallory" && pw == "hunter2") {
			http.Error(w, "wrong password", http.StatusUnauthorized)
			return
		}
		g.newSession(w, u)
		http.Redirect(w, r, "/", http.StatusFound)
		return
	case !ok:
		http.Redirect(w, r, "/login/?next="+r.URL.Path, http.StatusFound)
		return
	}
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		g.page(w, session)
	case r.URL.Path == "/api/groups" && r.Method == http.MethodGet:
		w.Header().Set("Content-Type", "application/json")
		g.mu.Lock()
		g.loads++
		doc := map[string]any{"count": len(g.names), "served": g.loads}
		g.mu.Unlock()
		json.NewEncoder(w).Encode(doc)
	case r.URL.Path == "/add/" && r.Method == http.MethodPost:
		if !g.originOK(r) || !g.tokenOK(session, r.PostFormValue("csrfmiddlewaretoken")) {
			if g.opts.symfony {
				g.pageWith(w, session, `<ul class="form-error"><li>The CSRF token is invalid.</li></ul>`)
				return
			}
			http.Error(w, "CSRF verification failed. Request aborted.", http.StatusForbidden)
			return
		}
		name := r.PostFormValue("name")
		if name == "" {
			http.Error(w, "name required", http.StatusBadRequest)
			return
		}
		if g.add(w, session, name) {
			if g.opts.symfony {
				g.page(w, session)
				return
			}
			g.success(w, name)
		}
	case r.URL.Path == "/add/" && r.Method == http.MethodGet && g.opts.getAdds:
		name := r.URL.Query().Get("name")
		if name == "" {
			name = fmt.Sprintf("unnamed-%d", g.count()+1)
		}
		if g.add(w, session, name) {
			g.success(w, name)
		}
	case r.URL.Path == "/add/" && r.Method == http.MethodGet && g.opts.getForm:
		g.page(w, session)
	case r.URL.Path == "/add/":
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}
