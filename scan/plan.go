package scan

import (
	"fmt"
	"net/http"
)

// PlannedRequest is one request a scan would send.
type PlannedRequest struct {
	// Purpose says why (for example "baseline" or the rule a probe tests).
	Purpose string `json:"purpose"`
	Curl    string `json:"curl"`
}

// Plan returns the requests Run would send for cfg, as curl commands, and
// sends nothing. What only a live target can tell is shown as a
// placeholder: tokens as <token>, the forms that discovery would find as
// the pages it would fetch. Probes the scanner skips once an earlier one
// succeeds are listed all the same.
func Plan(cfg Config) ([]PlannedRequest, error) {
	target, err := cfg.validate()
	if err != nil {
		return nil, &Error{ReasonConfig, err}
	}
	var out []PlannedRequest
	add := func(purpose string, r *request) {
		out = append(out, PlannedRequest{purpose, curlCommand(r, cfg.CurlTLSArgs)})
	}
	j := &jar{}
	for _, c := range cfg.Cookies {
		j.set([]*http.Cookie{{Name: c.Name, Value: c.Value}})
	}
	sc := &scanner{cfg: cfg, target: target}
	add("start page", sc.pageRequest(target, j, false))
	planLogin := func(who string, l *Login, j *jar, anonymous bool) {
		page := l.page()
		pu, _ := resolve(target, page) // validated; the target if empty
		add(who+"login page (holds the login form; its cookies are kept)", sc.pageRequest(pu, j, anonymous))
		path := l.Path
		if path == "" {
			path = page // the form's action is known only from the live page
		}
		u, _ := resolve(target, path) // validated
		e := &Endpoint{Method: "POST", Path: path, Form: l.Form, TokenField: l.TokenField, secret: true}
		r := build(e, u, baselineVariant(e), "<token>", j, target)
		r.Anonymous = anonymous
		r.Header.Set("Referer", pu.String())
		add(who+"login (with the login form's hidden fields from the page)", r)
		j.set([]*http.Cookie{{Name: "<session>", Value: "<session>"}})
	}
	if l := cfg.Login; l != nil {
		planLogin("", l, j, false)
	}
	if l := cfg.AttackerLogin; l != nil {
		al := *l
		if v := cfg.Login; v != nil && al.Path == "" && al.Page == "" && al.TokenPage == "" {
			al.Path, al.Page, al.TokenPage = v.Path, v.Page, v.TokenPage
		}
		planLogin("attacker ", &al, &jar{}, true)
	}
	if cfg.Discover {
		for _, p := range cfg.StartPages {
			u, _ := resolve(target, p) // validated
			add("discovery (then the same-origin pages it links to, within the crawl limits)", sc.pageRequest(u, j, false))
		}
	}
	for i := range cfg.Endpoints {
		e := &cfg.Endpoints[i]
		if e.Method == methodWS {
			u, _ := resolve(target, wsToHTTP(e.Path)) // validated
			args := append([]string{"--http1.1"}, cfg.CurlTLSArgs...)
			for _, p := range []struct {
				purpose string
				r       *request
			}{
				{"WebSocket baseline (same-origin handshake)", wsRequest(u, ctxWSSameOrigin, j, target, false)},
				{"probe " + RuleWebSocketCrossSite + ": " + ctxWSCrossSite.name, wsRequest(u, ctxWSCrossSite, j, target, false)},
			} {
				p.r.Header.Set("Sec-WebSocket-Key", "<random>")
				out = append(out, PlannedRequest{p.purpose, curlCommand(p.r, args)})
			}
			continue
		}
		u, _ := resolve(target, e.Path) // validated
		add("baseline", build(e, u, baselineVariant(e), "<token>", j, target))
		for _, f := range families(e, target) {
			for _, v := range f.variants {
				tok := ""
				if v.token == tokenForeign {
					tok = "<token of another session>"
				}
				add(fmt.Sprintf("probe %s: %s", f.rule, v.label), build(e, u, v, tok, j, target))
			}
		}
		if e.Method != "GET" {
			add("CORS preflight (no cookie, no client certificate; again from Origin: null when this one is closed)", preflightRequest(e, u, attackerOrigin, target))
		}
		if preflightOnlyApplies(e) {
			v := preflightOnlyVariant(e, attackerOrigin)
			add(fmt.Sprintf("probe %s (when no forgery was accepted; from the origin the preflight allowed, if any): %s", RulePreflightOnly, v.label), build(e, u, v, "", j, target))
		}
		if r := nullControl(e, u, j, target); r != nil {
			add("null control (right after the baseline, when no oracle reacted to it and its answer is the form's page again): the legitimate request with every field empty, the token's included", r)
		}
	}
	if cfg.Verify != nil {
		add("verification (before and after each probe)", sc.verifyRequest(j))
	} else {
		pages := cfg.StartPages
		if len(pages) == 0 {
			pages = []string{target.String()}
		}
		for _, p := range pages {
			u, _ := resolve(target, p) // validated
			add("verification (discovered): read twice before and after each baseline, with the JSON GETs the pages name (or, with --browser, their scripts send), and after each probe if a value changed with the baseline", sc.pageRequest(u, j, false))
		}
	}
	return out, nil
}
