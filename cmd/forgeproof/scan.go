package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/atomicfile"
	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/internal/regfile"
	"github.com/forgeproof/forgeproof/internal/scanbrowser"
	"github.com/forgeproof/forgeproof/scan"
	"software.sslmate.com/src/go-pkcs12"
)

const scanUsage = `Usage: forgeproof scan --target URL [--cert FILE --key FILE | --p12 FILE]
                       [--ca FILE | --insecure-skip-verify] [flags]

Audits a live service for CSRF exposure: presents the client certificate
as a browser would, sends the legitimate request of each state-changing
endpoint and then only forgeries a real browser can be made to send, and
reports what the service accepted. It sends real state-changing requests:
use a test account.

Endpoints come from --endpoint, from --endpoints-file FILE (YAML or JSON) and
from the forms on the start pages and the same-origin pages they link to,
--crawl-depth links deep (unless --no-discover). Discovery never fetches,
tests or clicks a URL that matches --exclude or looks like a logout, and
never follows a link that names an action (delete, remove, …). With
--browser, the pages are also loaded in headless Chromium holding the
client certificate: the scan clicks their buttons and records the
state-changing requests their scripts send (held back, never sent by the
browser), and tests them as endpoints.

Exit status: 0 no finding at or above --fail-on, 1 findings at or above
it, 2 usage error, 3 the scan could not run (unreachable target, failed
mTLS handshake, no endpoint that accepted its legitimate request).

--login logs in first as a browser does: it fetches the page that holds the
login form (--login-page, or found), keeps the cookies it sets, and submits
that form with its hidden fields (an anti-CSRF token among them) and the
--login-data fields over them. A login that sets no new session cookie
counts only if the page that held the form no longer shows it.

--attacker-login-data logs the attacker (--attacker-cert, or no certificate)
in through the same login form, so that token-unbound can fetch the
attacker's own token on pages that only logged-in users see.

Without --verify-url, the scan re-reads the start pages and the JSON GETs
their scripts name (with --browser: send) before and after each
legitimate request: a value that
changed with it, and not with a reload, confirms findings ("verification
(discovered)"). Findings carry their fix, for the framework the scan
recognised (Go, Django, Rails, Express) when it did.

The PKCS#12 password is read from $FORGEPROOF_P12_PASSWORD (empty if unset);
the login fields may come from $FORGEPROOF_LOGIN_DATA instead of --login-data,
the attacker's from $FORGEPROOF_ATTACKER_LOGIN_DATA.

Example:

  forgeproof scan --target https://localhost:8443/ \
    --cert client.pem --key client-key.pem --ca ca.pem \
    --login /login --login-data 'username=alice&password=…' \
    --endpoint 'POST /transfer to=mallory&amount=1' --token-field csrf_token \
    --verify-url /api/balance --verify-pointer /balance --format sarif --output scan.sarif`

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ", ") }
func (l *stringList) Set(s string) error { *l = append(*l, s); return nil }

type scanFlags struct {
	target, cert, key, p12, ca         string
	attackerCert, attackerKey          string
	insecure                           bool
	cookies, endpoints, starts         stringList
	excludes                           stringList
	crawlDepth, crawlPages             int
	endpointsFile, tokenField, tokPage string
	login, loginData, loginPage        string
	attackerLoginData                  string
	verifyURL, verifyPointer           string
	noDiscover, dryRun, quiet          bool
	browser                            bool
	format, output, failOn             string
	rate                               float64
	timeout                            time.Duration
	maxEndpoints, maxRequests          int
}

func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("scan", scanUsage, stdout)
	var f scanFlags
	fs.StringVar(&f.target, "target", "", "the service's start page `URL` (required)")
	fs.StringVar(&f.cert, "cert", "", "client certificate PEM `file` (with --key)")
	fs.StringVar(&f.key, "key", "", "client private key PEM `file`")
	fs.StringVar(&f.p12, "p12", "", "client certificate and key as PKCS#12 `file` (instead of --cert/--key)")
	fs.StringVar(&f.ca, "ca", "", "PEM `file` of the CA certificates that verify the server (default: system roots)")
	fs.BoolVar(&f.insecure, "insecure-skip-verify", false, "do not verify the server's certificate (DANGEROUS: anyone on the path can answer)")
	fs.StringVar(&f.attackerCert, "attacker-cert", "", "another client certificate PEM `file` (with --attacker-key) to fetch the attacker's own token (default: none)")
	fs.StringVar(&f.attackerKey, "attacker-key", "", "its private key PEM `file`")
	fs.Var(&f.cookies, "cookie", "session cookie `NAME=VALUE` to send as the victim's (repeatable)")
	fs.StringVar(&f.login, "login", "", "login form action `path`: log in first, submitting that form as a browser does")
	fs.StringVar(&f.loginPage, "login-page", "", "`path` of the page that holds the login form (default: found on the target, where it redirects, the --login path and the start pages)")
	fs.StringVar(&f.loginData, "login-data", "", "login form `fields`, urlencoded (username=alice&password=…); default $FORGEPROOF_LOGIN_DATA")
	fs.StringVar(&f.attackerLoginData, "attacker-login-data", "", "log the attacker in too, through the same login form, with these `fields` (for token-unbound on pages only logged-in users see); default $FORGEPROOF_ATTACKER_LOGIN_DATA")
	fs.Var(&f.endpoints, "endpoint", "state-changing endpoint `\"METHOD PATH [BODY]\"`; BODY urlencoded or JSON; \"WS PATH\" for a WebSocket (repeatable)")
	fs.StringVar(&f.tokenField, "token-field", "", "anti-CSRF token form `field` of the --endpoint forms")
	fs.StringVar(&f.tokPage, "token-page", "", "`path` of the page whose form holds a fresh token (default: the target)")
	fs.StringVar(&f.endpointsFile, "endpoints-file", "", "YAML or JSON `file` of endpoints, login, verify and start pages")
	fs.Var(&f.starts, "start", "start page `path` to discover forms on (repeatable; default: the target)")
	fs.BoolVar(&f.noDiscover, "no-discover", false, "do not discover forms on the start pages")
	fs.BoolVar(&f.browser, "browser", false, "also load the pages in headless Chromium holding the client certificate and test the requests their scripts send (needs chromium, libnss3-tools and --ca)")
	fs.IntVar(&f.crawlDepth, "crawl-depth", scan.DefaultCrawlDepth, "follow same-origin links `n` deep from the start pages to find forms (0: the start pages only)")
	fs.IntVar(&f.crawlPages, "crawl-pages", scan.DefaultCrawlPages, "fetch at most `n` pages for discovery, start pages included")
	fs.Var(&f.excludes, "exclude", "never fetch, test or click URLs matching this `regexp` (repeatable; logout URLs always are)")
	fs.StringVar(&f.verifyURL, "verify-url", "", "`path` of a JSON GET whose value changes with the state (confirms findings)")
	fs.StringVar(&f.verifyPointer, "verify-pointer", "", "JSON `pointer` (RFC 6901) into the --verify-url answer, e.g. /balance")
	fs.StringVar(&f.format, "format", "text", "output `format`: text, json or sarif")
	fs.StringVar(&f.output, "output", "", "write the report to `file` instead of stdout")
	fs.StringVar(&f.failOn, "fail-on", "medium", "exit 1 on findings at or above this `severity`: info, low, medium, high, critical, or none")
	fs.BoolVar(&f.dryRun, "dry-run", false, "print the requests the scan would send, as curl commands, and send nothing")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress on stderr")
	fs.Float64Var(&f.rate, "rate", scan.DefaultRate, "at most `n` requests per second")
	fs.DurationVar(&f.timeout, "timeout", scan.DefaultTimeout, "timeout of each request")
	fs.IntVar(&f.maxEndpoints, "max-endpoints", scan.DefaultMaxEndpoints, "at most `n` discovered endpoints")
	fs.IntVar(&f.maxRequests, "max-requests", scan.DefaultMaxRequests, "at most `n` requests in all")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	cfg, failOn, err := f.config()
	if err != nil {
		return err
	}
	if err := checkOutput(f.output); err != nil {
		return err
	}

	if f.dryRun {
		plan, err := scan.Plan(cfg)
		if err != nil {
			return usageErrorf("scan: %v", unwrapScan(err))
		}
		return writeOutput(f.output, stdout, func(w io.Writer) error {
			if f.format == "json" {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(plan)
			}
			for _, p := range plan {
				fmt.Fprintf(w, "# %s\n%s\n", p.Purpose, p.Curl)
			}
			return nil
		})
	}

	if f.browser {
		b, err := f.explorer(cfg.TLS, stderr)
		if err != nil {
			return err
		}
		cfg.Browser = b
	}
	if !f.quiet {
		cfg.Progress = func(msg string) { fmt.Fprintf(stderr, "forgeproof scan: %s\n", msg) }
	}
	report, err := scan.Run(ctx, cfg)
	if err != nil {
		var se *scan.Error
		if errors.As(err, &se) && se.Reason == scan.ReasonConfig {
			return usageErrorf("scan: %v", se.Err)
		}
		if report != nil && len(report.Endpoints) > 0 {
			// What was learnt so far, for the person who reads stderr;
			// stdout gets no report, so nothing mistakes it for a result.
			scan.WriteText(stderr, report, scan.TextOptions{})
		}
		return &exitError{3, fmt.Errorf("scan could not run: %v", unwrapScan(err))}
	}
	err = writeOutput(f.output, stdout, func(w io.Writer) error {
		switch f.format {
		case "json":
			return scan.WriteJSON(w, report)
		case "sarif":
			return scan.WriteSARIF(w, report, version())
		}
		return scan.WriteText(w, report, scan.TextOptions{Color: f.output == "" && colorOK(stdout)})
	})
	if err != nil {
		return &exitError{3, fmt.Errorf("writing the report: %v", err)}
	}
	if failOn >= 0 {
		if n := report.AtLeast(scan.Severity(failOn)); n > 0 {
			return &exitError{1, fmt.Errorf("%d finding(s) at or above %s", n, scan.Severity(failOn))}
		}
	}
	return nil
}

// unwrapScan drops the "scan: reason:" prefix for the CLI's message,
// keeping the reason code visible.
func unwrapScan(err error) error {
	var se *scan.Error
	if errors.As(err, &se) {
		return fmt.Errorf("%s (reason: %s)", se.Err, se.Reason)
	}
	return err
}

// config turns the flags into a scan.Config; mistakes are usage errors.
func (f *scanFlags) config() (scan.Config, int, error) {
	var cfg scan.Config
	if f.target == "" {
		return cfg, 0, usageErrorf("scan: --target is required")
	}
	switch f.format {
	case "text", "json", "sarif":
	default:
		return cfg, 0, usageErrorf("scan: invalid --format %q: want text, json or sarif", f.format)
	}
	failOn := -1
	if !strings.EqualFold(f.failOn, "none") {
		s, err := scan.ParseSeverity(f.failOn)
		if err != nil {
			return cfg, 0, usageErrorf("scan: invalid --fail-on %q: want info, low, medium, high, critical or none", f.failOn)
		}
		failOn = int(s)
	}
	if f.rate <= 0 || f.timeout <= 0 || f.maxEndpoints <= 0 || f.maxRequests <= 0 || f.crawlPages <= 0 {
		return cfg, 0, usageErrorf("scan: --rate, --timeout, --max-endpoints, --max-requests and --crawl-pages must be positive")
	}
	if f.crawlDepth < 0 {
		return cfg, 0, usageErrorf("scan: --crawl-depth must not be negative")
	}
	crawlDepth := f.crawlDepth
	if crawlDepth == 0 {
		crawlDepth = -1 // the start pages only (zero is the default in scan.Config)
	}
	tlsCfg, curlArgs, err := f.tlsConfig()
	if err != nil {
		return cfg, 0, err
	}
	var attackerTLS *tls.Config
	switch {
	case (f.attackerCert == "") != (f.attackerKey == ""):
		return cfg, 0, usageErrorf("scan: --attacker-cert and --attacker-key go together")
	case f.attackerCert != "":
		c, err := tls.LoadX509KeyPair(f.attackerCert, f.attackerKey)
		if err != nil {
			return cfg, 0, usageErrorf("scan: attacker certificate %q / key %q: %v", f.attackerCert, f.attackerKey, err)
		}
		attackerTLS = tlsCfg.Clone()
		attackerTLS.Certificates = []tls.Certificate{c}
	}
	cfg = scan.Config{
		Target: f.target, TLS: tlsCfg, AttackerTLS: attackerTLS, CurlTLSArgs: curlArgs,
		Discover: !f.noDiscover, StartPages: f.starts, Exclude: f.excludes,
		CrawlDepth: crawlDepth, CrawlPages: f.crawlPages,
		Rate: f.rate, Timeout: f.timeout, MaxEndpoints: f.maxEndpoints, MaxRequests: f.maxRequests,
	}
	for _, c := range f.cookies {
		name, value, ok := strings.Cut(c, "=")
		if !ok || name == "" || !validCookieName(name) {
			return cfg, 0, usageErrorf("scan: invalid --cookie %q: want NAME=VALUE", redactCookie(c))
		}
		cfg.Cookies = append(cfg.Cookies, &http.Cookie{Name: name, Value: value})
	}
	if f.endpointsFile != "" {
		data, err := os.ReadFile(f.endpointsFile)
		if err != nil {
			return cfg, 0, usageErrorf("scan: --endpoints-file: %v", err)
		}
		file, err := scan.ParseFile(f.endpointsFile, data)
		if err != nil {
			return cfg, 0, usageErrorf("scan: %v", err)
		}
		cfg.Endpoints = append(cfg.Endpoints, file.Endpoints...)
		cfg.Login, cfg.Verify, cfg.AttackerLogin = file.Login, file.Verify, file.AttackerLogin
		cfg.StartPages = append(cfg.StartPages, file.StartPages...)
	}
	for _, s := range f.endpoints {
		e, err := scan.ParseEndpoint(s)
		if err != nil {
			return cfg, 0, usageErrorf("scan: --endpoint: %v", err)
		}
		if len(e.JSON) == 0 && e.Method != "WS" {
			e.TokenField, e.TokenPage = f.tokenField, f.tokPage
		}
		cfg.Endpoints = append(cfg.Endpoints, e)
	}
	if (f.tokenField == "") && f.tokPage != "" {
		return cfg, 0, usageErrorf("scan: --token-page needs --token-field")
	}
	loginData := f.loginData
	if loginData == "" {
		// From the environment, to keep the password out of the process list.
		loginData = os.Getenv("FORGEPROOF_LOGIN_DATA")
	}
	if f.login != "" || f.loginPage != "" {
		fields, err := parseFields(loginData)
		if err != nil {
			return cfg, 0, usageErrorf("scan: invalid --login-data: %v", err)
		}
		if len(fields) == 0 {
			return cfg, 0, usageErrorf("scan: --login needs the login fields: --login-data or $FORGEPROOF_LOGIN_DATA")
		}
		cfg.Login = &scan.Login{Path: f.login, Page: f.loginPage, Form: fields}
	} else if f.loginData != "" { // the flag; a variable set in the environment is fine
		return cfg, 0, usageErrorf("scan: --login-data needs --login or --login-page")
	}
	attackerData := f.attackerLoginData
	if attackerData == "" {
		attackerData = os.Getenv("FORGEPROOF_ATTACKER_LOGIN_DATA")
	}
	switch {
	case attackerData == "":
	case cfg.Login == nil && f.attackerLoginData != "":
		return cfg, 0, usageErrorf("scan: --attacker-login-data needs --login or --login-page (the attacker logs in through the same form)")
	case cfg.Login != nil:
		fields, err := parseFields(attackerData)
		if err != nil {
			return cfg, 0, usageErrorf("scan: invalid --attacker-login-data: %v", err)
		}
		if len(fields) == 0 {
			return cfg, 0, usageErrorf("scan: --attacker-login-data has no field")
		}
		cfg.AttackerLogin = &scan.Login{Path: cfg.Login.Path, Page: cfg.Login.Page, TokenPage: cfg.Login.TokenPage, TokenField: cfg.Login.TokenField, Form: fields}
	}
	if (f.verifyURL == "") != (f.verifyPointer == "") {
		return cfg, 0, usageErrorf("scan: --verify-url and --verify-pointer go together")
	}
	if f.verifyURL != "" {
		cfg.Verify = &scan.Verification{Path: f.verifyURL, Pointer: f.verifyPointer}
	}
	return cfg, failOn, nil
}

// explorer is the browser of --browser. Without Chromium it says so on
// stderr (whatever --quiet says) and returns a browser that fails, so
// that the report says so too and discovery falls back to the HTML.
func (f *scanFlags) explorer(tlsCfg *tls.Config, stderr io.Writer) (scan.Browser, error) {
	if f.noDiscover {
		return nil, usageErrorf("scan: --browser explores the start pages: it needs discovery (drop --no-discover)")
	}
	if f.ca == "" {
		return nil, usageErrorf("scan: --browser needs --ca: the browser is given the CA that verifies the server")
	}
	caPEM, err := os.ReadFile(f.ca)
	if err != nil {
		return nil, usageErrorf("scan: --ca: %v", err)
	}
	tools, err := browser.FindTools(os.Getenv(browser.BrowserEnv))
	if err != nil {
		fmt.Fprintf(stderr, "forgeproof: scan: --browser: %v (install chromium and libnss3-tools); discovering from the HTML only\n", err)
		return scanbrowser.Unavailable(err), nil
	}
	var client *tls.Certificate
	if len(tlsCfg.Certificates) > 0 {
		client = &tlsCfg.Certificates[0]
	}
	x, err := scanbrowser.New(scanbrowser.Options{Tools: tools, CACertsPEM: caPEM, Client: client})
	if err != nil {
		return nil, usageErrorf("scan: --browser: %v", err)
	}
	return x, nil
}

// tlsConfig loads the client certificate and the server's trust, and
// returns the matching curl flags for the reproduction commands.
func (f *scanFlags) tlsConfig() (*tls.Config, []string, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	var curl []string
	switch {
	case f.p12 != "" && (f.cert != "" || f.key != ""):
		return nil, nil, usageErrorf("scan: --p12 and --cert/--key are exclusive")
	case (f.cert == "") != (f.key == ""):
		return nil, nil, usageErrorf("scan: --cert and --key go together")
	case f.cert != "":
		c, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, nil, usageErrorf("scan: client certificate %q / key %q: %v", f.cert, f.key, err)
		}
		cfg.Certificates = []tls.Certificate{c}
		curl = append(curl, "--cert", f.cert, "--key", f.key)
	case f.p12 != "":
		data, err := os.ReadFile(f.p12)
		if err != nil {
			return nil, nil, usageErrorf("scan: --p12: %v", err)
		}
		password := os.Getenv("FORGEPROOF_P12_PASSWORD")
		key, leaf, chain, err := pkcs12.DecodeChain(data, password)
		if err != nil {
			return nil, nil, usageErrorf("scan: --p12 %q: %v (is $FORGEPROOF_P12_PASSWORD right?)", f.p12, err)
		}
		c := tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
		for _, ca := range chain {
			c.Certificate = append(c.Certificate, ca.Raw)
		}
		cfg.Certificates = []tls.Certificate{c}
		arg := f.p12
		if password != "" {
			arg += ":REDACTED"
		}
		curl = append(curl, "--cert-type", "P12", "--cert", arg)
	}
	switch {
	case f.ca != "" && f.insecure:
		return nil, nil, usageErrorf("scan: --ca and --insecure-skip-verify are exclusive")
	case f.ca != "":
		pem, err := os.ReadFile(f.ca)
		if err != nil {
			return nil, nil, usageErrorf("scan: --ca: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, nil, usageErrorf("scan: --ca %q: no PEM certificate in it", f.ca)
		}
		cfg.RootCAs = pool
		curl = append(curl, "--cacert", f.ca)
	case f.insecure:
		cfg.InsecureSkipVerify = true // the operator asked, by name
		curl = append(curl, "--insecure")
	}
	return cfg, curl, nil
}

// parseFields parses urlencoded form fields into a map (first value wins).
func parseFields(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range strings.Split(s, "&") {
		if kv == "" {
			continue
		}
		k, v, _ := strings.Cut(kv, "=")
		var err error
		if k, err = url.QueryUnescape(k); err != nil {
			return nil, fmt.Errorf("a field name has an invalid %%-escape")
		}
		if v, err = url.QueryUnescape(v); err != nil {
			// Not err: it quotes the bad escape, part of a secret maybe.
			return nil, fmt.Errorf("the value of %q has an invalid %%-escape", k)
		}
		if _, dup := out[k]; !dup {
			out[k] = v
		}
	}
	return out, nil
}

func validCookieName(n string) bool {
	for _, r := range n {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune(`()<>@,;:\"/[]?={}`, r) {
			return false
		}
	}
	return true
}

// redactCookie keeps a bad --cookie's name for the message, never its value.
func redactCookie(c string) string {
	if name, _, ok := strings.Cut(c, "="); ok {
		return name + "=REDACTED"
	}
	return c
}

// writeOutput writes to the --output file or to stdout. A report may
// hold evidence (a cookie, a token), so the file is a new one, 0600
// whatever an old file's mode, renamed into place: a reader never sees
// half of it, and a link planted there is replaced, never written
// through.
func writeOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "" {
		return write(stdout)
	}
	var b bytes.Buffer
	if err := write(&b); err != nil {
		return err
	}
	return atomicfile.Write(atomicfile.File{Path: path, Data: b.Bytes(), Perm: 0o600})
}

// checkOutput refuses an --output that is not a regular file, before the
// scan: the report's rename would replace a link or a device there
// (/dev/stdout, /dev/null; as root even in /dev) rather than write
// through it.
func checkOutput(path string) error {
	if path == "" {
		return nil
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().IsRegular() {
		return nil // a new file, or a regular one to replace
	}
	var what string
	switch m := fi.Mode(); {
	case m&os.ModeSymlink != 0:
		what = "is a symbolic link"
	case m.IsDir():
		what = "is a folder"
	default:
		what = (&regfile.NotRegularError{Mode: m}).Error()
	}
	return usageErrorf("scan: invalid --output: %q %s: the report replaces the file there with a new one, never writes through a link or into a device; remove it, or leave --output out to write to stdout", path, what)
}

// colorOK: colour only on a terminal, and never with NO_COLOR set.
func colorOK(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
