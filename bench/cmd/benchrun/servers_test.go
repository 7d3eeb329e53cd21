package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// repoNginxDoc is docs/integrations/nginx.md as seen from this folder.
const repoNginxDoc = "../../../docs/integrations/nginx.md"

// TestNginxAuthzFollowsDoc: nginx-authz runs the server block of
// docs/integrations/nginx.md, every line of it but the replaced
// addresses, names and paths, and nginx accepts the result.
func TestNginxAuthzFollowsDoc(t *testing.T) {
	defer func(old string) { nginxDoc = old }(nginxDoc)
	nginxDoc = repoNginxDoc
	doc, err := os.ReadFile(repoNginxDoc)
	if err != nil {
		t.Fatal(err)
	}
	var server []string
	for _, b := range mdtest.Blocks(string(doc)) {
		if b.Lang == "nginx" {
			server = append(server, b.Lines...)
		}
	}
	if len(server) < 20 || !strings.Contains(strings.Join(server, "\n"), "proxy_set_header Upgrade $http_upgrade;") {
		t.Fatalf("the doc's nginx block: %d lines, want the server block with its Upgrade lines", len(server))
	}
	replaced := []string{"listen 443", "bank.example.com", "/etc/forgeproof/", "127.0.0.1:9191", "127.0.0.1:8080", "Connection $fp_connection;"}

	f, _, err := mintPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, keepAlive := range []bool{false, true} {
		name := map[bool]string{false: "nginx-authz", true: "nginx-authz-ka"}[keepAlive]
		t.Run(name, func(t *testing.T) {
			d := authzData{nginxData{configData{f, 8443, "127.0.0.1:8000"}, name, ""}, 9000, keepAlive}
			_, ncfg, err := writeNginxAuthz(d)
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(ncfg)
			if err != nil {
				t.Fatal(err)
			}
			conf := string(b)
			kept := 0
			for _, line := range server {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") || containsAny(line, replaced) {
					continue
				}
				kept++
				if !strings.Contains(conf, line) {
					t.Errorf("the doc's line %q is not in the benchmark's configuration", line)
				}
			}
			if kept < 20 {
				t.Errorf("compared %d of the doc's lines, want the server block's", kept)
			}
			for _, old := range replaced {
				if strings.Contains(conf, old) {
					t.Errorf("the configuration still has the doc's %q", old)
				}
			}
			for _, want := range []string{
				"listen 127.0.0.1:8443 ssl http2;", "ssl_certificate_key " + f.Key + ";",
				"proxy_pass http://backend;", `proxy_set_header Connection "";`, "pid " + f.Dir + "/" + name + ".pid;",
				map[bool]string{false: "proxy_pass http://127.0.0.1:9000/nginx;", true: "proxy_pass http://forgeproof/nginx;"}[keepAlive],
			} {
				if !strings.Contains(conf, want) {
					t.Errorf("the configuration lacks %q:\n%s", want, conf)
				}
			}
			if _, err := exec.LookPath("nginx"); err != nil {
				t.Log("nginx is not installed: configuration not checked with nginx -t")
				return
			}
			if _, err := run1("nginx", "-t", "-q", "-c", ncfg, "-p", f.Dir); err != nil {
				t.Error(err)
			}
		})
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// TestNginxAuthzDocDrift: a page whose server block no longer has a line
// the benchmark replaces, or that has no single nginx block, stops
// nginx-authz with a message naming the problem; the page as it is
// passes (the twin).
func TestNginxAuthzDocDrift(t *testing.T) {
	defer func(old string) { nginxDoc = old }(nginxDoc)
	doc, err := os.ReadFile(repoNginxDoc)
	if err != nil {
		t.Fatal(err)
	}
	page := string(doc)
	dir := t.TempDir()
	tests := []struct {
		name, page, wantErr string
	}{
		{"the page as it is", page, ""},
		{"listen changed", strings.Replace(page, "listen 443 ssl;", "listen 443 ssl reuseport;", 1), `no "listen 443 ssl;" any more`},
		{"upstream address changed", strings.Replace(page, "127.0.0.1:8080", "127.0.0.1:3000", 1), `no "proxy_pass http://127.0.0.1:8080;" any more`},
		{"two server blocks", page + "\n```nginx\nserver {}\n```\n", "2 nginx server blocks"},
		{"no server block", strings.ReplaceAll(page, "```nginx", "```"), "0 nginx server blocks"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			nginxDoc = filepath.Join(dir, "nginx.md")
			if err := os.WriteFile(nginxDoc, []byte(tc.page), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := nginxAuthzServer(nginxDoc, authzData{nginxData{configData{files{Dir: dir}, 8443, "127.0.0.1:8000"}, "nginx-authz", ""}, 9000, false})
			got := ""
			if err != nil {
				got = err.Error()
			}
			if (tc.wantErr == "") != (err == nil) || !strings.Contains(got, tc.wantErr) {
				t.Errorf("got error %q, want one containing %q", got, tc.wantErr)
			}
		})
	}
	if _, err := nginxAuthzServer(filepath.Join(dir, "missing.md"), authzData{}); err == nil || !strings.Contains(err.Error(), "-nginx-doc") {
		t.Errorf("a missing page: got %v, want an error naming -nginx-doc", err)
	}
}

// TestNginxCertForwardsIdentity: behind nginx-cert, the upstream receives
// the client's certificate (the very one the client presented, as
// URL-escaped PEM), its subject, verification result and fingerprint, and
// the forwarding headers, with a client's forged copies replaced or
// dropped. Plain nginx is the negative control: it forwards none of
// them, and passes the client's forgeries through.
func TestNginxCertForwardsIdentity(t *testing.T) {
	if _, err := exec.LookPath("nginx"); err != nil {
		t.Skip("nginx is not installed")
	}
	f, client, err := mintPKI(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	der := client.Certificates[0].Certificate[0]
	sum := sha1.Sum(der)

	got := make(chan http.Header, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/identity" {
			got <- r.Header.Clone()
		}
		io.WriteString(w, "ok\n")
	}))
	defer up.Close()

	forged := map[string]string{
		"X-SSL-Client-Cert":        "forged",
		"x-ssl-client-s-dn":        "CN=admin",
		"X-SSL-Client-Verify":      "SUCCESS",
		"X-SSL-Client-Fingerprint": "0000",
		"Client-Cert":              ":Zm9yZ2Vk:",
		"X-Forwarded-Client-Cert":  "Hash=00",
		"X-Forwarded-For":          "10.0.0.1",
		"X-Real-IP":                "10.0.0.1",
	}
	tests := []struct {
		server string
		want   map[string]string // "" means absent
	}{
		{"nginx-cert", map[string]string{
			"X-SSL-Client-S-DN":        "CN=" + clientCN,
			"X-SSL-Client-Verify":      "SUCCESS",
			"X-SSL-Client-Fingerprint": hex.EncodeToString(sum[:]),
			"X-Forwarded-For":          "127.0.0.1",
			"X-Forwarded-Proto":        "https",
			"Client-Cert":              "",
			"X-Forwarded-Client-Cert":  "",
			"X-Real-IP":                "",
		}},
		// The negative control: without the identity lines, nothing is
		// forwarded and every forgery reaches the upstream.
		{"nginx", map[string]string{
			"X-SSL-Client-Cert":        "forged",
			"X-SSL-Client-S-DN":        "CN=admin",
			"X-SSL-Client-Fingerprint": "0000",
			"Client-Cert":              ":Zm9yZ2Vk:",
			"X-Forwarded-For":          "10.0.0.1",
			"X-Forwarded-Proto":        "",
		}},
	}
	for _, tc := range tests {
		t.Run(tc.server, func(t *testing.T) {
			k, _ := kindNamed(tc.server)
			var info serverInfo
			s, err := startServer(context.Background(), config{}, k, f, client, up.Listener.Addr().String(), &info)
			if err != nil {
				t.Fatal(err)
			}
			defer s.proc.Stop()

			req, _ := http.NewRequest("GET", "https://"+s.target.Addr+"/identity", nil)
			for name, v := range forged {
				req.Header[name] = []string{v} // as spelled, not canonicalised
			}
			hc := &http.Client{Transport: &http.Transport{TLSClientConfig: client}, Timeout: 10 * time.Second}
			defer hc.CloseIdleConnections()
			resp, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status: got %d, want 200", resp.StatusCode)
			}
			h := <-got
			for name, want := range tc.want {
				if vs := h.Values(name); want == "" && len(vs) != 0 || want != "" && (len(vs) != 1 || vs[0] != want) {
					t.Errorf("%s: got %q, want %q", name, vs, want)
				}
			}
			if tc.server != "nginx-cert" {
				return
			}
			if got := h.Get("X-Forwarded-Host"); got != s.target.Addr {
				t.Errorf("X-Forwarded-Host: got %q, want %q", got, s.target.Addr)
			}
			vs := h.Values("X-SSL-Client-Cert")
			if len(vs) != 1 {
				t.Fatalf("X-SSL-Client-Cert: got %d values, want 1", len(vs))
			}
			pemText, err := url.PathUnescape(vs[0])
			if err != nil {
				t.Fatalf("X-SSL-Client-Cert %q: %v", vs[0], err)
			}
			if blk, _ := pem.Decode([]byte(pemText)); blk == nil || !bytes.Equal(blk.Bytes, der) {
				t.Errorf("X-SSL-Client-Cert is not the client's certificate: %q", vs[0])
			}
		})
	}
}

// TestServerListsInStep: the server lists of run.sh, docs/performance.md
// and the -servers message name only servers benchrun has, the docs name
// every one, and nginx-cert's description names every header its
// configuration sets.
func TestServerListsInStep(t *testing.T) {
	read := func(path string) string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	runsh, docs := read("../../run.sh"), read("../../../docs/performance.md")
	lists := regexp.MustCompile(`servers=\$\{BENCH_SERVERS:-([a-z0-9,-]+)\}`).FindAllStringSubmatch(runsh, -1)
	if len(lists) != 2 {
		t.Fatalf("run.sh: got %d server lists, want the smoke run's and the full run's", len(lists))
	}
	for _, l := range lists {
		for _, name := range strings.Split(l[1], ",") {
			if _, ok := kindNamed(name); !ok {
				t.Errorf("run.sh lists %q, which benchrun does not have", name)
			}
		}
		if !slices.Contains(strings.Split(l[1], ","), "nginx-cert") {
			t.Errorf("run.sh's list %q lacks nginx-cert", l[1])
		}
	}
	if full := lists[1][1]; !strings.Contains(docs, "`BENCH_SERVERS` (`"+full+"`)") {
		t.Errorf("docs/performance.md does not give run.sh's full list %q as BENCH_SERVERS' default", full)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`([a-z0-9,-]+)`").FindAllStringSubmatch(docs, -1) {
		for _, name := range strings.Split(m[1], ",") {
			named[name] = true
		}
	}
	_, err := parseFlags([]string{"-bin", "x", "-servers", "apache"})
	for _, k := range kinds {
		if !named[k.name] {
			t.Errorf("docs/performance.md does not name %s", k.name)
		}
		if err == nil || !strings.Contains(err.Error(), k.name+",") && !strings.HasSuffix(err.Error(), k.name) {
			t.Errorf("-servers message %v lacks %s", err, k.name)
		}
	}
	k, _ := kindNamed("nginx-cert")
	for _, m := range regexp.MustCompile(`proxy_set_header (\S+) (\S+);`).FindAllStringSubmatch(nginxCertHeaders, -1) {
		if !strings.Contains(k.about, m[1]) || m[2] != `""` && !strings.Contains(k.about, m[2]) {
			t.Errorf("nginx-cert's description lacks %s %s", m[1], m[2])
		}
	}
}
