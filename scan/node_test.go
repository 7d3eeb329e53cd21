package scan_test

// Real Node services behind the mTLS front of django_test.go (startApp):
// testdata/node/express.js (Express 4 with csurf, csrf-csrf,
// express-session and method-override) and testdata/node/fastify.js
// (Fastify 4). The packages are not vendored: the tests need
// testdata/node/node_modules, which .ci/run installs with npm from
// testdata/node/package.json. Without node or node_modules the tests
// skip, except under CI.

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/scan"
)

// startNode runs testdata/node/script behind the mTLS front and returns
// its URL, skipping the test when node or testdata/node/node_modules is
// missing outside CI.
func startNode(t *testing.T, p *testPKI, script string) string {
	t.Helper()
	const dir = "testdata/node"
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "node_modules"))
	}
	if err != nil {
		msg := "node or scan/" + dir + "/node_modules is missing (apt-get install nodejs npm; cd scan/" + dir + " && npm install --no-package-lock): " + err.Error()
		if os.Getenv("CI") != "" || os.Getenv("FORGEPROOF_E2E") == "require" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return startApp(t, p, dir, nil, node, script, "{port}")
}

// TestExpressApp: a real Express 4 service (testdata/node/express.js),
// authorised by the client certificate, its token routes by an
// express-session login too. Each route is forged by what a security
// engineer would report, and its protected twin by nothing:
//   - no defence (/open): a plain cross-site form;
//   - origin.startsWith('https://localhost') (/origin/prefix): the
//     look-alike https://localhost.attacker.invalid:PORT (and a sibling);
//     referer.includes(host) (/origin/referer): https://attackerlocalhost:PORT
//     and http://localhost:PORT; referer.includes('https://' + host)
//     (/origin/referer-url): only a page whose URL holds the origin, sent
//     whole under Referrer-Policy: unsafe-url. Twins: the Referer's
//     origin compared, the whole Origin compared;
//   - app.all with the query merged into the body, Origin checked on POST
//     only (/all/transfer): a cross-site GET link;
//   - express.json({type: '*/*'}) (/api/any-json): a text/plain form; with
//     a strict schema that refuses unknown members (/api/strict-json):
//     only a no-cors fetch with the JSON as is. Twin: express.json();
//   - method-override from the query or the body (/mo/query, /mo/body).
//     Twin: from a header only;
//   - csurf ({cookie: true}) and csrf-csrf (bound to the session): no
//     forgery, the attacker's own token included.
func TestExpressApp(t *testing.T) {
	p := newTestPKI(t)
	target := startNode(t, p, "express.js")
	tokenForm := func(path, page string) scan.Endpoint {
		e := djangoForm(path)
		e.TokenField, e.TokenPage = "_csrf", page
		return e
	}
	put := func(path string) scan.Endpoint {
		e := djangoForm(path)
		e.Method = "PUT"
		return e
	}
	jsonEp := func(path string) scan.Endpoint {
		return scan.Endpoint{Method: "POST", Path: path, JSON: []byte(`{"to":"mallory","amount":1}`)}
	}
	want := map[string][]string{
		"/open":                {scan.RuleCrossSiteForgery},
		"/origin/prefix":       {scan.RuleOriginLookalike, scan.RuleSameSiteForgery},
		"/origin/referer":      {scan.RuleOriginLookalike, scan.RuleOriginScheme},
		"/origin/referer-url":  {scan.RuleOriginLookalike},
		"/origin/referer-host": nil,
		"/origin/exact":        nil,
		"/all/transfer":        {scan.RuleMethodDowngrade},
		"/api/any-json":        {scan.RuleTextPlainJSON},
		"/api/strict-json":     {scan.RuleTextPlainJSON},
		"/api/json":            nil,
		"/mo/query/items":      {scan.RuleMethodOverride},
		"/mo/body/items":       {scan.RuleMethodOverride},
		"/mo/header/items":     nil,
		"/csurf/transfer":      nil,
		"/dsc/transfer":        nil,
	}
	var eps []scan.Endpoint
	for path := range want {
		switch {
		case strings.HasPrefix(path, "/api/"):
			eps = append(eps, jsonEp(path))
		case strings.HasPrefix(path, "/mo/"):
			eps = append(eps, put(path))
		case path == "/csurf/transfer" || path == "/dsc/transfer":
			eps = append(eps, tokenForm(path, strings.TrimSuffix(path, "transfer")+"form"))
		default:
			eps = append(eps, djangoForm(path))
		}
	}
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: target, TLS: p.clientTLS(), AttackerTLS: p.attackerTLS(), Rate: 1000, Verify: balance, Endpoints: eps,
		Login:         &scan.Login{Path: "/login", Page: "/login", Form: map[string]string{"username": "alice", "password": "demo"}},
		AttackerLogin: &scan.Login{Form: map[string]string{"username": "mallory", "password": "demo"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, w := range want {
		got := forgeries(rep, path)
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Errorf("%s: findings %v, want %v", path, got, w)
		}
	}
	// The token routes were assessed, their attacker's-token family run.
	for _, e := range rep.Endpoints {
		if u, err := url.Parse(e.URL); err == nil && (u.Path == "/csurf/transfer" || u.Path == "/dsc/transfer") {
			i := slices.IndexFunc(e.Families, func(f scan.FamilyResult) bool { return f.Rule == scan.RuleTokenUnbound })
			if !e.Assessed || i < 0 || e.Families[i].Outcome != scan.OutcomeRefused {
				t.Errorf("%s: assessed %v (%s), families %+v; want token-unbound refused", u.Path, e.Assessed, e.Note, e.Families)
			}
		}
	}
	if t.Failed() {
		t.Logf("endpoints %+v; notes %q", rep.Endpoints, rep.Notes)
	}
}

// TestFastifyApp: Fastify 4 (testdata/node/fastify.js), authorised by the
// client certificate alone. Its own parsers read application/json only
// as JSON (a text/plain body is a string, refused by the schema), so
// /api/json is not reported; a route that adds a text/plain parser that
// reads JSON is forged by a text/plain form, the padding member dropped
// by Fastify's Ajv (additionalProperties: false removes it); a form route
// with @fastify/formbody and no defence by a plain cross-site form.
func TestFastifyApp(t *testing.T) {
	p := newTestPKI(t)
	target := startNode(t, p, "fastify.js")
	jsonEp := func(path string) scan.Endpoint {
		return scan.Endpoint{Method: "POST", Path: path, JSON: []byte(`{"to":"mallory","amount":1}`)}
	}
	want := map[string][]string{
		"/open":          {scan.RuleCrossSiteForgery},
		"/api/json":      nil,
		"/api/text-json": {scan.RuleTextPlainJSON},
	}
	rep, err := scan.Run(context.Background(), scan.Config{
		Target: target, TLS: p.clientTLS(), Rate: 1000, Verify: balance,
		Endpoints: []scan.Endpoint{djangoForm("/open"), jsonEp("/api/json"), jsonEp("/api/text-json")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for path, w := range want {
		got := forgeries(rep, path)
		slices.Sort(got)
		if !slices.Equal(got, w) {
			t.Errorf("%s: findings %v, want %v; endpoints %+v; notes %q", path, got, w, rep.Endpoints, rep.Notes)
		}
	}
}
