package scan

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/printable"
)

// maxLoginPages bounds the pages fetched to find the login form.
const maxLoginPages = 6

// A loginStep is the login form as found on a live page: what the
// browser submits, and where it found it.
type loginStep struct {
	e    *Endpoint
	u    *url.URL // the form's action
	page *url.URL // the page that holds the form; nil if none did
	desc string   // "form #login-form on https://…/", for messages
}

// logIn performs the login step as a browser does: it fetches the page
// that holds the login form (keeping the cookies the page sets, such as
// a pre-session cookie that the form's token is bound to), then submits
// that form from the page with its hidden fields and the user's fields.
// start is the start page's answer, reused when the form is on it.
func (sc *scanner) logIn(ctx context.Context, l *Login, start *response) error {
	step, err := sc.findLogin(ctx, l, start, browser{sc.victim, false})
	if err != nil {
		return err
	}
	sc.progress("logging in with the %s", step.desc)
	tok := ""
	if step.e.TokenField != "" {
		tok = step.e.Form[step.e.TokenField]
	}
	r := build(step.e, step.u, baselineVariant(step.e), tok, sc.victim, sc.target)
	if step.page != nil {
		r.Header.Set("Referer", step.page.String())
	}
	before := map[string]string{}
	for _, c := range sc.victim.cookies {
		before[c.Name] = c.Value
	}
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		return &Error{classify(err), fmt.Errorf("login: %s: POST %s: %w", step.desc, step.u.Redacted(), err)}
	}
	kept, err := sc.judgeLogin(ctx, browser{sc.victim, false}, step, resp, before)
	if err != nil {
		var se *Error
		if !errors.As(err, &se) {
			err = &Error{ReasonLogin, err}
		}
		return err
	}
	if kept {
		sc.keptSessionFindings(step, resp, before)
	}
	cs := resp.cookies()
	sc.victim.set(cs)
	for _, c := range cs {
		sc.setCookies[c.Name] = seenCookie{c, step.u.String()}
		if newSession(c, before) {
			sc.sessionNames[c.Name] = true
		}
	}
	sc.loginBase, sc.login = resp, step
	return nil
}

// A noNewSession is loginRefused's error when the only sign of refusal
// is that the login answer set no new session cookie (see keptSession).
type noNewSession struct{ msg string }

func (e *noNewSession) Error() string { return e.msg + ", so no session started (wrong credentials?)" }

// judgeLogin says whether the login that answered resp logged b's
// browser in: loginRefused's refusal, unless its only sign is that no new
// session cookie was set; then b's jar takes the answer's cookies and the
// login page tells (keptSession), and kept is true. A refusal is a plain
// error; an *Error is a request's that ends the scan.
func (sc *scanner) judgeLogin(ctx context.Context, b browser, step *loginStep, resp *response, before map[string]string) (kept bool, err error) {
	err = loginRefused(step, resp, before)
	var ns *noNewSession
	if !errors.As(err, &ns) {
		return false, err
	}
	b.jar.set(resp.cookies())
	return true, sc.keptSession(ctx, b, step, ns)
}

// keptSession judges a login whose answer showed no sign of refusal but
// set no new session cookie, as a browser user does: a service that
// keeps the session cookie through the login (express-session without
// req.session.regenerate(), PHP's session_start() without
// session_regenerate_id()) logs that session in. b's browser reloads the
// page that held the login form (following same-origin redirects, as a
// browser does): it showed the form to this browser just before the
// login, with the same cookies, so a 2xx page without a POST form with a
// password field there now is the service's new state for the session.
// A refused login leaves the session as it was, and its login page shows
// the form again (or answers an error, or redirects off the origin):
// refused, with ns's message and what the reload showed. A login with no
// page (the fields posted alone) stays refused.
func (sc *scanner) keptSession(ctx context.Context, b browser, step *loginStep, ns *noNewSession) error {
	if step.page == nil {
		return ns
	}
	why, err := sc.loginPageAfter(ctx, b, step.page)
	if err != nil {
		return err
	}
	if why == "" {
		return nil
	}
	return &noNewSession{ns.msg + ", and " + why}
}

// maxLoginRedirects bounds the redirects followed from the login page.
const maxLoginRedirects = 5

// loginPageAfter reloads the login page in b after a login, following
// same-origin redirects, and says why b is still logged out: "" when the
// page answered 2xx without a POST form with a password field. Its error
// is the request's, when it must end the scan.
func (sc *scanner) loginPageAfter(ctx context.Context, b browser, page *url.URL) (string, error) {
	u := page
	for i := 0; ; i++ {
		resp, err := sc.get(ctx, b, u)
		if err != nil {
			if fatal(err) {
				return "", &Error{classify(err), fmt.Errorf("login: GET %s: %w", u.Redacted(), err)}
			}
			return fmt.Sprintf("reloading the page that held the login form failed (GET %s: %v)", u.Redacted(), err), nil
		}
		switch {
		case resp.Status >= 200 && resp.Status < 300:
			if hasPasswordForm(resp.Body, u) {
				return fmt.Sprintf("the page that held the login form still shows it (GET %s answered %d with a POST form with a password field)", u.Redacted(), resp.Status), nil
			}
			return "", nil
		case resp.Status >= 300 && resp.Status < 400 && i < maxLoginRedirects:
			loc, err := u.Parse(resp.Header.Get("Location"))
			if err != nil || !sameOrigin(loc, sc.target) || logoutLike.MatchString(loc.String()) || sc.exclude.excluded(loc) {
				return fmt.Sprintf("the page that held the login form redirected to %s, which was not followed (another origin, a logout or excluded)", printable.Quote(resp.location())), nil
			}
			loc.Fragment = ""
			u = loc
		default:
			return fmt.Sprintf("the page that held the login form then answered %d (GET %s)", resp.Status, u.Redacted()), nil
		}
	}
}

// keptSessionFindings reports the cookies that carried the session
// through a login judged by keptSession (session-not-renewed), and
// counts them as the session's. before holds the cookie values the
// browser had when it submitted the login form.
func (sc *scanner) keptSessionFindings(step *loginStep, resp *response, before map[string]string) {
	var kept []string
	for n, v := range before {
		if v != "" && !csrfCookie.MatchString(n) {
			kept = append(kept, n)
		}
	}
	sort.Strings(kept)
	// The ones named like a session, if any: the others (a language, a
	// consent) hold no session.
	var named []string
	for _, n := range kept {
		if sessionLike.MatchString(n) && !tokenLike.MatchString(n) {
			named = append(named, n)
		}
	}
	if len(named) > 0 {
		kept = named
	}
	sc.loginKept = true
	for _, n := range kept {
		sc.sessionNames[n] = true
		set := ""
		if sc0, ok := sc.setCookies[n]; ok {
			set = " (set by " + printable.Quote(sc0.page) + ")"
		}
		sc.add(newFinding(RuleSessionNotRenewed, Confirmed, OracleObserved, Finding{
			Method: "POST", URL: step.u.String(), Cookie: n,
			Evidence: fmt.Sprintf("The login answered %d and gave the cookie %s no new value: the value it held before the login%s carries the logged-in session after it (the page that held the login form no longer shows it). Whoever set or read that value before the login (session fixation) shares the session.",
				resp.Status, printable.Quote(n), set),
		}))
	}
}

// forgedLoginEvidence says how the cross-site login that answered resp
// logged its browser (j: its cookies) in, or "" when it logged no one
// in: answered like the real login and set a session cookie, or, on a
// service that keeps the session cookie through the login, answered
// like it and the login page, reloaded in that browser, no longer shows
// the form (a session cookie set proves nothing there: any visitor gets
// one).
func (sc *scanner) forgedLoginEvidence(ctx context.Context, j *jar, resp *response) (string, error) {
	if !accepted(sc.loginBase, resp) {
		return "", nil
	}
	if sc.loginKept && sc.login.page != nil {
		j.set(resp.cookies())
		why, err := sc.loginPageAfter(ctx, browser{j, false}, sc.login.page)
		if err != nil || why != "" {
			return "", err
		}
		return fmt.Sprintf("A cross-site POST of the login form answered %d like the real login, and the page that held the login form, %s, no longer showed it to that browser: it was logged in.", resp.Status, sc.login.page.Redacted()), nil
	}
	var session []string
	for _, c := range resp.cookies() {
		if sc.sessionNames[c.Name] && c.MaxAge >= 0 {
			session = append(session, c.Name)
		}
	}
	if len(session) == 0 {
		return "", nil
	}
	return fmt.Sprintf("A cross-site POST of the login form answered %d like the real login and set the session cookie %s.", resp.Status, strings.Join(session, ", ")), nil
}

// A browser is whose cookies (and, anonymous, which certificate: the
// attacker's or none) a page request goes with.
type browser struct {
	jar       *jar
	anonymous bool
}

// get loads page u in browser b, keeping the cookies it sets.
func (sc *scanner) get(ctx context.Context, b browser, u *url.URL) (*response, error) {
	if !b.anonymous && b.jar == sc.victim {
		return sc.do(ctx, sc.pageRequest(u, b.jar, false))
	}
	resp, err := sc.send.send(ctx, sc.pageRequest(u, b.jar, b.anonymous))
	if err == nil {
		b.jar.set(resp.cookies())
	}
	return resp, err
}

// logInAttacker logs the attacker's browser (AttackerTLS, or no
// certificate) in with l, by the same form flow as the victim's login,
// so that token-unbound can fetch the attacker's own token on a page
// that only logged-in users see. l's Path, Page and TokenField default
// to Login's.
func (sc *scanner) logInAttacker(ctx context.Context, l *Login) error {
	al := *l
	if v := sc.cfg.Login; v != nil && al.Path == "" && al.Page == "" && al.TokenPage == "" {
		al.Path, al.Page, al.TokenPage = v.Path, v.Page, v.TokenPage
		if al.TokenField == "" {
			al.TokenField = v.TokenField
		}
	}
	attacker := &jar{}
	wrap := func(err error) error {
		var se *Error
		if errors.As(err, &se) {
			return &Error{se.Reason, fmt.Errorf("attacker %w", se.Err)}
		}
		return &Error{classify(err), fmt.Errorf("attacker login: %w", err)}
	}
	step, err := sc.findLogin(ctx, &al, nil, browser{attacker, true})
	if err != nil {
		return wrap(err)
	}
	sc.progress("logging the attacker in with the %s", step.desc)
	tok := ""
	if step.e.TokenField != "" {
		tok = step.e.Form[step.e.TokenField]
	}
	r := build(step.e, step.u, baselineVariant(step.e), tok, attacker, sc.target)
	r.Anonymous = true
	if step.page != nil {
		r.Header.Set("Referer", step.page.String())
	}
	before := map[string]string{}
	for _, c := range attacker.cookies {
		before[c.Name] = c.Value
	}
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		return wrap(fmt.Errorf("%s: POST %s: %w", step.desc, step.u.Redacted(), err))
	}
	if _, err := sc.judgeLogin(ctx, browser{attacker, true}, step, resp, before); err != nil {
		var se *Error
		if !errors.As(err, &se) {
			return &Error{ReasonLogin, fmt.Errorf("attacker %w", err)}
		}
		return wrap(err)
	}
	attacker.set(resp.cookies())
	sc.attacker = attacker
	return nil
}

// hasPasswordForm reports whether the page holds a POST form with a
// password field (a login form).
func hasPasswordForm(body []byte, u *url.URL) bool {
	for _, f := range parseForms(body, u) {
		if f.Method == "POST" && f.Password {
			return true
		}
	}
	return false
}

// loginRefused tells a refused login by the signs a browser user sees:
// an error status, the login form shown again, or no session cookie
// started. It returns nil when none is seen. before holds the cookie
// values the browser had when it submitted the form.
func loginRefused(step *loginStep, resp *response, before map[string]string) error {
	where := fmt.Sprintf("login: %s: POST %s answered %d", step.desc, step.u.Redacted(), resp.Status)
	if resp.Status >= 400 {
		return fmt.Errorf("%s%s", where, serviceReason(resp))
	}
	// A redirect's own body is never shown; a page's is. The login page
	// shown again (often with a message and a 200) is a refusal.
	if resp.Status < 300 && showsLoginForm(resp.Body, step.u) {
		return fmt.Errorf("%s with the login form again (a POST form to %s with a password field): the login was refused (wrong credentials?)", where, step.u.EscapedPath())
	}
	var set []string
	for _, c := range resp.cookies() {
		if newSession(c, before) {
			return nil
		}
		set = append(set, c.Name)
	}
	if len(set) == 0 {
		return &noNewSession{where + " and set no cookie"}
	}
	return &noNewSession{fmt.Sprintf("%s and set no new session cookie (only %s, unchanged, expired or anti-CSRF)", where, strings.Join(set, ", "))}
}

// newSession reports whether the login answer's cookie c can hold a new
// session: it is set with a value, is not an anti-CSRF cookie, and the
// browser did not hold it with that value before (before: name → value).
func newSession(c *http.Cookie, before map[string]string) bool {
	if c.Value == "" || c.MaxAge < 0 || !c.Expires.IsZero() && c.Expires.Before(time.Now()) {
		return false
	}
	if csrfCookie.MatchString(c.Name) {
		return false
	}
	old, had := before[c.Name]
	return !had || old != c.Value
}

// csrfCookie matches the names of anti-CSRF cookies. It is narrower than
// tokenLike: session cookies are often named "…token" (NextAuth's
// "next-auth.session-token", JWTs in "access_token").
var csrfCookie = regexp.MustCompile(`(?i)csrf|xsrf|antiforgery|requestverification`)

// showsLoginForm reports whether the page body, served at u, holds the
// login form again: a POST form to u's path with a password field.
func showsLoginForm(body []byte, u *url.URL) bool {
	for _, f := range parseForms(body, u) {
		if f.Method == "POST" && f.Password && f.Action.Path == u.Path {
			return true
		}
	}
	return false
}

// findLogin finds the login form on the given page or, if none is given,
// on the likely ones, and merges its fields with the user's.
func (sc *scanner) findLogin(ctx context.Context, l *Login, start *response, b browser) (*loginStep, error) {
	var action *url.URL
	if l.Path != "" {
		action, _ = resolve(sc.target, l.Path) // validated
	}
	given := l.page()
	var pages []*url.URL
	if given != "" {
		u, _ := resolve(sc.target, given) // validated
		pages = append(pages, u)
	} else {
		pages = append(pages, sc.target)
		if action != nil {
			pages = append(pages, action)
		}
		for _, p := range sc.cfg.StartPages {
			u, _ := resolve(sc.target, p) // validated
			pages = append(pages, u)
		}
	}
	want := "a POST form with a password field"
	if action != nil {
		want = fmt.Sprintf("a POST form with the action %s", action.Path)
	}
	seen := map[string]bool{}
	var tried []string
	for i := 0; i < len(pages) && len(seen) < maxLoginPages; i++ {
		page := pages[i]
		if seen[page.String()] {
			continue
		}
		seen[page.String()] = true
		resp := start
		if page.String() != sc.target.String() || start == nil {
			sc.progress("looking for the login form on %s", page.Redacted())
			r, err := sc.get(ctx, b, page)
			if err != nil {
				if fatal(err) || given != "" {
					return nil, &Error{classify(err), fmt.Errorf("login: GET %s: %w", page.Redacted(), err)}
				}
				tried = append(tried, fmt.Sprintf("%s (%v)", page.Redacted(), err))
				continue
			}
			resp = r
		}
		if resp.Status >= 300 && resp.Status < 400 {
			// The login page is often where a page redirects to.
			if loc, err := page.Parse(resp.Header.Get("Location")); err == nil && sameOrigin(loc, sc.target) && given == "" {
				loc.Fragment = ""
				pages = append(pages, loc)
			}
		}
		f, ok := loginForm(parseForms(resp.Body, page), action, sc.target)
		if !ok {
			tried = append(tried, fmt.Sprintf("%s (answered %d)", page.Redacted(), resp.Status))
			continue
		}
		return sc.loginFromForm(l, page, f)
	}
	switch {
	case given != "":
		return nil, &Error{ReasonLogin, fmt.Errorf("login: the page %s has no login form (%s)", tried[0], want)}
	case action == nil:
		return nil, &Error{ReasonLogin, fmt.Errorf("login: no page holds %s; tried %s", want, strings.Join(tried, ", "))}
	case l.TokenField != "":
		return nil, &Error{ReasonLogin, fmt.Errorf("login: no page holds %s, so there is no %q token to send; tried %s", want, l.TokenField, strings.Join(tried, ", "))}
	}
	// No page holds the form (an API login, say): post the user's fields
	// alone, as before; a form with a token would then refuse it.
	sc.note("login: no page holds %s (tried %s): the login fields were posted alone", want, strings.Join(tried, ", "))
	e := &Endpoint{Method: "POST", Path: l.Path, Form: l.Form, secret: true}
	return &loginStep{e: e, u: action, desc: "login fields (no login form found)"}, nil
}

// loginForm picks the login form among forms: the POST form whose action
// is action (one with a password field first), or, with no action, the
// first POST form on the target with a password field.
func loginForm(forms []form, action, target *url.URL) (form, bool) {
	var match *form
	for i := range forms {
		f := &forms[i]
		if f.Method != "POST" || !sameOrigin(f.Action, target) {
			continue
		}
		if action != nil && f.Action.Path != action.Path {
			continue
		}
		if action == nil && !f.Password {
			continue
		}
		if f.Password {
			return *f, true
		}
		if match == nil {
			match = f
		}
	}
	if match == nil {
		return form{}, false
	}
	return *match, true
}

// loginFromForm is the browser's submission of f, found on page: the
// page's fields, visible fields the page left empty sent empty, and the
// user's fields over them.
func (sc *scanner) loginFromForm(l *Login, page *url.URL, f form) (*loginStep, error) {
	desc := "login form"
	if f.ID != "" {
		desc = "form #" + printable.Quote(f.ID)
	}
	desc += " on " + page.Redacted()
	for _, p := range f.PasswordFields {
		if _, ok := l.Form[p]; !ok {
			return nil, &Error{ReasonLogin, fmt.Errorf("login: %s has the password field %q, which the login fields do not give", desc, p)}
		}
	}
	fields := map[string]string{}
	for k, v := range f.Fields {
		if f.Filled[k] {
			v = "" // a placeholder: the browser sends the empty field
		}
		fields[k] = v
	}
	for k, v := range l.Form {
		fields[k] = v
	}
	tokenField := f.TokenField
	if l.TokenField != "" {
		if _, ok := f.Fields[l.TokenField]; !ok {
			return nil, &Error{ReasonLogin, fmt.Errorf("login: %s has no field %q", desc, l.TokenField)}
		}
		tokenField = l.TokenField
	}
	u := cloneURL(f.Action)
	u.Fragment = ""
	e := &Endpoint{Method: "POST", Path: u.RequestURI(), Form: fields, Multipart: f.Multipart,
		TokenField: tokenField, TokenPage: page.RequestURI(), secret: true}
	return &loginStep{e: e, u: u, page: page, desc: desc}, nil
}

// reasonCode is the shape of a stable reason code (a service's own, such
// as forgeproof's "token-missing"); only that much of a body is repeated.
var (
	reasonCode = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
	reasonText = regexp.MustCompile(`\(reason: ([a-z0-9][a-z0-9-]{0,39})\)`)
)

// serviceReason is the reason code of an RFC 9457 problem (or of
// forgeproof's plain-text refusal) in r, for error messages; "" if none.
// Nothing else of the body is repeated: it may echo what was sent.
func serviceReason(r *response) string {
	var p struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal(r.Body, &p) == nil && reasonCode.MatchString(p.Reason) {
		return " (reason: " + p.Reason + ")"
	}
	if m := reasonText.FindSubmatch(r.Body); m != nil {
		return " (reason: " + string(m[1]) + ")"
	}
	return ""
}

// loginCSRF posts the login form from another site, with a token of the
// attacker's own and no cookie of the victim.
func (sc *scanner) loginCSRF(ctx context.Context) error {
	if sc.loginBase == nil || sc.login == nil {
		return nil
	}
	e, u := sc.login.e, sc.login.u
	tok := ""
	v := variant{label: "cross-site login form POST", ctx: ctxCrossSiteWindow, body: bodyForm, token: tokenNone}
	// untested says why the forgery was sent with an empty token only:
	// no token of another session could be fetched (its page needs a
	// certificate or a session the attacker lacks). A page may show an
	// empty token field (a template rendering a token no middleware
	// made), which any page on another site can send as it is.
	untested := ""
	if e.TokenField != "" {
		t, err := sc.token(ctx, e, u, ownerFresh)
		switch {
		case err == nil:
			tok, v.token = t, tokenForeign
		case fatal(err):
			return err
		default:
			untested = fmt.Sprintf("no token of another session: %v", err)
			v.token, v.label = tokenEmpty, "cross-site login form POST with an empty token"
		}
	}
	fresh := &jar{}
	r := build(e, u, v, tok, fresh, sc.target)
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		if fatal(err) {
			return err
		}
		sc.note("login CSRF probe failed: %v", err)
		return nil
	}
	evidence, err := sc.forgedLoginEvidence(ctx, fresh, resp)
	if err != nil {
		return err
	}
	if evidence == "" {
		if untested != "" {
			sc.note("login CSRF tested with an empty token only, which logged no one in: %s", untested)
		}
		return nil
	}
	sc.add(newFinding(RuleLoginCSRF, Confirmed, OracleObserved, Finding{
		Method: "POST", URL: u.String(), Probe: v.label, Evidence: evidence,
		Reproduce: curlCommand(r, sc.cfg.CurlTLSArgs),
	}))
	return nil
}
