// Package scan audits a live service for cross-site request forgery
// exposure, presenting a TLS client certificate as a browser would.
//
// Run connects to the target (proving the mTLS handshake), optionally
// logs in (as a browser does: it fetches the page that holds the login
// form, keeps the cookies that page sets and submits the form with its
// hidden fields, an anti-CSRF token among them, and the user's
// credentials over them), collects the state-changing endpoints (configured, read from a
// File, or discovered from the forms of the start pages and of the
// same-origin pages they link to) and, for each one,
// sends first the legitimate request (the baseline) and then forged
// variants of it. Every variant uses only header combinations that a real
// browser produces from an attacker's page: cross-site form
// posts (urlencoded, multipart, text/plain with a JSON-shaped body),
// no-cors fetches, Origin: null, look-alike origins (a host that begins
// with the target's, or ends with its registrable domain), browsers
// without Fetch Metadata (also from http:// on the same host), same-site
// sibling origins, missing,
// empty and foreign anti-CSRF tokens, POST→GET downgrades and _method
// overrides, cross-site GET navigations; and, for a JSON endpoint no
// forgery reached, its CORS preflight and the cross-site CORS fetch that
// preflight guards (see RulePreflightOnly). Each carries only the cookies the
// browser would attach there (SameSite is modelled, including Chromium's
// two-minute Lax+POST window) and the client certificate, which browsers
// present whatever SameSite says.
//
// # Single-page apps
//
// With Config.Browser (a Browser: "forgeproof scan" drives Chromium
// through an internal package; a program supplies its own), discovery
// also loads the pages in a real browser, clicks their buttons and adds
// the state-changing requests their scripts tried to send as endpoints;
// the browser holds every such request back, and the scanner sends it
// under its own rules. An Endpoint's Headers (a token header the page's
// script sets) go with the legitimate request only.
//
// # WebSockets
//
// An Endpoint with Method "WS" (given, or discovered as a ws: or wss: URL
// or a new WebSocket(…) argument in a crawled page or its scripts) is
// probed with opening handshakes only: the same-origin one is the
// baseline, and a cross-site one (Origin of another site, the client
// certificate, SameSite=None cookies, as Chromium sends it) that is
// upgraded as well is reported as websocket-cross-site. No message is
// sent.
//
// # Oracles
//
// A probe is judged by the verification request when one is configured
// (Config.Verify: a GET whose JSON value at a pointer changes when the
// state changes, such as a balance) and that request reacted to the
// baseline: the finding is then Confirmed. Without Config.Verify, the
// scanner discovers one: it reads the start pages and the same-origin
// JSON GETs their scripts name (or, with Config.Browser, were seen to
// send: Explored.Fetches) twice before the baseline and twice after
// it, and a value that stayed put over the reloads, changed with the
// baseline and stayed changed becomes the endpoint's oracle
// (OracleDiscovered, EndpointResult.Verification names it). Otherwise the
// probe's answer is compared with the baseline's (status, redirect target,
// body similarity with numbers masked) and the finding is Inferred. GET
// downgrades also need a control request without the fields to answer
// differently, or an answer that is the POST's 2xx success body and not
// the form page; else that family is inconclusive. When the baseline's
// answer is the form's page again, a null control (the same request with
// every field empty, the token's included) is sent once; answered alike,
// the endpoint's answers do not reflect the request, and every family
// the comparison would decide is inconclusive.
//
// A 2xx answer that shows the endpoint's form again with validation
// errors is a refusal. Every text field a discovered form left empty gets
// a value of its own in each request, so that duplicates ("already
// exists") never decide a probe, in this scan or the next.
//
// # Findings
//
// Rules lists the rule IDs with their severity, help and generic fix. The
// scanner reports each rule at most once per endpoint (or cookie, or
// URL), with the curl command that reproduces the request (cookie values,
// tokens and password-like fields are redacted in it) and its fix: Advice
// for the Framework recognised from the responses (Report.Framework).
// Every probe family of an endpoint has an outcome in
// EndpointResult.Families, with the reason when it was skipped or
// inconclusive. WriteText, WriteJSON and WriteSARIF (SARIF 2.1.0, with
// security-severity for code scanning) render a Report.
//
// Config.AttackerLogin logs the attacker in, by the same form flow as
// Config.Login, for token-unbound on pages that only logged-in users see.
//
// # Safety
//
// The scan sends real state-changing requests (the baselines, and every
// forgery that the service accepts): point it at a test account. Requests
// go to the target's origin only (form actions elsewhere are skipped,
// redirects are not followed), at most Config.Rate per second, each
// bounded by Config.Timeout, at most Config.MaxRequests in all, and
// discovery stops at Config.MaxEndpoints. Discovery crawls within
// Config.CrawlDepth and Config.CrawlPages and never fetches, tests or
// clicks a URL that matches DefaultExclude (logout URLs) or
// Config.Exclude, nor follows a link that names an action (delete,
// remove, …), since a GET there may change state. Plan lists the requests without
// sending any.
//
// A non-nil error from Run is an *Error whose Reason says why the scan
// could not run (for example tls-handshake): its report is incomplete and
// must never be read as "no findings".
package scan
