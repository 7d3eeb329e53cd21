package scan

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// epState is what the oracle knows about one endpoint.
type epState struct {
	e    *Endpoint
	u    *url.URL
	base *response
	// sensitive: the verification request changed with the baseline, so
	// probes are judged by the state change.
	sensitive bool
	last      string // the verification value after the latest request
}

// read fetches the verification value.
func (sc *scanner) read(ctx context.Context) (string, error) {
	v := sc.cfg.Verify
	r := sc.verifyRequest(sc.victim)
	u := r.URL
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		return "", err
	}
	if resp.Status != http.StatusOK {
		return "", fmt.Errorf("verification GET %s answered %d", u.Path, resp.Status)
	}
	return lookupPointer(resp.Body, v.Pointer)
}

// verifyRequest is the verification GET, as the service's own page
// would fetch it.
func (sc *scanner) verifyRequest(j *jar) *request {
	u, _ := resolve(sc.target, sc.cfg.Verify.Path) // validated
	r := &request{Method: "GET", URL: u, Header: http.Header{}}
	r.Header.Set("User-Agent", userAgent)
	ctxSameOriginFetch.headers(r.Header, sc.target)
	r.Header.Del("Origin") // a same-origin GET fetch sends none
	r.Header.Set("Accept", "application/json")
	r.Cookies = j.pick(cookiesAll)
	return r
}

// assess runs every probe family against e. It reports whether the
// endpoint could be assessed; an error ends the scan.
func (sc *scanner) assess(ctx context.Context, e *Endpoint) (bool, error) {
	u, _ := resolve(sc.target, e.Path) // validated
	res := EndpointResult{Method: e.Method, URL: u.String(), Source: e.source}
	defer func() { sc.report.Endpoints = append(sc.report.Endpoints, res) }()
	sc.progress("testing %s %s", e.Method, u.Redacted())

	st := &epState{e: e, u: u}
	before, verr := "", error(nil)
	if sc.cfg.Verify != nil {
		before, verr = sc.read(ctx)
		if fatal(verr) {
			return false, verr
		}
	}
	token := ""
	if e.TokenField != "" {
		t, err := sc.token(ctx, e, u, false)
		if err != nil {
			if fatal(err) {
				return false, err
			}
			res.Note = "no fresh token for the baseline: " + err.Error()
			return false, nil
		}
		token = t
	}
	br := build(e, u, baselineVariant(e), token, sc.victim, sc.target)
	base, err := sc.do(ctx, br)
	if err != nil {
		if fatal(err) {
			return false, err
		}
		res.Note = "baseline request failed: " + err.Error()
		return false, nil
	}
	if base.Status >= 400 {
		res.Note = fmt.Sprintf("the legitimate request was refused (%d), so forgeries cannot be judged; check the fields, token and session", base.Status)
		return false, nil
	}
	st.base = base
	res.Assessed, res.Oracle = true, OracleBaseline
	if sc.cfg.Verify != nil {
		after, err := sc.read(ctx)
		if fatal(err) {
			return true, err
		}
		switch {
		case verr != nil || err != nil:
			res.Note = "verification unusable, judged by the baseline: " + firstErr(verr, err).Error()
		case before == after:
			res.Note = "the verification value did not change with the legitimate request; judged by the baseline"
		default:
			st.sensitive, st.last = true, after
			res.Oracle = OracleVerification
		}
	}

	found := map[string]bool{}
	for _, f := range families(e) {
		if skip(f.rule, found, sc, st) {
			continue
		}
		for _, v := range f.variants {
			tok := ""
			if v.token == tokenForeign {
				t, err := sc.foreignToken(ctx, e, u)
				if err != nil {
					if fatal(err) {
						return true, err
					}
					sc.note("%s %s: token-unbound not tested: no token of another session: %v", e.Method, u.Redacted(), err)
					break
				}
				tok = t
			}
			r := build(e, u, v, tok, sc.victim, sc.target)
			var control *request
			if f.control != nil {
				control = controlRequest(u, *f.control, sc.victim, sc.target)
			}
			ok, evidence, err := sc.judge(ctx, st, r, control)
			if err != nil {
				if fatal(err) {
					return true, err
				}
				sc.note("%s %s: probe %q failed: %v", e.Method, u.Redacted(), v.label, err)
				continue
			}
			if ok {
				found[f.rule] = true
				sc.add(sc.finding(f.rule, st, v, r, evidence))
				break
			}
		}
	}

	if e.Method != "GET" {
		if err := sc.preflight(ctx, e, u); err != nil {
			return true, err
		}
	}
	switch {
	case !sc.hasClientCert():
	case len(br.Cookies) == 0:
		// The legitimate request itself carried no cookie.
		sc.add(sc.finding(RuleCertOnly, st, baselineVariant(e), br,
			fmt.Sprintf("the legitimate request carried no cookie at all and was answered %d", base.Status)))
	default:
		if err := sc.certOnly(ctx, st); err != nil {
			return true, err
		}
	}
	return true, nil
}

func (sc *scanner) hasClientCert() bool {
	c := sc.cfg.TLS
	return c != nil && (len(c.Certificates) > 0 || c.GetClientCertificate != nil)
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// skip says whether a family adds nothing given what was found already:
// once a plain cross-site forgery works, the origin variants and token
// tricks would only repeat it (one finding per endpoint and issue).
func skip(rule string, found map[string]bool, sc *scanner, st *epState) bool {
	noOriginCheck := found[RuleCrossSiteForgery] || found[RuleTextPlainJSON] || found[RuleLaxPostWindow]
	switch rule {
	case RuleLaxPostWindow:
		// Only meaningful when cookies without SameSite exist: otherwise
		// the request is the cross-site one again.
		return noOriginCheck || len(sc.victim.pick(cookiesLaxPOSTWindow)) == len(sc.victim.pick(cookiesCrossSitePOST))
	case RuleOriginNull, RuleLegacyOrigin, RuleSameSiteForgery, RuleTokenEmpty, RuleTokenUnbound:
		return noOriginCheck
	case RuleOriginScheme:
		return noOriginCheck || found[RuleLegacyOrigin] || sc.target.Scheme != "https"
	case RuleTokenNotRequired:
		// A forgery found already left the token out, and its evidence
		// says the token is not enforced.
		return noOriginCheck || found[RuleOriginNull] || found[RuleLegacyOrigin] ||
			found[RuleOriginScheme] || found[RuleSameSiteForgery]
	}
	return false
}

// judge sends a probe and decides whether it was accepted.
func (sc *scanner) judge(ctx context.Context, st *epState, r, control *request) (bool, string, error) {
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		return false, "", err
	}
	if st.sensitive {
		now, err := sc.read(ctx)
		if err != nil {
			return false, "", fmt.Errorf("verification after the probe: %w", err)
		}
		prev := st.last
		st.last = now
		if now != prev {
			return true, fmt.Sprintf("the verification value at %s %s changed from %s to %s (the probe answered %d)", sc.cfg.Verify.Path, sc.cfg.Verify.Pointer, prev, now, resp.Status), nil
		}
		return false, "", nil
	}
	if !accepted(st.base, resp) {
		return false, "", nil
	}
	if control != nil {
		cresp, err := sc.send.send(ctx, control)
		if err != nil {
			return false, "", err
		}
		if accepted(st.base, cresp) {
			// The page answers the same without the fields: the probe
			// proves nothing.
			return false, "", nil
		}
	}
	ev := fmt.Sprintf("the probe answered %d like the legitimate request", resp.Status)
	if loc := resp.Header.Get("Location"); resp.Status >= 300 && resp.Status < 400 && loc != "" {
		ev += fmt.Sprintf(" (redirect to %s)", resp.location())
	} else {
		ev += fmt.Sprintf(" (body %.0f%% similar)", 100*similarity(st.base.Body, resp.Body))
	}
	return true, ev, nil
}

func (sc *scanner) finding(rule string, st *epState, v variant, r *request, evidence string) Finding {
	conf, oracle := Inferred, OracleBaseline
	if st.sensitive {
		conf, oracle = Confirmed, OracleVerification
	}
	var names []string
	for _, c := range r.Cookies {
		names = append(names, c.Name)
	}
	carried := "the client certificate"
	if len(names) > 0 {
		carried += " and the cookies " + strings.Join(names, ", ")
	} else {
		carried += " and no cookie"
	}
	if r.Anonymous {
		carried = "no client certificate"
	}
	if rule == RuleLaxPostWindow {
		for _, c := range r.Cookies {
			if _, known := sc.setCookies[c.Name]; !known {
				// Cookies given on the command line: attributes unknown.
				conf = Inferred
				carried += " (attributes of " + c.Name + " unknown, assumed without SameSite)"
			}
		}
	}
	evidence = "A " + v.ctx.name + " carrying " + carried + " was accepted: " + evidence + "."
	if st.e.TokenField != "" && v.token == tokenNone && rule != RuleCertOnly {
		evidence += " The anti-CSRF token field " + st.e.TokenField + " was left out: the service does not enforce it."
	}
	return newFinding(rule, conf, oracle, Finding{
		Method:    st.e.Method,
		URL:       st.u.String(),
		Probe:     v.label,
		Evidence:  evidence,
		Reproduce: curlCommand(r, sc.cfg.CurlTLSArgs),
	})
}

// foreignToken is a valid token of another session: fetched with no
// cookie and without the victim's certificate, as an attacker fetches
// their own.
func (sc *scanner) foreignToken(ctx context.Context, e *Endpoint, u *url.URL) (string, error) {
	return sc.token(ctx, e, u, true)
}

// preflight checks whether a CORS preflight for e lets an arbitrary
// origin send it with credentials.
func (sc *scanner) preflight(ctx context.Context, e *Endpoint, u *url.URL) error {
	r := &request{Method: "OPTIONS", URL: cloneURL(u), Header: http.Header{}, Anonymous: true}
	r.Header.Set("User-Agent", userAgent)
	ctxPreflight.headers(r.Header, sc.target)
	r.Header.Set("Access-Control-Request-Method", e.Method)
	if len(e.JSON) > 0 {
		r.Header.Set("Access-Control-Request-Headers", "content-type")
	}
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		if fatal(err) {
			return err
		}
		// A listener that requires a certificate fails every preflight;
		// that closes CORS rather than opening it.
		return nil
	}
	if resp.Status < 300 && corsReflects(resp.Header, attackerOrigin) {
		sc.add(newFinding(RuleCORSCredentials, Confirmed, OracleObserved, Finding{
			Method: e.Method, URL: u.String(), Probe: ctxPreflight.name,
			Evidence: fmt.Sprintf("The preflight for %s from %s was allowed with credentials (Access-Control-Allow-Methods: %q, Access-Control-Allow-Headers: %q): any site can send this request with the user's cookies and certificate and read the answer.",
				e.Method, attackerOrigin, resp.Header.Get("Access-Control-Allow-Methods"), resp.Header.Get("Access-Control-Allow-Headers")),
			Reproduce: curlCommand(r, sc.cfg.CurlTLSArgs),
		}))
	}
	return nil
}

// certOnly checks whether the legitimate request works with the client
// certificate and no cookie.
func (sc *scanner) certOnly(ctx context.Context, st *epState) error {
	e := st.e
	token := ""
	if e.TokenField != "" {
		t, err := sc.token(ctx, e, st.u, false)
		if err != nil {
			if fatal(err) {
				return err
			}
			return nil
		}
		token = t
	}
	v := certOnlyVariant(e)
	r := build(e, st.u, v, token, sc.victim, sc.target)
	ok, ev, err := sc.judge(ctx, st, r, nil)
	if err != nil {
		if fatal(err) {
			return err
		}
		sc.note("%s %s: certificate-only check failed: %v", e.Method, st.u.Redacted(), err)
		return nil
	}
	if ok {
		sc.add(sc.finding(RuleCertOnly, st, v, r, ev))
	}
	return nil
}
