package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
	replaced := []string{"listen 443", "bank.example.com", "/etc/forgeproof/", "127.0.0.1:9191", "127.0.0.1:8080"}

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
				"proxy_pass http://backend;", "pid " + f.Dir + "/" + name + ".pid;",
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
		{"two server blocks", page + "\n```nginx\nserver {}\n```\n", "2 nginx code blocks"},
		{"no server block", strings.ReplaceAll(page, "```nginx", "```"), "0 nginx code blocks"},
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
