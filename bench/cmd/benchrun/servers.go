package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/forgeproof/forgeproof/bench/internal/proc"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/internal/mdtest"
)

// files are the paths of the development PKI every server uses.
type files struct {
	Dir                   string
	CA, Cert, Key         string
	ClientCert, ClientKey string
}

// kind is one server under test: how to check it is installed, to
// configure it and to start it in front of the upstream.
type kind struct {
	name string
	// about describes its configuration for the report.
	about string
	// version returns the version string for the report, or an error
	// when the server cannot run here.
	version func(bin string) (string, error)
	// start writes its configuration in f.Dir and starts it listening on
	// 127.0.0.1:port in front of upstream (a host:port).
	start func(bin string, f files, port int, upstream string) (*proc.Process, error)
	// h2: the server speaks HTTP/2 to clients (the h2-keepalive phase).
	h2 bool
}

// kinds lists the servers in the order runs alternate through them.
var kinds = []kind{
	{
		name:    "forgeproof",
		about:   "`forgeproof serve`: one listener (client-auth require), one route allowing the client's CN, CSRF origin-only (the default), identity forwarded as RFC 9440, log level warn (no access log), admin listener off, HTTP/2 on (the default)",
		version: forgeproofVersion,
		start:   forgeproofServe("forgeproof", "forgeproof", ""),
		h2:      true,
	},
	{
		name:    "forgeproof-workers",
		about:   "`forgeproof serve` as above with `workers: auto` (one worker process per core, each with GOMAXPROCS 1, sharing the port with SO_REUSEPORT), as nginx runs `worker_processes auto`",
		version: forgeproofVersion,
		start:   forgeproofServe("forgeproof-workers", "forgeproof", "workers: auto\n"),
		h2:      true,
	},
	{
		name:    "forgeproof-base",
		about:   "`forgeproof serve` as above, from the binary named forgeproof-base in -bin (build it from another commit): for before/after comparisons in one run",
		version: func(bin string) (string, error) { return run1(filepath.Join(bin, "forgeproof-base"), "version") },
		start:   forgeproofServe("forgeproof-base", "forgeproof-base", ""),
		h2:      true,
	},
	{
		name:    "forgeproof-api",
		about:   "the same configuration served through the gateway package's Go API (bench/cmd/fpgateway), which can write CPU profiles (-profile)",
		version: func(bin string) (string, error) { return goVersion() + ", working tree", nil },
		start:   startFpgateway,
		h2:      true,
	},
	{
		name:    "goproxy",
		about:   "bare `httputil.ReverseProxy` with `tls.RequireAndVerifyClientCert` (bench/cmd/goproxy), 64 idle upstream connections",
		version: func(bin string) (string, error) { return goVersion(), nil },
		start:   goproxy("goproxy"),
		h2:      true,
	},
	{
		name:    "goproxy-pool",
		about:   "the bare Go proxy with a `ReverseProxy.BufferPool` (not in the default comparison: it shows what pooling the copy buffers saves)",
		version: func(bin string) (string, error) { return goVersion(), nil },
		start:   goproxy("goproxy-pool", "-buffer-pool"),
		h2:      true,
	},
	{
		name:    "goloop",
		about:   "the floor of a Go gateway without net/http's server and ReverseProxy (bench/cmd/goproxy -loop): per connection, `http.ReadRequest`, then `(*http.Request).Write` and `http.ReadResponse` on a pool of upstream connections, and `(*http.Response).Write` back; TLS as goproxy; no checks and no header handling, so not a proxy to deploy: it shows what the standard library's parsers, crypto/tls and the syscalls cost alone",
		version: func(bin string) (string, error) { return goVersion(), nil },
		start:   goproxy("goloop", "-loop"),
	},
	{
		name:    "goloop-rp",
		about:   "goproxy-pool's `httputil.ReverseProxy` (with `http.Transport` and the buffer pool) served by goloop's connection loop and a minimal ResponseWriter instead of net/http's server (bench/cmd/goproxy -loop-rp): what net/http's server costs a proxy",
		version: func(bin string) (string, error) { return goVersion(), nil },
		start:   goproxy("goloop-rp", "-loop-rp"),
	},
	{
		name:    "nginx",
		about:   "nginx from Debian: `ssl_verify_client on`, `proxy_pass` to an upstream block with `keepalive 64`, `proxy_http_version 1.1`, `worker_processes auto`, access log off, `listen … ssl http2` (HTTP/2 to clients that ask for it)",
		version: nginxVersion,
		start:   nginxPlain("nginx", ""),
		h2:      true,
	},
	{
		name: "nginx-cert",
		about: "nginx as above (same server block), plus the client's identity forwarded to the upstream the way a hand-rolled nginx mTLS setup does, so that its upstream request carries about what forgeproof's does " +
			"(a request head of about 960 bytes, against forgeproof's 760 and plain nginx's 60; most of it the certificate, larger here as URL-escaped PEM than as RFC 9440 base64 DER): " +
			"`X-SSL-Client-Cert $ssl_client_escaped_cert`, " +
			"`X-SSL-Client-S-DN $ssl_client_s_dn`, `X-SSL-Client-Verify $ssl_client_verify`, `X-SSL-Client-Fingerprint $ssl_client_fingerprint` (SHA-1), " +
			"`X-Forwarded-For $remote_addr`, `X-Forwarded-Host $http_host`, `X-Forwarded-Proto $scheme`, each replacing the client's copy, and the client's " +
			"Client-Cert, Client-Cert-Chain, X-Forwarded-Client-Cert, X-Forwarded-Tls-Client-Cert, X-Client-Cert, SSL-Client-Cert, Forwarded and X-Real-IP blanked (`proxy_set_header NAME \"\"`). " +
			"The targets stay against plain nginx",
		version: nginxVersion,
		start:   nginxPlain("nginx-cert", nginxCertHeaders),
		h2:      true,
	},
	{
		name:    "nginx-authz",
		about:   "nginx as above in front of `forgeproof authz` (log level warn, admin off), running the nginx blocks of docs/integrations/nginx.md (its maps and its server block) as the page shows them (read at run time; only the listen address, server name, file paths and ports are replaced): `ssl_verify_client optional_no_ca`, `auth_request` to forgeproof (which verifies the certificate against the CA, authorizes the client's CN and checks CSRF), the identity headers it answers set upstream; one new HTTP/1.0 connection to forgeproof per request, as the docs' `proxy_pass` does. Its `proxy_pass` to the application goes to the upstream block with `keepalive 64` (the page's `proxy_http_version 1.1`, with `Connection \"\"` for its `$fp_connection`), as nginx's above. Server CPU is nginx's and forgeproof's together",
		version: nginxAuthzVersion,
		start:   nginxAuthz(false),
	},
	{
		name:    "nginx-authz-ka",
		about:   "nginx-authz with keep-alive connections to `forgeproof authz` (an upstream block with `keepalive 16`, `proxy_http_version 1.1`): not in the docs' configuration; shows what reusing the connection to the decision service saves",
		version: nginxAuthzVersion,
		start:   nginxAuthz(true),
	},
	{
		name:    "caddy",
		about:   "Caddy from Debian: `client_auth { mode require_and_verify }`, `reverse_proxy` with `keepalive_idle_conns_per_host 64`, admin off, HTTP/1.1 and HTTP/2 only",
		version: caddyVersion,
		start:   startCaddy,
		h2:      true,
	},
}

func kindNamed(name string) (kind, bool) {
	for _, k := range kinds {
		if k.name == name {
			return k, true
		}
	}
	return kind{}, false
}

// kindNames lists the servers' names, for messages.
func kindNames() string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return strings.Join(names, ", ")
}

func run1(name string, args ...string) (string, error) {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

func forgeproofVersion(bin string) (string, error) {
	return run1(filepath.Join(bin, "forgeproof"), "version")
}

func nginxVersion(string) (string, error) {
	out, err := run1("nginx", "-V")
	if err != nil {
		return "", err
	}
	lines := strings.SplitN(out, "\n", 3)
	v := strings.TrimPrefix(lines[0], "nginx version: ")
	if len(lines) > 1 {
		v += ", " + lines[1]
	}
	return v, nil
}

func nginxAuthzVersion(bin string) (string, error) {
	v, err := nginxVersion(bin)
	if err != nil {
		return "", err
	}
	fv, err := forgeproofVersion(bin)
	return v + "; " + fv, err
}

func caddyVersion(string) (string, error) {
	v, err := run1("caddy", "version")
	if err != nil {
		return "", err
	}
	// Caddy's build-info starts with the Go version it was built with.
	if info, err := run1("caddy", "build-info"); err == nil {
		if first, _, _ := strings.Cut(info, "\n"); strings.HasPrefix(first, "go\t") {
			v += ", built with " + strings.TrimPrefix(first, "go\t")
		}
	}
	return v, nil
}

// render executes a configuration template into dir/name.
func render(dir, name, tmpl string, data any) (string, error) {
	text, err := execute(tmpl, data)
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, name)
	return path, os.WriteFile(path, []byte(text), 0o600)
}

// execute fills a template.
func execute(tmpl string, data any) (string, error) {
	t, err := template.New("").Parse(tmpl)
	if err != nil {
		return "", err
	}
	var b strings.Builder
	err = t.Execute(&b, data)
	return b.String(), err
}

type configData struct {
	files
	Port     int
	Upstream string
}

const forgeproofConfig = `# forgeproof serve, as benchmarked
listeners:
  - address: 127.0.0.1:{{.Port}}
    tls:
      cert-file: {{.Cert}}
      key-file: {{.Key}}
      client-ca-files: [{{.CA}}]
      client-auth: require
routes:
  - name: bench
    upstream: http://{{.Upstream}}
    allow:
      common-names: [` + clientCN + `]
limits:
  upstream-max-idle-conns-per-host: 64
admin:
  address: "off"
log:
  level: warn
`

// forgeproofServe returns the start of server kind's "BIN serve", BIN a
// binary in bin (forgeproof, or forgeproof-base from another commit),
// with more config lines.
func forgeproofServe(kind, binName, more string) func(string, files, int, string) (*proc.Process, error) {
	return func(bin string, f files, port int, upstream string) (*proc.Process, error) {
		cfg, err := render(f.Dir, kind+".yaml", forgeproofConfig+more, configData{f, port, upstream})
		if err != nil {
			return nil, err
		}
		return proc.Start(f.Dir, kind, nil, filepath.Join(bin, binName), "serve", "--config", cfg)
	}
}

// profileDir, when set (-profile), is where fpgateway writes its CPU and
// allocation profiles, and goproxy its CPU profile.
var profileDir string

func startFpgateway(bin string, f files, port int, upstream string) (*proc.Process, error) {
	cfg, err := render(f.Dir, "fpgateway.yaml", forgeproofConfig, configData{f, port, upstream})
	if err != nil {
		return nil, err
	}
	argv := []string{filepath.Join(bin, "fpgateway"), "-config", cfg}
	if profileDir != "" {
		argv = append(argv, "-cpuprofile", filepath.Join(profileDir, "forgeproof.cpu.pprof"),
			"-memprofile", filepath.Join(profileDir, "forgeproof.allocs.pprof"))
	}
	return proc.Start(f.Dir, "fpgateway", nil, argv...)
}

// goproxy returns the start of bench/cmd/goproxy as the server name,
// with more flags.
func goproxy(name string, flags ...string) func(string, files, int, string) (*proc.Process, error) {
	return func(bin string, f files, port int, upstream string) (*proc.Process, error) {
		argv := []string{filepath.Join(bin, "goproxy"),
			"-listen", fmt.Sprintf("127.0.0.1:%d", port),
			"-cert", f.Cert, "-key", f.Key, "-client-ca", f.CA,
			"-upstream", "http://" + upstream}
		argv = append(argv, flags...)
		if profileDir != "" {
			argv = append(argv, "-cpuprofile", filepath.Join(profileDir, name+".cpu.pprof"))
		}
		return proc.Start(f.Dir, name, nil, argv...)
	}
}

// nginxConfig is the frame of the nginx servers' configurations: the
// upstream block every nginx server proxies to, with keep-alive
// connections, and .Server, the server block (and other upstreams).
const nginxConfig = `# {{.Name}}, as benchmarked
daemon off;
master_process on;
worker_processes auto;
pid {{.Dir}}/{{.Name}}.pid;
error_log {{.Dir}}/{{.Name}}-error.log warn;
events {
    worker_connections 4096;
}
http {
    access_log off;
    client_body_temp_path {{.Dir}}/nginx-body;
    proxy_temp_path {{.Dir}}/nginx-proxy;
    upstream backend {
        server {{.Upstream}};
        keepalive 64;
    }
{{.Server}}
}
`

// nginxData fills nginxConfig.
type nginxData struct {
	configData
	Name   string // the server under test's: nginx, nginx-authz, …
	Server string // the server block, filled in
}

// nginxServer is the server block of plain nginx and nginx-cert; the
// two differ only in .Identity, the lines that forward the client's
// identity (nginxCertHeaders; none for nginx).
const nginxServer = `    server {
        listen 127.0.0.1:{{.Port}} ssl http2;
        server_name localhost;
        ssl_certificate {{.Cert}};
        ssl_certificate_key {{.Key}};
        ssl_client_certificate {{.CA}};
        ssl_verify_client on;
        ssl_protocols TLSv1.2 TLSv1.3;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";{{.Identity}}
        }
    }`

// nginxCertHeaders are nginx-cert's identity lines: the client's
// certificate, subject, verification result and fingerprint in the
// X-SSL-Client-* headers a hand-rolled nginx mTLS setup sends (nginx has
// no variable for RFC 9440's base64 DER, and its PEM variable holds line
// breaks, so the URL-escaped PEM is the usual choice), the forwarding
// headers forgeproof sets too, and other identity headers a client could
// send, blanked. proxy_set_header replaces a client's copy of a header it
// names, whatever its case; nginx drops names with '_' by default
// (ignore_invalid_headers).
const nginxCertHeaders = `
            # The client's identity, as nginx verified it; each line
            # replaces the client's copy of the header.
            proxy_set_header X-SSL-Client-Cert $ssl_client_escaped_cert;
            proxy_set_header X-SSL-Client-S-DN $ssl_client_s_dn;
            proxy_set_header X-SSL-Client-Verify $ssl_client_verify;
            proxy_set_header X-SSL-Client-Fingerprint $ssl_client_fingerprint;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_set_header X-Forwarded-Proto $scheme;
            # Other identity and forwarding headers a client could send:
            # an empty value sends none.
            proxy_set_header Client-Cert "";
            proxy_set_header Client-Cert-Chain "";
            proxy_set_header X-Forwarded-Client-Cert "";
            proxy_set_header X-Forwarded-Tls-Client-Cert "";
            proxy_set_header X-Client-Cert "";
            proxy_set_header SSL-Client-Cert "";
            proxy_set_header Forwarded "";
            proxy_set_header X-Real-IP "";`

// plainData fills nginxServer.
type plainData struct {
	nginxData
	Identity string
}

// nginxPlain returns the start of nginx or nginx-cert (the server name),
// whose server block is nginxServer with identity in its location.
func nginxPlain(name, identity string) func(string, files, int, string) (*proc.Process, error) {
	return func(_ string, f files, port int, upstream string) (*proc.Process, error) {
		cfg, err := writeNginxPlain(f, name, identity, port, upstream)
		if err != nil {
			return nil, err
		}
		if _, err := run1("nginx", "-t", "-q", "-c", cfg, "-p", f.Dir); err != nil {
			return nil, err
		}
		return proc.Start(f.Dir, name, nil, "nginx", "-c", cfg, "-p", f.Dir)
	}
}

// writeNginxPlain writes the configuration of nginx or nginx-cert into
// f.Dir and returns its path.
func writeNginxPlain(f files, name, identity string, port int, upstream string) (string, error) {
	d := plainData{nginxData{configData: configData{f, port, upstream}, Name: name}, identity}
	var err error
	if d.Server, err = execute(nginxServer, d); err != nil {
		return "", err
	}
	return render(f.Dir, name+".conf", nginxConfig, d.nginxData)
}

// authzConfig is forgeproof authz's, as benchmarked: the client's CN is
// allowed, CSRF is origin-only (the default).
const authzConfig = `# forgeproof authz, as benchmarked
authz:
  address: 127.0.0.1:{{.AuthzPort}}
  proxy: nginx
  trusted-callers: [127.0.0.1]
  client-certificates:
    ca-files: [{{.CA}}]
routes:
  - name: bench
    allow:
      common-names: [` + clientCN + `]
admin:
  address: "off"
log:
  level: warn
`

// nginxDoc is the page whose nginx blocks nginx-authz runs (-nginx-doc).
var nginxDoc string

// nginxAuthzServer returns the nginx blocks of the page at doc (the http
// block's maps, then its one server block) as nginx-authz runs them: only
// the listen address, server name, file paths and forgeproof's address
// are replaced, and the application's proxy_pass goes to the upstream
// block with keep-alive connections (Connection "" for the page's
// $fp_connection), as every server's does here; with keepAlive, the
// question's too (nginx-authz-ka). A replaced line the page no longer
// has is an error: the benchmark must follow the docs, not guess.
func nginxAuthzServer(doc string, d authzData) (string, error) {
	b, err := os.ReadFile(doc)
	if err != nil {
		return "", fmt.Errorf("nginx-authz runs the server block of docs/integrations/nginx.md (-nginx-doc): %w", err)
	}
	var blocks []string
	servers := 0
	for _, blk := range mdtest.Blocks(string(b)) {
		if blk.Lang == "nginx" {
			blocks = append(blocks, blk.Text())
			if strings.HasPrefix(blk.Text(), "server {") {
				servers++
			}
		}
	}
	if servers != 1 {
		return "", fmt.Errorf("%s: %d nginx server blocks, want one", doc, servers)
	}
	authz := fmt.Sprintf("127.0.0.1:%d", d.AuthzPort)
	keepAlive := "proxy_http_version 1.1;\n        proxy_set_header Connection \"\";"
	pairs := []string{
		"listen 443 ssl;", fmt.Sprintf("listen 127.0.0.1:%d ssl http2;", d.Port),
		"server_name bank.example.com;", "server_name localhost;",
		"/etc/forgeproof/server.pem", d.Cert,
		"/etc/forgeproof/server-key.pem", d.Key,
		"/etc/forgeproof/ca.pem", d.CA,
		"proxy_pass http://127.0.0.1:8080;", "proxy_pass http://backend;",
		"proxy_set_header Connection $fp_connection;", `proxy_set_header Connection "";`,
	}
	if d.KeepAlive {
		pairs = append(pairs, "proxy_pass http://127.0.0.1:9191/nginx;", "proxy_pass http://forgeproof/nginx;\n        "+keepAlive)
	}
	pairs = append(pairs, "127.0.0.1:9191", authz)
	server := strings.Join(blocks, "\n")
	for i := 0; i < len(pairs); i += 2 {
		if !strings.Contains(server, pairs[i]) {
			return "", fmt.Errorf("%s: the server block has no %q any more: update bench/cmd/benchrun with the docs", doc, pairs[i])
		}
		server = strings.ReplaceAll(server, pairs[i], pairs[i+1])
	}
	lines := strings.Split(server, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "    " + l
		}
	}
	return strings.Join(lines, "\n"), nil
}

// authzData fills authzConfig and nginxConfig for nginx-authz.
type authzData struct {
	nginxData
	AuthzPort int
	KeepAlive bool
}

// nginxAuthz returns the start of nginx-authz (keepAlive: nginx-authz-ka).
func nginxAuthz(keepAlive bool) func(string, files, int, string) (*proc.Process, error) {
	return func(bin string, f files, port int, upstream string) (*proc.Process, error) {
		return startNginxAuthz(bin, f, port, upstream, keepAlive)
	}
}

// startNginxAuthz starts forgeproof authz, waits until it listens, then
// nginx asking it; the returned process stands for both (CPU, memory and
// stop cover the two).
func startNginxAuthz(bin string, f files, port int, upstream string, keepAlive bool) (*proc.Process, error) {
	ap, err := freeport.Loopback()
	if err != nil {
		return nil, err
	}
	name := "nginx-authz"
	if keepAlive {
		name = "nginx-authz-ka"
	}
	acfg, ncfg, err := writeNginxAuthz(authzData{nginxData{configData{f, port, upstream}, name, ""}, ap, keepAlive})
	if err != nil {
		return nil, err
	}
	if _, err := run1("nginx", "-t", "-q", "-c", ncfg, "-p", f.Dir); err != nil {
		return nil, err
	}
	authz, err := proc.Start(f.Dir, name+"-forgeproof", nil, filepath.Join(bin, "forgeproof"), "authz", "--config", acfg, "--watch=false")
	if err != nil {
		return nil, err
	}
	if err := authz.WaitTCP(context.Background(), fmt.Sprintf("127.0.0.1:%d", ap)); err != nil {
		authz.Stop()
		return nil, err
	}
	ngx, err := proc.Start(f.Dir, name, nil, "nginx", "-c", ncfg, "-p", f.Dir)
	if err != nil {
		authz.Stop()
		return nil, err
	}
	ngx.Also = append(ngx.Also, authz)
	return ngx, nil
}

// writeNginxAuthz writes the configurations of forgeproof authz and of
// nginx for the server d.Name (nginx-authz, nginx-authz-ka) into d.Dir
// and returns their paths.
func writeNginxAuthz(d authzData) (authzCfg, nginxCfg string, err error) {
	server, err := nginxAuthzServer(nginxDoc, d)
	if err != nil {
		return "", "", err
	}
	// The upstream nginx-authz-ka asks forgeproof through.
	d.Server = fmt.Sprintf("    upstream forgeproof {\n        server 127.0.0.1:%d;\n        keepalive 16;\n    }\n", d.AuthzPort) + server
	if authzCfg, err = render(d.Dir, d.Name+"-authz.yaml", authzConfig, d); err != nil {
		return "", "", err
	}
	nginxCfg, err = render(d.Dir, d.Name+".conf", nginxConfig, d)
	return authzCfg, nginxCfg, err
}

const caddyConfig = `# Caddy, as benchmarked
{
	admin off
	auto_https off
	storage file_system {
		root {{.Dir}}/caddy-data
	}
	servers {
		protocols h1 h2
	}
}
https://localhost:{{.Port}} {
	bind 127.0.0.1
	tls {{.Cert}} {{.Key}} {
		client_auth {
			mode require_and_verify
			trusted_ca_cert_file {{.CA}}
		}
	}
	reverse_proxy {{.Upstream}} {
		transport http {
			keepalive_idle_conns_per_host 64
		}
	}
}
`

func startCaddy(_ string, f files, port int, upstream string) (*proc.Process, error) {
	cfg, err := render(f.Dir, "Caddyfile", caddyConfig, configData{f, port, upstream})
	if err != nil {
		return nil, err
	}
	env := []string{"HOME=" + f.Dir, "XDG_DATA_HOME=" + f.Dir, "XDG_CONFIG_HOME=" + f.Dir}
	return proc.Start(f.Dir, "caddy", env, "caddy", "run", "--config", cfg, "--adapter", "caddyfile")
}
