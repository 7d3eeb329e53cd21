package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/internal/atomicfile"
	"github.com/forgeproof/forgeproof/internal/dirlock"
	"github.com/forgeproof/forgeproof/internal/listenaddr"
	"github.com/forgeproof/forgeproof/internal/openfolder"
	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/internal/shellquote"
	"github.com/forgeproof/forgeproof/pki"
)

// defaultConfigFile is what "forgeproof init" writes and "forgeproof
// serve" reads without --config.
const defaultConfigFile = "forgeproof.yaml"

const initUsage = `Usage: forgeproof init --upstream URL [--host NAME]... [--listen ADDR] [--dir DIR]
                       [--ca-file FILE] [--cert-file FILE --key-file FILE] [--admin ADDR] [--force]

Makes a working gateway setup for an existing service in DIR (default: the
current folder):

  forgeproof.yaml   the gateway config, commented: one listener, one route
                    to --upstream, CSRF checks by origin (the app needs no
                    change), cookie hardening (Secure, SameSite=Lax)
  pki/              a development CA (ca.pem, ca-key.pem, crl.pem), a
                    server certificate for localhost, 127.0.0.1, ::1 and
                    every --host (server.pem, server-key.pem), a client
                    certificate (client.pem, client-key.pem, client.p12
                    with an empty password), and csrf.key, the CSRF token
                    key (0600; used when a route switches to token mode),
                    and .gitignore, which keeps the keys out of git (an
                    existing pki/.gitignore is kept)

With --ca-file, client certificates are those your CA issues: no dev CA
client certificate is made. With --cert-file and --key-file, the gateway
presents your server certificate. Existing files are never replaced
unless --force is given. Then run "forgeproof serve" in DIR.

Exit status: 0 on success, 1 when a file exists (without --force), DIR/pki
holds Go source files or a file cannot be written, 2 on a usage error or a
bad value.

Examples:

  forgeproof init --upstream http://127.0.0.1:8080
  forgeproof init --upstream http://127.0.0.1:3000 --host app.test --listen :8443 --dir ./gw
  forgeproof init --upstream https://app.internal:9443 --ca-file /etc/pki/clients-ca.pem \
      --cert-file /etc/pki/gw.pem --key-file /etc/pki/gw-key.pem`

// initPlan is what init was asked to make, after validation.
type initPlan struct {
	dir      string
	upstream string
	listen   string
	admin    string
	hosts    []string     // DNS names for the server certificate
	ips      []netip.Addr // IP addresses for the server certificate
	caFile   string       // the user's client CA; "" for the dev CA
	certFile string       // the user's server certificate; "" for a dev one
	keyFile  string
	force    bool
}

func runInit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("init", initUsage, stdout)
	upstream := fs.String("upstream", "", "the http or https `URL` of the service to protect (required)")
	var hosts listFlag
	fs.Var(&hosts, "host", "a host `name` (or IP address) clients use to reach the gateway, for its certificate (repeatable or comma-separated)")
	listen := fs.String("listen", "127.0.0.1:8443", "the gateway's listen `address` (host:port; \":8443\" is every interface)")
	dir := fs.String("dir", ".", "the `folder` to write forgeproof.yaml and pki/ into")
	caFile := fs.String("ca-file", "", "a PEM `file` of the CAs that issue your client certificates (default: a new development CA)")
	certFile := fs.String("cert-file", "", "a PEM server certificate `file` to use (default: one issued by the development CA)")
	keyFile := fs.String("key-file", "", "the private key `file` of --cert-file")
	admin := fs.String("admin", gateway.DefaultAdminAddress, "the admin (metrics, health) listener's loopback `address`, or \"off\"")
	force := fs.Bool("force", false, "replace files that already exist")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	plan, err := checkInit(*upstream, hosts, *listen, *dir, *caFile, *certFile, *keyFile, *admin)
	if err != nil {
		return err
	}
	plan.force = *force
	return plan.run(stdout, stderr)
}

// checkInit validates init's flags; every mistake is a usage error that
// names its flag.
func checkInit(upstream string, hosts []string, listen, dir, caFile, certFile, keyFile, admin string) (*initPlan, error) {
	p := &initPlan{dir: dir, listen: listen, admin: admin}
	if upstream == "" {
		return nil, usageErrorf("init: --upstream is required (the URL of the service to protect, for example http://127.0.0.1:8080)")
	}
	u, err := url.Parse(upstream)
	switch {
	case !strings.Contains(upstream, "://"):
		// "127.0.0.1:8080" does not parse; "localhost:8080" parses with
		// the scheme "localhost": both lack the scheme, so say so.
		return nil, usageErrorf("init: invalid --upstream %q: no scheme: want a URL such as http://%s", upstream, upstream)
	case err != nil:
		return nil, usageErrorf("init: invalid --upstream %q: not a URL", upstream)
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, usageErrorf("init: invalid --upstream %q: scheme must be http or https", upstream)
	case u.Hostname() == "":
		return nil, usageErrorf("init: invalid --upstream %q: host is required", upstream)
	case u.User != nil:
		return nil, usageErrorf("init: invalid --upstream %q: credentials in the URL are not supported", upstream)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return nil, usageErrorf("init: invalid --upstream %q: a query or fragment is not supported", upstream)
	}
	if port := u.Port(); port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, usageErrorf("init: invalid --upstream %q: port must be 1 to 65535", upstream)
		}
	}
	p.upstream = u.String()
	for _, h := range hosts {
		if ip, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil && ip.Zone() == "" {
			p.ips = append(p.ips, ip)
			continue
		}
		if err := checkDNSName(h, false); err != nil {
			return nil, usageErrorf("init: invalid --host %q: %v", h, err)
		}
		p.hosts = append(p.hosts, strings.ToLower(strings.TrimSuffix(h, ".")))
	}
	if err := checkListen(listen, false); err != nil {
		return nil, usageErrorf("init: invalid --listen %q: %v", listen, err)
	}
	if _, port, _ := net.SplitHostPort(listen); port == "0" {
		return nil, usageErrorf("init: invalid --listen %q: choose a port: browsers and clients need to know it", listen)
	}
	if forwardsToItself(u, listen) {
		return nil, usageErrorf("init: --upstream %q is the gateway's own address (--listen %q): the gateway would forward every request to itself; keep --upstream where the service listens and give the gateway another port with --listen", upstream, listen)
	}
	if admin != "off" {
		if err := checkListen(admin, true); err != nil {
			return nil, usageErrorf("init: invalid --admin %q: %v", admin, err)
		}
		if listenaddr.Same(listen, admin) {
			return nil, usageErrorf("init: --listen %q and --admin %q are the same address: give the admin listener another port, or --admin off", listen, admin)
		}
	}
	if (certFile == "") != (keyFile == "") {
		return nil, usageErrorf("init: --cert-file and --key-file go together")
	}
	abs := func(flag, f string) (string, error) {
		if f == "" {
			return "", nil
		}
		if _, err := os.Stat(f); err != nil {
			return "", usageErrorf("init: %s %q: %v", flag, f, pemutil.PathErr(err))
		}
		return filepath.Abs(f)
	}
	if p.caFile, err = abs("--ca-file", caFile); err != nil {
		return nil, err
	}
	if p.certFile, err = abs("--cert-file", certFile); err != nil {
		return nil, err
	}
	if p.keyFile, err = abs("--key-file", keyFile); err != nil {
		return nil, err
	}
	if p.caFile != "" {
		data, err := os.ReadFile(p.caFile)
		if err != nil {
			return nil, usageErrorf("init: --ca-file %q: %v", caFile, pemutil.PathErr(err))
		}
		// As mtls will check it when the gateway loads it.
		if _, errs := pemutil.ParseCAs(data); len(errs) > 0 {
			return nil, usageErrorf("init: --ca-file %q: %v", caFile, errs[0])
		}
	}
	if p.certFile != "" {
		if err := gateway.CheckServerCertificateFiles(p.certFile, p.keyFile, p.serverNames()); err != nil {
			return nil, usageErrorf("init: --cert-file %q: %v", certFile, err)
		}
	}
	return p, nil
}

// forwardsToItself reports whether upstream u names the socket the
// gateway listens on: on this machine (localhost, a loopback address) or
// by the listener's own host.
func forwardsToItself(u *url.URL, listen string) bool {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	host := u.Hostname()
	ip, err := netip.ParseAddr(host)
	local := strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") || err == nil && ip.IsLoopback()
	// A listener on every interface takes a remote host's port too:
	// only a local upstream can be it then.
	listenHost, _, _ := net.SplitHostPort(listen)
	lip, err := netip.ParseAddr(listenHost)
	everywhere := listenHost == "" || err == nil && lip.IsUnspecified()
	return (local || !everywhere) && listenaddr.Same(listen, net.JoinHostPort(host, port))
}

// checkListen checks a host:port listen address; loopback requires a
// loopback host.
func checkListen(addr string, loopback bool) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, for example 127.0.0.1:8443")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return errors.New("port must be 0 (a free port) to 65535")
	}
	if host == "" || host == "localhost" {
		if loopback && host == "" {
			return errors.New("must be a loopback address such as 127.0.0.1:9090")
		}
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if err := checkDNSName(host, false); err != nil {
			return fmt.Errorf("host: %v", err)
		}
		if loopback {
			return errors.New("must be a loopback address such as 127.0.0.1:9090")
		}
		return nil
	}
	if loopback && !ip.IsLoopback() {
		return errors.New("must be a loopback address such as 127.0.0.1:9090")
	}
	return nil
}

// serverNames are the names the server certificate must cover: localhost
// when the listener is bound to loopback (or to every interface), and
// every --host.
func (p *initPlan) serverNames() []string {
	var names []string
	host, _, _ := net.SplitHostPort(p.listen)
	if ip, err := netip.ParseAddr(host); host == "" || host == "localhost" || err == nil && ip.IsLoopback() {
		names = append(names, "localhost")
	}
	names = append(names, p.hosts...)
	for _, ip := range p.ips {
		names = append(names, ip.String())
	}
	return names
}

// devCA reports whether init makes a development CA: for the client
// certificates (no --ca-file) or for the server certificate (no
// --cert-file).
func (p *initPlan) devCA() bool { return p.caFile == "" || p.certFile == "" }

// files are the paths init writes, relative to p.dir.
func (p *initPlan) files() []string {
	out := []string{defaultConfigFile, "pki/csrf.key"}
	if p.devCA() {
		out = append(out, "pki/"+pki.CAFile, "pki/"+pki.CAKeyFile, "pki/"+pki.CRLFile)
	}
	if p.certFile == "" {
		out = append(out, "pki/"+pki.ServerFile, "pki/"+pki.ServerKeyFile)
	}
	if p.caFile == "" {
		out = append(out, "pki/"+pki.ClientFile, "pki/"+pki.ClientKeyFile, "pki/"+pki.ClientP12File)
	}
	return out
}

// refuseOverwrite fails if any file init writes exists, unless --force.
func (p *initPlan) refuseOverwrite() error {
	if p.force {
		return nil
	}
	for _, f := range p.files() {
		path := filepath.Join(p.dir, f)
		if _, err := os.Lstat(path); err == nil {
			return fmt.Errorf("init: %s already exists: use --force to replace it (and the other files init writes)", path)
		}
	}
	return nil
}

func (p *initPlan) run(stdout, stderr io.Writer) (err error) {
	// Every file is checked before any is written: a refusal leaves the
	// folder as it was.
	if err := p.checkGoSource(stderr); err != nil {
		return err
	}
	if err := p.refuseOverwrite(); err != nil {
		return err
	}
	pkiDir := filepath.Join(p.dir, "pki")
	// The keys go into a folder no one else may write, or nowhere: serve
	// would refuse them there, after init had written them all.
	if err := openfolder.Check(filepath.Join(pkiDir, pki.CAKeyFile)); err != nil {
		return fmt.Errorf("init: %v", err)
	}
	_, statErr := os.Lstat(pkiDir)
	madePKIDir := errors.Is(statErr, fs.ErrNotExist)
	if err := os.MkdirAll(pkiDir, 0o700); err != nil {
		return fmt.Errorf("init: %v", err)
	}
	// Under the lock, "pki" commands in pki/ are refused until init is
	// done, and the files are checked again: another init may have
	// written them since.
	unlock, err := dirlock.Lock(pkiDir)
	if err != nil {
		return fmt.Errorf("init: %v", err)
	}
	defer unlock()
	if err := p.refuseOverwrite(); err != nil {
		return err
	}
	// A failure part way (a folder that cannot take forgeproof.yaml, a
	// full disk) removes what this run created: left in place, those
	// files would make the rerun refuse ("already exists") a setup that
	// never worked. Files --force replaced stay replaced.
	//
	// forgeproof.yaml sits outside the locked folder: it joins the list
	// only once this run wrote it, so that a failed write never removes
	// a file another process created meanwhile.
	cfgPath := filepath.Join(p.dir, defaultConfigFile)
	var created []string
	cfgAbsent := false
	for _, f := range append(p.files(), "pki/.gitignore") {
		path := filepath.Join(p.dir, f)
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			if path == cfgPath {
				cfgAbsent = true
				continue
			}
			created = append(created, path)
		}
	}
	if madePKIDir {
		created = append(created, pkiDir) // last: removed once empty
	}
	defer func() {
		if err != nil {
			for _, path := range created {
				os.Remove(path)
			}
		}
	}()
	ignored, err := writeGitignore(pkiDir)
	if err != nil {
		return fmt.Errorf("init: %v", err)
	}
	var wrote []string
	if p.devCA() {
		ca, err := pki.NewCA(pki.CAOptions{CommonName: "forgeproof development CA"})
		if err != nil {
			return fmt.Errorf("init: %v", err)
		}
		if err := ca.Save(pkiDir); err != nil {
			return fmt.Errorf("init: %v", err)
		}
		crl, err := ca.Revoke(nil)
		if err != nil {
			return fmt.Errorf("init: %v", err)
		}
		if err := pki.SaveCRL(pkiDir, crl); err != nil {
			return fmt.Errorf("init: %v", err)
		}
		wrote = append(wrote, pki.CAFile, pki.CAKeyFile, pki.CRLFile)
		if p.certFile == "" {
			opts := pki.ServerOptions{
				DNSNames:    append([]string{"localhost"}, p.hosts...),
				IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
				NotAfter:    time.Now().Add(pki.DefaultLeafValidity),
			}
			for _, ip := range p.ips {
				opts.IPAddresses = append(opts.IPAddresses, net.IP(ip.AsSlice()))
			}
			srv, err := ca.IssueServer(opts)
			if err != nil {
				return fmt.Errorf("init: %v", err)
			}
			if err := srv.Save(pkiDir, pki.ServerFile, pki.ServerKeyFile); err != nil {
				return fmt.Errorf("init: %v", err)
			}
			wrote = append(wrote, pki.ServerFile, pki.ServerKeyFile)
		}
		if p.caFile == "" {
			cl, err := ca.IssueClient(pki.ClientOptions{CommonName: "forgeproof-client", NotAfter: time.Now().Add(pki.DefaultLeafValidity)})
			if err != nil {
				return fmt.Errorf("init: %v", err)
			}
			if err := cl.Save(pkiDir, pki.ClientFile, pki.ClientKeyFile); err != nil {
				return fmt.Errorf("init: %v", err)
			}
			pfx, err := cl.PKCS12("")
			if err != nil {
				return fmt.Errorf("init: %v", err)
			}
			if err := pki.WriteSecretFile(filepath.Join(pkiDir, pki.ClientP12File), pfx); err != nil {
				return fmt.Errorf("init: %v", err)
			}
			wrote = append(wrote, pki.ClientFile, pki.ClientKeyFile, pki.ClientP12File)
		}
	}
	key := base64.StdEncoding.EncodeToString(csrf.GenerateKey())
	keyFile := "# forgeproof CSRF token key ring: the first key signs, every key verifies.\n" + key + "\n"
	if err := pki.WriteSecretFile(filepath.Join(pkiDir, "csrf.key"), []byte(keyFile)); err != nil {
		return fmt.Errorf("init: %v", err)
	}
	wrote = append(wrote, "csrf.key")
	var cfg bytes.Buffer
	if err := configTemplate.Execute(&cfg, p.templateData()); err != nil {
		return fmt.Errorf("init: %v", err)
	}
	// Checked before writing: init must never leave a config that serve
	// refuses.
	if _, err := gateway.ParseConfig(cfgPath, cfg.Bytes()); err != nil {
		return fmt.Errorf("init: internal error: the config written does not parse: %v", err)
	}
	// A forgeproof.yaml absent when looked at is created, never replaced:
	// one another process wrote since (outside the locked folder) stays.
	testHookBeforeConfigWrite(cfgPath)
	var werr error
	if cfgAbsent {
		werr = atomicfile.Create(atomicfile.File{Path: cfgPath, Data: cfg.Bytes(), Perm: 0o644})
		if errors.Is(werr, fs.ErrExist) {
			return fmt.Errorf("init: %s appeared while init ran: left as it is", cfgPath)
		}
	} else {
		werr = pki.WritePublicFile(cfgPath, cfg.Bytes())
	}
	if werr != nil {
		return fmt.Errorf("init: cannot write %s: %v", cfgPath, pemutil.PathErr(werr))
	}
	if cfgAbsent {
		created = append([]string{cfgPath}, created...)
	}
	if _, err := gateway.LoadConfig(cfgPath); err != nil {
		var errs gateway.ConfigErrors
		if errors.As(err, &errs) {
			for _, e := range errs {
				fmt.Fprintf(stdout, "warning: %s\n", e)
			}
		}
		return fmt.Errorf("init: the config written does not check: %v", err)
	}
	fmt.Fprintf(stdout, "wrote %s\n", cfgPath)
	for _, f := range wrote {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(pkiDir, f))
	}
	ignored.report(stdout, pkiDir)
	p.printNextSteps(stdout)
	return nil
}

// testHookBeforeConfigWrite lets a test create forgeproof.yaml between
// init's check and its write.
var testHookBeforeConfigWrite = func(path string) {}

type configData struct {
	Upstream, Listen, Admin         string
	CertFile, KeyFile, ClientCAFile string
	CRLFile                         string
}

func (p *initPlan) templateData() configData {
	d := configData{Upstream: p.upstream, Listen: p.listen, Admin: p.admin,
		CertFile: "pki/" + pki.ServerFile, KeyFile: "pki/" + pki.ServerKeyFile,
		ClientCAFile: "pki/" + pki.CAFile, CRLFile: "pki/" + pki.CRLFile}
	if p.certFile != "" {
		d.CertFile, d.KeyFile = p.certFile, p.keyFile
	}
	if p.caFile != "" {
		d.ClientCAFile, d.CRLFile = p.caFile, ""
	}
	return d
}

// yamlString quotes s for a YAML flow scalar.
func yamlString(s string) string { return strconv.Quote(s) }

var configTemplate = template.Must(template.New("config").Funcs(template.FuncMap{"q": yamlString}).Parse(`# forgeproof gateway config, written by "forgeproof init". Check it with
#   forgeproof check-config forgeproof.yaml
# and run it with "forgeproof serve" in this folder. Relative file names
# are relative to this file's folder. Every key:
# https://github.com/forgeproof/forgeproof/blob/main/docs/gateway.md#config-keys

listeners:
  - # Where browsers and services connect (host:port).
    address: {{q .Listen}}
    tls:
      # The server certificate (and intermediates) and its key.
      cert-file: {{q .CertFile}}
      key-file: {{q .KeyFile}}
      # The CAs that issue client certificates.
      client-ca-files: [{{q .ClientCAFile}}]
{{- if .CRLFile}}
      # Revoked client certificates ("forgeproof pki revoke --dir pki").
      # The CRL is valid for 7 days, then every client is refused
      # (crl-stale): renew it daily with
      # "forgeproof pki revoke --dir pki --refresh".
      crl-files: [{{q .CRLFile}}]
{{- end}}
      # verify-if-given: a client certificate is asked for and verified
      # when sent, so a browser without one gets a readable 403 instead
      # of a TLS error. "require" refuses such connections at the handshake.
      client-auth: verify-if-given

routes:
  - name: app
    # Every host and path goes to the service.
    path-prefix: /
    upstream: {{q .Upstream}}
    # Who may call: any certificate the CAs above issued. Add
    # "unauthenticated: true" for public pages (CSRF checks still apply),
    # or narrow it with spiffe-ids, dns-names, common-names, ...
    allow:
      any-verified: true
    csrf:
      # origin-only: a state-changing request (POST, PUT, PATCH, DELETE)
      # from a browser must come from this origin (Sec-Fetch-Site, then
      # Origin, then Referer); clients that send neither header, such as
      # curl and services, pass. The app needs no change. Token modes
      # (origin-and-token) also need the app to put a token in its forms,
      # and refuse curl and services without one: keep those on a route
      # of their own in origin-only mode.
      mode: origin-only
    # Hardens the cookies the service sets: Secure (HTTPS only) and
    # SameSite=Lax (not sent on cross-site POSTs).
    cookies:
      secure: true
      same-site: lax
      # Also hide them from page scripts, if the app's scripts never
      # read its cookies:
      # http-only: true
      # Rename the session cookie to __Host-<name> (no other host can set
      # it); the gateway renames it back for the service:
      # host-prefix: session

# The token key ring, 0600: used by routes whose CSRF mode uses tokens.
tokens:
  key-file: pki/csrf.key

# Health (/healthz, /readyz) and Prometheus metrics (/metrics); "off"
# disables it.
admin:
  address: {{q .Admin}}

log:
  # json (default) or text.
  format: text
`))

// printNextSteps tells the user how to run and use what init made.
func (p *initPlan) printNextSteps(w io.Writer) {
	q := shellquote.Quote
	rel := func(f string) string { return q(filepath.Join(p.dir, f)) }
	host, port, _ := net.SplitHostPort(p.listen)
	// localhost for a loopback listener; else the first --host, which
	// the certificate covers, then the listen address.
	urlHost := "localhost"
	ip, err := netip.ParseAddr(host)
	loopback := host == "localhost" || err == nil && ip.IsLoopback()
	switch {
	case !loopback && len(p.hosts) > 0:
		urlHost = p.hosts[0]
	case !loopback && host != "":
		urlHost = host
	}
	base := "https://" + net.JoinHostPort(urlHost, port)
	serve := "forgeproof serve"
	where := "it reads ./" + defaultConfigFile
	if filepath.Clean(p.dir) != "." {
		serve = "forgeproof serve --config " + rel(defaultConfigFile)
		where = "or run \"forgeproof serve\" in " + q(p.dir)
	}
	fmt.Fprintf(w, "\nNext steps:\n\n")
	fmt.Fprintf(w, "1. Start the gateway (%s; stop with Ctrl-C):\n\n  %s\n\n", where, serve)
	curl := "curl --cacert " + rel("pki/"+pki.CAFile)
	if p.certFile != "" {
		curl = "curl" // the user's server certificate: trusted by the system, or add --cacert
	}
	if p.caFile == "" {
		fmt.Fprintf(w, "2. Call it as a service client, with the client certificate:\n\n  %s --cert %s --key %s %s/\n\n",
			curl, rel("pki/"+pki.ClientFile), rel("pki/"+pki.ClientKeyFile), base)
	} else {
		fmt.Fprintf(w, "2. Call it as a service client, with a certificate your CA issued:\n\n  %s --cert CLIENT.pem --key CLIENT-key.pem %s/\n\n", curl, base)
	}
	if p.certFile != "" {
		fmt.Fprintf(w, "   (add --cacert FILE, the CA of %s, unless the system trusts it)\n\n", q(p.certFile))
	}
	if p.caFile != "" {
		fmt.Fprintf(w, "3. In a browser, import a client certificate your CA issued, then open %s/\n", base)
		return
	}
	p12, ca := rel("pki/"+pki.ClientP12File), rel("pki/"+pki.CAFile)
	fmt.Fprintf(w, "3. In a browser, import the client certificate %s (empty password)\n", p12)
	if p.certFile == "" {
		fmt.Fprintf(w, "   and trust the development CA %s for websites:\n", ca)
	}
	fmt.Fprintf(w, `
   Chrome, Edge:  chrome://certificate-manager (Settings > Privacy and security >
                  Security > Manage certificates):
                  "Your certificates" > Import: client.p12;
                  "Local certificates" > "Custom" > "Trusted certificates" > Import: ca.pem
                  (older versions: "Authorities" > Import, trusted for identifying websites)
   Firefox:       Settings > Privacy & Security > Certificates > View Certificates:
                  "Your Certificates" > Import: client.p12;
                  "Authorities" > Import: ca.pem, "Trust this CA to identify websites"
   Chromium on Linux, from a shell (the first line creates the database
   when Chromium has never run for this user):
                  [ -e ~/.pki/nssdb/cert9.db ] || { mkdir -p ~/.pki/nssdb && certutil -N -d "sql:$HOME/.pki/nssdb" --empty-password; }
                  pk12util -d "sql:$HOME/.pki/nssdb" -i %s -W ''
                  certutil -d "sql:$HOME/.pki/nssdb" -A -t C,, -n 'forgeproof development CA' -i %s

   then open %s/ and pick the certificate when asked.
`, p12, ca, base)
}

// checkGoSource refuses a DIR whose pki/ is a Go package (a Go module
// with a package named pki, or the forgeproof source tree itself):
// init's keys and pki/.gitignore would land among its source files,
// even with --force, which is about replacing init's own files. In any
// other Go module it notes on stderr that the keys go into the source
// tree.
func (p *initPlan) checkGoSource(stderr io.Writer) error {
	pkiDir := filepath.Join(p.dir, "pki")
	if gofiles, _ := filepath.Glob(filepath.Join(pkiDir, "*.go")); len(gofiles) > 0 {
		return fmt.Errorf("init: %s holds Go source files (%s): init would write its keys and a .gitignore among them; give it a folder of its own, outside the source tree, such as --dir %s",
			pkiDir, filepath.Base(gofiles[0]), filepath.Join(p.dir, "..", "forgeproof-gateway"))
	}
	if _, err := os.Stat(filepath.Join(p.dir, "go.mod")); err == nil {
		where, _ := filepath.Abs(p.dir)
		fmt.Fprintf(stderr, "forgeproof init: note: %s is a Go module (go.mod): pki/ goes beside its packages, holding private keys that pki/.gitignore keeps out of git; --dir writes elsewhere\n", where)
	}
	return nil
}
