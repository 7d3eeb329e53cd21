package scan

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
)

// epState is what the oracle knows about one endpoint.
type epState struct {
	e    *Endpoint
	u    *url.URL
	base *response
	page []byte // the page the form came from, if the scan has it
	// sensitive: the verification request (or a discovered value)
	// changed with the baseline, so probes are judged by the state
	// change.
	sensitive bool
	last      string      // the verification value after the latest request
	disc      *discovered // the discovered oracle, when there is no Verify
	// blind, when set, is why an answer like the baseline's proves
	// nothing here: the null control (see nullControl) was answered
	// like the legitimate request, so the endpoint's answers do not
	// reflect the request. Baseline-judged acceptances are then
	// inconclusive, with this reason.
	blind string
}

// A verdict is what one probe's answer says.
type verdict int

const (
	verdictRefused verdict = iota
	verdictAccepted
	// verdictInconclusive: the answer proves nothing either way (the
	// reason comes with it).
	verdictInconclusive
)

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
	defer func() {
		if !res.Assessed && len(res.Families) == 0 {
			// Nothing was sent: every family says so, with the note.
			why := "the endpoint was not assessed: " + res.Note
			for _, f := range families(e, sc.target) {
				res.Families = append(res.Families, FamilyResult{Rule: f.rule, Outcome: OutcomeSkipped, Reason: why})
			}
			if preflightOnlyApplies(e) {
				res.Families = append(res.Families, FamilyResult{Rule: RulePreflightOnly, Outcome: OutcomeSkipped, Reason: why})
			}
			res.Families = append(res.Families, FamilyResult{Rule: RuleCertOnly, Outcome: OutcomeSkipped, Reason: why})
		}
		sc.report.Endpoints = append(sc.report.Endpoints, res)
	}()
	sc.progress("testing %s %s", e.Method, u.Redacted())

	st := &epState{e: e, u: u, page: sc.formPage(e)}
	before, verr := "", error(nil)
	var b1, b2 snapshot
	discover := sc.cfg.Verify == nil && len(sc.watch) > 0
	if sc.cfg.Verify != nil {
		before, verr = sc.read(ctx)
		if fatal(verr) {
			return false, verr
		}
	} else if discover {
		// Twice: what changes between two harmless reloads (timestamps,
		// tokens, nonces) can never be the oracle.
		var err error
		if b1, err = sc.snapshot(ctx, sc.watch); err != nil {
			return false, err
		}
		if b2, err = sc.snapshot(ctx, sc.watch); err != nil {
			return false, err
		}
	}
	token := ""
	if e.TokenField != "" {
		t, err := sc.token(ctx, e, u, ownerVictim)
		if err != nil {
			if fatal(err) {
				return false, err
			}
			res.Note = "no fresh token for the baseline: " + err.Error()
			return false, nil
		}
		token = t
		st.page = sc.formPage(e) // the token page, just fetched
	}
	br := build(sc.fresh(e), u, baselineVariant(e), token, sc.victim, sc.target)
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
	} else if discover {
		d, err := sc.discoverOracle(ctx, b1, b2)
		if err != nil {
			return true, err
		}
		if d != nil {
			st.sensitive, st.disc = true, d
			res.Oracle, res.Verification = OracleDiscovered, d.describe()
		} else {
			res.Note = "no value on the start pages or their JSON GETs changed with the legitimate request alone; judged by the baseline"
		}
	}
	if !st.sensitive {
		// The form shown again with an error (a duplicate name, a
		// missing field) is a refusal, whatever its 200 says.
		if again, marks := reshowsForm(base, e, u, st.page); again {
			res.Assessed, res.Oracle = false, ""
			res.Note = fmt.Sprintf("the legitimate request was answered %d with its form again and %d error mark(s) (a validation error such as a duplicate value), so it was refused and forgeries cannot be judged; check the fields", base.Status, marks)
			return false, nil
		}
		if err := sc.nullCheck(ctx, st, &res); err != nil {
			return true, err
		}
	}

	found := map[string]bool{}
	outcome := func(rule string, o Outcome, reason string) {
		res.Families = append(res.Families, FamilyResult{Rule: rule, Outcome: o, Reason: reason})
	}
	for _, f := range families(e, sc.target) {
		if why := skipReason(f.rule, found, sc, st); why != "" {
			outcome(f.rule, OutcomeSkipped, why)
			continue
		}
		o, why := OutcomeRefused, ""
		// An origin-null or origin-lookalike variant in the Lax+POST
		// window repeats the one before it when the window adds no
		// cookie.
		vs := f.variants
		if windowed(f.rule) && !sc.laxPOSTWindowDiffers() {
			vs = slices.DeleteFunc(slices.Clone(vs), func(v variant) bool { return v.ctx.cookies == cookiesLaxPOSTWindow })
		}
		if fw := sc.report.Framework; fw == nil || fw.Name != FrameworkRails {
			vs = slices.DeleteFunc(slices.Clone(vs), func(v variant) bool { return v.railsFormat != "" })
		}
		failed := 0
	variants:
		for _, v := range vs {
			tok := ""
			if v.token == tokenForeign {
				t, err := sc.foreignToken(ctx, e, u)
				if err != nil {
					if fatal(err) {
						return true, err
					}
					sc.note("%s %s: token-unbound not tested: no token of another session: %v", e.Method, u.Redacted(), err)
					o, why = OutcomeSkipped, "no token of another session: "+err.Error()
					break
				}
				tok = t
			}
			r := build(sc.fresh(e), u, v, tok, sc.victim, sc.target)
			var control *request
			if f.control != nil {
				control = controlRequest(u, *f.control, sc.victim, sc.target)
			}
			vd, evidence, err := sc.judge(ctx, st, r, control)
			if err != nil {
				if fatal(err) {
					return true, err
				}
				sc.note("%s %s: probe %q failed: %v", e.Method, u.Redacted(), v.label, err)
				failed++
				if failed == len(vs) {
					o, why = OutcomeInconclusive, fmt.Sprintf("the probe failed: %v", err)
				}
				continue
			}
			switch vd {
			case verdictAccepted:
				found[f.rule] = true
				sc.add(sc.finding(f.rule, st, v, r, evidence))
				o, why = OutcomeFound, ""
				break variants
			case verdictInconclusive:
				o, why = OutcomeInconclusive, evidence
			}
		}
		outcome(f.rule, o, why)
	}
	for _, sk := range notApplicable(e, sc.target) {
		outcome(sk.Rule, OutcomeSkipped, sk.Reason)
	}

	if e.Method != "GET" {
		if err := sc.corsWrite(ctx, st, res.Families, outcome); err != nil {
			return true, err
		}
	}
	switch {
	case !sc.hasClientCert():
		outcome(RuleCertOnly, OutcomeSkipped, "the scan presents no client certificate")
	case len(br.Cookies) == 0:
		// The legitimate request itself carried no cookie.
		sc.add(sc.finding(RuleCertOnly, st, baselineVariant(e), br,
			fmt.Sprintf("the legitimate request carried no cookie at all and was answered %d", base.Status)))
		outcome(RuleCertOnly, OutcomeFound, "")
	default:
		o, why, err := sc.certOnly(ctx, st)
		if err != nil {
			return true, err
		}
		outcome(RuleCertOnly, o, why)
	}
	return true, nil
}

// nullCheck sends the null control of a baseline-judged endpoint (no
// oracle reacted to its legitimate request) and, when it is answered like
// the legitimate request, sets st.blind: an answer like the baseline's
// then proves nothing, whatever the probe. Some services answer a
// refused POST exactly like an accepted one (WordPress's Screen Options
// on /wp-admin/ and media-new.php, phpMyAdmin's forms that drop a POST
// with a bad token and render the page anyway). A control with a wrong
// token alone would not tell them from a service that does not check
// its token (which accepts the wrong token too); a service that reads
// its input answers a submission with every field empty differently (an
// error, a validation page, the form again), and then nothing changes.
// Nor does it when the control fails (a note says so).
//
// The control is sent only when the legitimate request's answer is the
// form's page again (pageAgain): what a service that drops a POST
// renders, and where formBack cannot see a refusal. An answer of its own
// (a redirect, a "saved" page, a fragment) shows that the POST was
// taken; a service that gives it to an empty submission as well ignores
// its input, and its forgeries are judged as before.
func (sc *scanner) nullCheck(ctx context.Context, st *epState, res *EndpointResult) error {
	if !pageAgain(st) {
		return nil
	}
	r := nullControl(st.e, st.u, sc.victim, sc.target)
	if r == nil {
		return nil
	}
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		if fatal(err) {
			return err
		}
		sc.note("%s %s: null control failed: %v", st.e.Method, st.u.Redacted(), err)
		return nil
	}
	if !answeredLikeBaseline(st, resp) {
		return nil
	}
	st.blind = fmt.Sprintf("so did the null control, the same request with every field (the token's included) sent empty (%d, body %.0f%% similar): this endpoint answers alike whatever it is sent, so its answer cannot tell an accepted request from a refused one; give a verification request (--verify-url, --verify-pointer) to decide", resp.Status, 100*similarity(st.base.Body, resp.Body))
	const blindNote = "the null control (every field empty) was answered like the legitimate request, so answers like the baseline's prove nothing here"
	if res.Note == "" {
		res.Note = blindNote
	} else {
		res.Note += "; " + blindNote
	}
	return nil
}

// answeredLikeBaseline reports whether resp is answered as the
// legitimate request was (accepted) and is not the form shown again as a
// refusal (reshowsForm, formBack): what a baseline-judged probe must be
// to count, and what makes the null control prove the endpoint blind.
func answeredLikeBaseline(st *epState, resp *response) bool {
	if !accepted(st.base, resp) {
		return false
	}
	again, _ := reshowsForm(resp, st.e, st.u, st.page)
	return !again && !formBack(st, resp)
}

// pageAgain reports whether the legitimate request's answer is the
// page the form came from again: a 2xx that shows the endpoint's form
// and, when the scan has that page, is alike it.
func pageAgain(st *epState) bool {
	if st.base.Status < 200 || st.base.Status >= 300 {
		return false
	}
	if _, ok := shownForm(st.base.Body, st.e, st.u); !ok {
		return false
	}
	return st.page == nil || similarity(st.page, st.base.Body) >= similarityThreshold
}

// notApplicable lists the families that e's shape (or target t) rules
// out, with why, so that a report never drops them silently.
func notApplicable(e *Endpoint, t *url.URL) []FamilyResult {
	if e.Method != "POST" {
		return nil
	}
	var out []FamilyResult
	if e.TokenField == "" {
		why := "the form has no anti-CSRF token field (none recognised by name; give its name as the endpoint's token field if it has one)"
		if len(e.JSON) > 0 {
			why = "a JSON body carries no form token"
		}
		for _, r := range []string{RuleTokenNotRequired, RuleTokenEmpty, RuleTokenUnbound} {
			out = append(out, FamilyResult{Rule: r, Outcome: OutcomeSkipped, Reason: why})
		}
	}
	if len(e.JSON) > 0 && flatJSON(e.JSON) == nil {
		out = append(out, FamilyResult{Rule: RuleMethodDowngrade, Outcome: OutcomeSkipped,
			Reason: "the JSON body is not a flat object of scalars, so it has no query-string form"})
	}
	return out
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

// skipReason says why a family adds nothing given what was found
// already ("" if it runs): once a plain cross-site forgery works, the
// origin variants and token tricks would only repeat it (one finding per
// endpoint and issue).
func skipReason(rule string, found map[string]bool, sc *scanner, st *epState) string {
	covered := func(rules ...string) string {
		for _, r := range rules {
			if found[r] {
				return "covered by the " + r + " finding on this endpoint"
			}
		}
		return ""
	}
	noOriginCheck := covered(RuleCrossSiteForgery, RuleTextPlainJSON, RuleLaxPostWindow)
	switch rule {
	case RuleCrossSiteForgery:
		// A JSON endpoint's form-field family, after its text/plain one.
		return covered(RuleTextPlainJSON)
	case RuleLaxPostWindow:
		if noOriginCheck != "" {
			return noOriginCheck
		}
		// Only meaningful when cookies without SameSite exist: otherwise
		// the request is the cross-site one again.
		if !sc.laxPOSTWindowDiffers() {
			return "no cookie without a SameSite attribute, so the probe would repeat the cross-site one"
		}
	case RuleOriginNull, RuleOriginLookalike, RuleLegacyOrigin, RuleSameSiteForgery, RuleTokenEmpty, RuleTokenUnbound:
		return noOriginCheck
	case RuleOriginScheme:
		if c := covered(RuleCrossSiteForgery, RuleTextPlainJSON, RuleLaxPostWindow, RuleLegacyOrigin); c != "" {
			return c
		}
		if sc.target.Scheme != "https" {
			return "the target is not https"
		}
	case RuleTokenNotRequired:
		// A forgery found already left the token out, and its evidence
		// says the token is not enforced.
		return covered(RuleCrossSiteForgery, RuleTextPlainJSON, RuleLaxPostWindow,
			RuleOriginNull, RuleOriginLookalike, RuleLegacyOrigin, RuleOriginScheme, RuleSameSiteForgery)
	}
	return ""
}

// windowed says whether rule's family also sends its pages' forgeries
// within the Lax+POST window (families, after the window-less ones).
func windowed(rule string) bool {
	return rule == RuleOriginNull || rule == RuleOriginLookalike
}

// laxPOSTWindowDiffers reports whether the victim holds cookies that only
// the Lax+POST window sends cross-site (no SameSite attribute).
func (sc *scanner) laxPOSTWindowDiffers() bool {
	return len(sc.victim.pick(cookiesLaxPOSTWindow)) != len(sc.victim.pick(cookiesCrossSitePOST))
}

// judge sends a probe and decides whether it was accepted. With a
// control (GET downgrades), a baseline-judged acceptance counts only when
// the control is refused, or when the probe's answer is the POST's
// success and not the form page (see getLikeSuccess); otherwise it is
// inconclusive, and the evidence says why.
func (sc *scanner) judge(ctx context.Context, st *epState, r, control *request) (verdict, string, error) {
	resp, err := sc.send.send(ctx, r)
	if err != nil {
		if st.sensitive && !fatal(err) {
			// The service may have acted on the request before its
			// answer was lost (a connection cut, a timeout): the oracle
			// still decides, and is read again, or the change would be
			// put on the next probe.
			if vd, ev, serr := sc.judgeByState(ctx, st, nil); serr == nil && vd == verdictAccepted {
				return vd, ev, nil
			}
		}
		return verdictRefused, "", err
	}
	if st.sensitive {
		return sc.judgeByState(ctx, st, resp)
	}
	if !answeredLikeBaseline(st, resp) {
		return verdictRefused, "", nil
	}
	if st.blind != "" {
		// Garbage got this answer too: it says nothing about the probe
		// (the method-downgrade control would not either).
		return verdictInconclusive, fmt.Sprintf("the probe answered %d like the legitimate request, but %s", resp.Status, st.blind), nil
	}
	if control != nil {
		cresp, err := sc.send.send(ctx, control)
		if err != nil {
			return verdictRefused, "", err
		}
		if accepted(st.base, cresp) {
			if ev, ok := getLikeSuccess(st, resp); ok {
				return verdictAccepted, ev, nil
			}
			// The page answers the same without the fields: the probe
			// alone proves nothing.
			return verdictInconclusive, fmt.Sprintf("the GET answered %d like the legitimate request, but so did the same GET without the fields, and the answer cannot be told from the form page (or is a redirect): a verification request would decide", resp.Status), nil
		}
	}
	ev := fmt.Sprintf("the probe answered %d like the legitimate request", resp.Status)
	if loc := resp.Header.Get("Location"); resp.Status >= 300 && resp.Status < 400 && loc != "" {
		ev += fmt.Sprintf(" (redirect to %s)", resp.location())
	} else {
		ev += fmt.Sprintf(" (body %.0f%% similar)", 100*similarity(st.base.Body, resp.Body))
	}
	return verdictAccepted, ev, nil
}

// getLikeSuccess tells a GET whose answer is the POST's success from a
// page that answers the same whatever the parameters: both are 2xx (a
// redirect, a 404 or 405 and a login page never count), the GET's body
// is like the success body, and neither is like the page the form came
// from nor shows the form. It is the evidence for an inferred
// method-downgrade when no oracle decides.
func getLikeSuccess(st *epState, resp *response) (string, bool) {
	if st.page == nil || resp.Status < 200 || resp.Status >= 300 || st.base.Status < 200 || st.base.Status >= 300 {
		return "", false
	}
	baseSim := similarity(st.base.Body, resp.Body)
	pageBase, pageProbe := similarity(st.page, st.base.Body), similarity(st.page, resp.Body)
	if baseSim < similarityThreshold || pageBase >= similarityThreshold || pageProbe >= similarityThreshold {
		return "", false
	}
	for _, f := range parseForms(resp.Body, st.u) {
		if f.Method == st.e.Method && f.Action.Path == st.u.Path {
			return "", false // the form page, or a page that holds it
		}
	}
	if hasPasswordForm(resp.Body, st.u) {
		return "", false // a login page
	}
	return fmt.Sprintf("the GET answered %d with the body of the POST's success (%.0f%% similar), not the form page (%.0f%% similar); the same GET without the fields answered alike, so the endpoint seems to change state on any GET", resp.Status, 100*baseSim, 100*pageProbe), true
}

// judgeByState judges a probe by the verification value (the user's,
// or the discovered one). resp is nil when the probe's answer was lost.
func (sc *scanner) judgeByState(ctx context.Context, st *epState, resp *response) (verdict, string, error) {
	answered := "the probe's answer was lost"
	if resp != nil {
		answered = fmt.Sprintf("the probe answered %d", resp.Status)
	}
	if st.disc != nil {
		ev, changed, err := sc.discoveredChanged(ctx, st.disc)
		if err != nil {
			return verdictRefused, "", fmt.Errorf("discovered verification after the probe: %w", err)
		}
		if changed {
			return verdictAccepted, ev + " (" + answered + ")", nil
		}
		return verdictRefused, "", nil
	}
	now, err := sc.read(ctx)
	if err != nil {
		return verdictRefused, "", fmt.Errorf("verification after the probe: %w", err)
	}
	prev := st.last
	st.last = now
	if now != prev {
		return verdictAccepted, fmt.Sprintf("the verification value at %s %s changed from %s to %s (%s)", sc.cfg.Verify.Path, sc.cfg.Verify.Pointer, prev, now, answered), nil
	}
	return verdictRefused, "", nil
}

func (sc *scanner) finding(rule string, st *epState, v variant, r *request, evidence string) Finding {
	conf, oracle := Inferred, OracleBaseline
	switch {
	case st.disc != nil:
		conf, oracle = Confirmed, OracleDiscovered
	case st.sensitive:
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
	if rule == RuleLaxPostWindow || windowed(rule) && v.ctx.cookies == cookiesLaxPOSTWindow {
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
		// Inferred: the answer only looked like the baseline's; whether
		// the forgery took effect, and so whether the token is checked,
		// is not known.
		if conf == Confirmed {
			evidence += " The anti-CSRF token field " + st.e.TokenField + " was left out: the service does not enforce it."
		} else {
			evidence += " The anti-CSRF token field " + st.e.TokenField + " was left out, and the answer looked like the baseline's: check whether the service enforces it."
		}
	}
	if len(st.e.Headers) > 0 && !v.legit {
		names := make([]string, 0, len(st.e.Headers))
		for k := range st.e.Headers {
			names = append(names, http.CanonicalHeaderKey(k))
		}
		sort.Strings(names)
		evidence += " The page's own request sends the header " + strings.Join(names, ", ") + ", which a page on another site cannot set without a CORS preflight; the forgery went without it: the service does not require it."
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
	return sc.token(ctx, e, u, ownerAttacker)
}

// A preflightAnswer is a CORS preflight that let a page on another
// origin send an endpoint's request with credentials.
type preflightAnswer struct {
	origin string // the Origin it allowed: attackerOrigin or "null"
	req    *request
	resp   *response
}

// preflightRequest is the CORS preflight a browser sends before e's
// request from origin o (a JSON body's Content-Type, or a method other
// than POST, needs one): no cookie and no client certificate.
func preflightRequest(e *Endpoint, u *url.URL, o string, target *url.URL) *request {
	r := &request{Method: "OPTIONS", URL: cloneURL(u), Header: http.Header{}, Anonymous: true}
	r.Header.Set("User-Agent", userAgent)
	ctxPreflight.headers(r.Header, target)
	r.Header.Set("Origin", o)
	r.Header.Set("Access-Control-Request-Method", e.Method)
	if len(e.JSON) > 0 {
		r.Header.Set("Access-Control-Request-Headers", "content-type")
	}
	return r
}

// preflight sends e's CORS preflight from an arbitrary origin and from
// Origin: null (a sandboxed iframe), and returns the first answer that
// lets a credentialed request through (preflightAllows), or nil.
func (sc *scanner) preflight(ctx context.Context, e *Endpoint, u *url.URL) (*preflightAnswer, error) {
	for _, o := range []string{attackerOrigin, "null"} {
		r := preflightRequest(e, u, o, sc.target)
		resp, err := sc.send.send(ctx, r)
		if err != nil {
			if fatal(err) {
				return nil, err
			}
			// A listener that requires a certificate fails every
			// preflight; that closes CORS rather than opening it.
			return nil, nil
		}
		if preflightAllows(resp, o, r) {
			return &preflightAnswer{origin: o, req: r, resp: resp}, nil
		}
	}
	return nil, nil
}

// preflightAllows reports whether resp, the answer to preflight r from
// origin o, lets the browser send the request with credentials, by the
// Fetch standard's CORS check: an ok status, Access-Control-Allow-Origin
// equal to o with Access-Control-Allow-Credentials: true (never "*"),
// the method safelisted or listed (a "*" does not count with
// credentials), and each requested header listed (names in any case; "*"
// does not count either).
func preflightAllows(resp *response, o string, r *request) bool {
	if resp.Status < 200 || resp.Status >= 300 || !corsReflects(resp.Header, o) {
		return false
	}
	list := func(name string) []string {
		var out []string
		for _, v := range resp.Header.Values(name) {
			for _, item := range strings.Split(v, ",") {
				if item = strings.TrimSpace(item); item != "" {
					out = append(out, item)
				}
			}
		}
		return out
	}
	if m := r.Header.Get("Access-Control-Request-Method"); m != "GET" && m != "HEAD" && m != "POST" && !slices.Contains(list("Access-Control-Allow-Methods"), m) {
		return false
	}
	allowed := list("Access-Control-Allow-Headers")
	for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ",") {
		if h = strings.TrimSpace(h); h != "" && !slices.ContainsFunc(allowed, func(a string) bool { return strings.EqualFold(a, h) }) {
			return false
		}
	}
	return true
}

// preflightOnlyApplies says whether e gets the preflight-only family: a
// JSON body, whose Content-Type needs a preflight, sent by a method other
// than GET.
func preflightOnlyApplies(e *Endpoint) bool {
	return len(e.JSON) > 0 && e.Method != "GET" && e.Method != methodWS
}

// preflightOnlyVariant is e's request as a page on origin o sends it
// after a preflight that allows it: the JSON as application/json, with
// credentials, without the page's own headers.
func preflightOnlyVariant(e *Endpoint, o string) variant {
	return variant{label: "cross-site CORS fetch with credentials from " + o + ", Content-Type: application/json (a browser sends it only after a preflight that allows it)",
		ctx: ctxCORSWriteFrom(o), body: bodyNative, token: tokenNone}
}

// corsWrite checks e's CORS preflight and, for a JSON endpoint that no
// forgery reached (fs, the families so far), whether the same request
// from another site is accepted: a browser sends that one only after a
// preflight that allows it. Accepted with an open preflight, the
// cors-credentials finding says that the preflight opens the endpoint;
// with a closed one, preflight-only (info) says that the endpoint rests
// on its Content-Type check and closed CORS alone.
func (sc *scanner) corsWrite(ctx context.Context, st *epState, fs []FamilyResult, outcome func(string, Outcome, string)) error {
	e, u := st.e, st.u
	pf, err := sc.preflight(ctx, e, u)
	if err != nil {
		return err
	}
	var extra string // what the request itself showed, for the CORS finding
	defer func() {
		if pf != nil {
			sc.add(newFinding(RuleCORSCredentials, Confirmed, OracleObserved, Finding{
				Method: e.Method, URL: u.String(), Probe: ctxPreflight.name + " (Origin: " + pf.origin + ")",
				Evidence: fmt.Sprintf("The preflight for %s from %s was allowed with credentials (Access-Control-Allow-Origin: %q, Access-Control-Allow-Methods: %q, Access-Control-Allow-Headers: %q): any site can send this request with the user's cookies and certificate and read the answer.",
					e.Method, pf.origin, pf.resp.Header.Get("Access-Control-Allow-Origin"), pf.resp.Header.Get("Access-Control-Allow-Methods"), pf.resp.Header.Get("Access-Control-Allow-Headers")) + extra,
				Reproduce: curlCommand(pf.req, sc.cfg.CurlTLSArgs),
			}))
		}
	}()
	if !preflightOnlyApplies(e) {
		return nil
	}
	for _, f := range fs {
		if f.Outcome == OutcomeFound {
			outcome(RulePreflightOnly, OutcomeSkipped, "covered by the "+f.Rule+" finding on this endpoint: a request that needs no preflight was accepted")
			return nil
		}
	}
	o := attackerOrigin
	if pf != nil {
		o = pf.origin
	}
	v := preflightOnlyVariant(e, o)
	r := build(sc.fresh(e), u, v, "", sc.victim, sc.target)
	vd, ev, err := sc.judge(ctx, st, r, nil)
	if err != nil {
		if fatal(err) {
			return err
		}
		sc.note("%s %s: probe %q failed: %v", e.Method, u.Redacted(), v.label, err)
		outcome(RulePreflightOnly, OutcomeInconclusive, "the probe failed: "+err.Error())
		return nil
	}
	check, needs := "its Content-Type check", "its Content-Type, application/json, is not CORS-safelisted"
	if e.Method != "POST" {
		check, needs = "its method and Content-Type", "its method, "+e.Method+", and its Content-Type, application/json, are not CORS-safelisted"
	}
	switch {
	case vd == verdictInconclusive:
		outcome(RulePreflightOnly, OutcomeInconclusive, ev)
	case vd == verdictRefused:
		if pf != nil {
			extra = " The request itself, sent from that origin as the preflight allows (a " + v.ctx.name + ", Content-Type: application/json), was refused: the endpoint has a defence besides the preflight."
		}
		outcome(RulePreflightOnly, OutcomeRefused, "")
	case pf != nil:
		f := sc.finding(RulePreflightOnly, st, v, r, ev)
		extra = " The request it lets through was then sent. " + f.Evidence + " Every cross-site form and no-cors fetch was refused, so " + check + " (" + needs + ", so a browser preflights the request) was this endpoint's only defence against other sites, and this preflight opens it."
		outcome(RulePreflightOnly, OutcomeSkipped, "covered by the "+RuleCORSCredentials+" finding on this endpoint: its preflight allows the request, and the request was accepted")
	default:
		f := sc.finding(RulePreflightOnly, st, v, r, ev)
		f.Evidence += fmt.Sprintf(" A browser sends it only after a CORS preflight that allows it (%s), and this endpoint's preflight from %s did not allow it with credentials; every cross-site form and no-cors fetch was refused. So the endpoint is not exposed, but its protection rests on %s and on CORS staying closed: a preflight that allows another origin with credentials, or a Content-Type check that comes to accept text/plain, opens it.", needs, attackerOrigin, check)
		sc.add(f)
		outcome(RulePreflightOnly, OutcomeFound, "")
	}
	return nil
}

// certOnly checks whether the legitimate request works with the client
// certificate and no cookie, and returns the family's outcome.
func (sc *scanner) certOnly(ctx context.Context, st *epState) (Outcome, string, error) {
	e := st.e
	token := ""
	if e.TokenField != "" {
		t, err := sc.token(ctx, e, st.u, ownerVictim)
		if err != nil {
			if fatal(err) {
				return "", "", err
			}
			return OutcomeSkipped, "no fresh token: " + err.Error(), nil
		}
		token = t
	}
	v := certOnlyVariant(e)
	r := build(sc.fresh(e), st.u, v, token, sc.victim, sc.target)
	vd, ev, err := sc.judge(ctx, st, r, nil)
	if err != nil {
		if fatal(err) {
			return "", "", err
		}
		sc.note("%s %s: certificate-only check failed: %v", e.Method, st.u.Redacted(), err)
		return OutcomeInconclusive, "the probe failed: " + err.Error(), nil
	}
	switch vd {
	case verdictAccepted:
		sc.add(sc.finding(RuleCertOnly, st, v, r, ev))
		return OutcomeFound, "", nil
	case verdictInconclusive:
		return OutcomeInconclusive, ev, nil
	}
	return OutcomeRefused, "", nil
}
