package gateway_test

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/proctest"
)

// realUpstream is an echo server written for a runtime other than Go
// (testdata/echo): it answers JSON with the method, the path as that
// runtime's routers read it (percent-decoded) and the headers as its
// framework exposes them.
type realUpstream struct {
	name, bin string
	args      []string // "{port}" is the port, "{dir}" testdata/echo
}

var realUpstreams = []realUpstream{
	{"node", "node", []string{"{dir}/echo.js", "{port}"}},
	{"php", "php", []string{"-S", "127.0.0.1:{port}", "{dir}/router.php"}},
	{"python", "python3", []string{"{dir}/echo.py", "{port}"}},
	{"rack", "rackup", []string{"-q", "-o", "127.0.0.1", "-p", "{port}", "{dir}/config.ru"}},
}

// startRealUpstream runs u until the test ends and returns its URL; it
// skips when u's binary is not installed.
func startRealUpstream(t *testing.T, u realUpstream) string {
	t.Helper()
	bin, err := exec.LookPath(u.bin)
	if err != nil {
		t.Skipf("%s is not installed", u.bin)
	}
	dir, err := filepath.Abs("testdata/echo")
	if err != nil {
		t.Fatal(err)
	}
	addr := loopbackAddr(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	args := make([]string, len(u.args))
	for i, a := range u.args {
		args[i] = strings.NewReplacer("{port}", port, "{dir}", dir).Replace(a)
	}
	proctest.Start(t, addr, exec.Command(bin, args...))
	return "http://" + addr
}

// echoed is a real upstream's answer.
type echoed struct {
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers"`
}

// cgiName is a header name as CGI, PHP and Rack spell it, without the
// HTTP_ prefix: upper case, '-' read as '_'.
func cgiName(name string) string {
	n := strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
	return strings.TrimPrefix(n, "HTTP_")
}

// TestRealUpstreams: requests that mean one route, one identity and one
// set of forwarding headers to the gateway mean the same to upstreams
// written for Node's http, PHP's built-in server, Python's http.server
// and Rack (each skipped when not installed). A client whose certificate
// /admin refuses sends paths that some reading turns into /admin: each is
// refused, or the upstream reads a path outside /admin. A client without
// a certificate sends identity and forwarding headers under the spellings
// these frameworks fold together (case, '_' or '.' for '-'): the
// upstream sees none of the client's values under the gateway's names.
func TestRealUpstreams(t *testing.T) {
	paths := []string{
		"/public/x", // the control: reaches the upstream
		"/admin%2fx", "/public/%2e%2e/admin", "/public/..%2fadmin", "/public/..%5cadmin",
		`/public/..\admin`, "/%61dmin", "/%2561dmin", "/ADMIN", "/Admin/x", "/admin;x",
		"/public/..;/admin", "/admin.", "/admin%20", "/admin%00", "/admin%09", "//admin",
		"///x/admin", "/x/%2e%2e/admin", "/admin%3fx", "/admin%23x", "/admin.json",
		"/index.php/admin", "/public#/../admin", "/public/%252e%252e/admin",
	}
	spellings := func(name string) []string {
		return []string{name, strings.ToLower(name), strings.ToUpper(name),
			strings.ReplaceAll(name, "-", "_"), strings.ReplaceAll(name, "-", ".")}
	}
	identity := []string{"Client-Cert", "Client-Cert-Chain", "Forgeproof-Client-Identity",
		"X-Forwarded-Client-Cert", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Forwarded", "X-Real-IP", "Remote-User", "X-Original-URL", "X-SSL-Client-CN", "Proxy"}
	for _, u := range realUpstreams {
		t.Run(u.name, func(t *testing.T) {
			url := startRealUpstream(t, u)
			w := newWorld(t)
			cfg := w.config()
			cfg.Routes = []gateway.Route{
				{Name: "admin", PathPrefix: "/admin", Upstream: url, Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/admin"}}},
				{Name: "public", PathPrefix: "/", Upstream: url, Allow: gateway.Allow{AnyVerified: true, Unauthenticated: true}},
			}
			gw := w.start(cfg)

			for _, p := range paths {
				resp, body := gw.rawExchange(t, w.web, "GET "+p+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
				if resp.StatusCode != 200 {
					if p == "/public/x" {
						t.Errorf("%s: %d %s, want 200", p, resp.StatusCode, body)
					}
					continue
				}
				var e echoed
				if err := json.Unmarshal([]byte(body), &e); err != nil {
					t.Errorf("%s: answer %q: %v", p, body, err)
					continue
				}
				if got := strings.ToLower(e.Path); got == "/admin" || strings.HasPrefix(got, "/admin/") {
					t.Errorf("%s: the gateway routed it as public, %s reads %q", p, u.name, e.Path)
				}
			}

			var raw strings.Builder
			raw.WriteString("GET /public/x HTTP/1.1\r\nHost: localhost\r\n")
			for _, n := range identity {
				for _, s := range spellings(n) {
					raw.WriteString(s + ": forged\r\n")
				}
			}
			raw.WriteString("Connection: close\r\n\r\n")
			resp, body := gw.rawExchange(t, nil, raw.String())
			if resp.StatusCode != 200 {
				t.Fatalf("identity spellings: %d %s, want 200", resp.StatusCode, body)
			}
			var e echoed
			if err := json.Unmarshal([]byte(body), &e); err != nil {
				t.Fatalf("answer %q: %v", body, err)
			}
			for name, v := range e.Headers {
				for _, n := range identity {
					if cgiName(name) == cgiName(n) && strings.Contains(v, "forged") {
						t.Errorf("%s sees the client's %s: %q (as %s)", u.name, n, v, name)
					}
				}
			}
			var proto []string
			for name, v := range e.Headers {
				if cgiName(name) == "X_FORWARDED_PROTO" {
					proto = append(proto, v)
				}
			}
			if len(proto) != 1 || proto[0] != "https" {
				t.Errorf("%s: X-Forwarded-Proto %q, want the gateway's https alone", u.name, proto)
			}
		})
	}
}
