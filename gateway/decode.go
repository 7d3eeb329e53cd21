package gateway

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// maxConfigBytes bounds the config file: it is small, and a huge one is a
// mistake (or an attack on a reloading process).
const maxConfigBytes = 4 << 20

// LoadConfig reads and validates the YAML config file at path. Relative
// file names in it are relative to the config file's folder. The error,
// when not nil, is a ConfigErrors listing every problem found with its
// file, line and key. LoadConfig reads the files the config names
// (certificates, CAs, CRLs, the key ring) to check them, but does not
// listen on anything.
func LoadConfig(path string) (*Config, error) {
	cfg, err := readConfig(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// readConfig is LoadConfig without the validation, for callers that
// compile the config next anyway (Gateway.ReloadFile).
func readConfig(path string) (*Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, ConfigErrors{{File: path, Msg: err.Error()}}
	}
	cfg, err := ParseConfig(path, data)
	if err != nil {
		return nil, err
	}
	cfg.resolvePaths(filepath.Dir(path))
	return cfg, nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, errors.Unwrap(err) // the path is already in the error's File
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxConfigBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxConfigBytes)
	}
	return data, nil
}

// ParseConfig decodes a YAML config without validating it (see
// Config.Validate). name is used in error messages; file names in the
// config are kept as written (LoadConfig makes them relative to the
// file's folder). Unknown keys, wrong types, duplicate keys, aliases and
// malformed durations are errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	d := &decoder{lines: map[string]int{}}
	cfg := &Config{file: name, lines: d.lines}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, ConfigErrors{{File: name, Msg: "empty config"}}
		}
		return nil, ConfigErrors{yamlError(name, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, ConfigErrors{{File: name, Line: extra.Line, Msg: "more than one YAML document"}}
	} else if !errors.Is(err, io.EOF) {
		return nil, ConfigErrors{yamlError(name, err)}
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	d.config(root, cfg)
	if len(d.errs) > 0 {
		for _, e := range d.errs {
			e.File = name
		}
		return nil, d.errs
	}
	return cfg, nil
}

// resolvePaths makes the relative file names of c relative to dir.
func (c *Config) resolvePaths(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	all := func(ps []string) {
		for i := range ps {
			abs(&ps[i])
		}
	}
	for i := range c.Listeners {
		t := &c.Listeners[i].TLS
		abs(&t.CertFile)
		abs(&t.KeyFile)
		for j := range t.Certificates {
			abs(&t.Certificates[j].CertFile)
			abs(&t.Certificates[j].KeyFile)
		}
		all(t.ClientCAFiles)
		all(t.CRLFiles)
	}
	abs(&c.Tokens.KeyFile)
	if a := c.Authz; a != nil {
		if a.TLS != nil {
			abs(&a.TLS.CertFile)
			abs(&a.TLS.KeyFile)
			all(a.TLS.ClientCAFiles)
		}
		all(a.ClientCertificates.CAFiles)
		all(a.ClientCertificates.CRLFiles)
	}
	for i := range c.Routes {
		r := &c.Routes[i]
		abs(&r.UpstreamCAFile)
		abs(&r.UpstreamCertFile)
		abs(&r.UpstreamKeyFile)
	}
}

// yamlError turns a YAML syntax error ("yaml: line 3: mapping values are
// not allowed in this context") into a ConfigError with its line.
func yamlError(file string, err error) *ConfigError {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	// go-yaml leaves the line out of errors on the first line.
	e := &ConfigError{File: file, Line: 1, Msg: msg}
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, after, ok := strings.Cut(rest, ": "); ok {
			if n, err := strconv.Atoi(num); err == nil {
				e.Line, e.Msg = n, after
			}
		}
	}
	return e
}

// decoder walks the YAML node tree, records the line of every key it
// decodes (for validation errors later) and collects every error.
type decoder struct {
	lines map[string]int
	errs  ConfigErrors
}

func (d *decoder) errorf(n *yaml.Node, key, format string, a ...any) {
	d.errs = append(d.errs, &ConfigError{Line: n.Line, Key: key, Msg: fmt.Sprintf(format, a...)})
}

// fields decodes a mapping: each key must be one of fields.
func (d *decoder) fields(n *yaml.Node, path string, fields map[string]func(key string, v *yaml.Node)) {
	if !d.kind(n, path, yaml.MappingNode, "a mapping") {
		return
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		key := k.Value
		full := key
		if path != "" {
			full = path + "." + key
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, path, "keys must be plain strings")
			continue
		}
		if seen[key] {
			d.errorf(k, full, "duplicate key")
			continue
		}
		seen[key] = true
		f, ok := fields[key]
		if !ok {
			d.errorf(k, full, "unknown key")
			continue
		}
		d.lines[full] = k.Line
		if v.Kind == yaml.AliasNode {
			d.errorf(v, full, "YAML aliases are not supported")
			continue
		}
		f(full, v)
	}
}

// kind checks n's kind; a YAML null counts as absent and reports false
// without an error for mappings and sequences.
func (d *decoder) kind(n *yaml.Node, path string, want yaml.Kind, what string) bool {
	if n.Kind == want {
		return true
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return false
	}
	if n.Kind == yaml.AliasNode {
		d.errorf(n, path, "YAML aliases are not supported")
		return false
	}
	d.errorf(n, path, "must be %s", what)
	return false
}

func (d *decoder) scalar(n *yaml.Node, path string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, path, "must be a single value")
		return "", false
	}
	return n.Value, true
}

func (d *decoder) str(dst *string) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		if s, ok := d.scalar(n, path); ok && n.Tag != "!!null" {
			*dst = s
		}
	}
}

func (d *decoder) boolean(dst *bool) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		switch s {
		case "true":
			*dst = true
		case "false":
			*dst = false
		default:
			d.errorf(n, path, "must be true or false, not %q", s)
		}
	}
}

func (d *decoder) boolPtr(dst **bool) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		var b bool
		before := len(d.errs)
		d.boolean(&b)(path, n)
		if len(d.errs) == before {
			*dst = &b
		}
	}
}

func (d *decoder) duration(dst *time.Duration) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		v, err := time.ParseDuration(s)
		if err != nil || v < 0 {
			d.errorf(n, path, "invalid duration %q: want a non-negative Go duration such as \"30s\" or \"1m30s\"", s)
			return
		}
		*dst = v
	}
}

func (d *decoder) integer(dst *int64) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		s, ok := d.scalar(n, path)
		if !ok {
			return
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v < 0 {
			d.errorf(n, path, "invalid number %q: want a non-negative integer", s)
			return
		}
		*dst = v
	}
}

func (d *decoder) intField(dst *int) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		var v int64
		before := len(d.errs)
		d.integer(&v)(path, n)
		if len(d.errs) > before {
			return
		}
		if v > 1<<31-1 {
			d.errorf(n, path, "number %d is too large", v)
			return
		}
		*dst = int(v)
	}
}

// strings decodes a sequence of strings; a single string is accepted as a
// one-element list.
func (d *decoder) strings(dst *[]string) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && n.Tag != "!!null" {
			*dst = []string{n.Value}
			return
		}
		if !d.kind(n, path, yaml.SequenceNode, "a list of strings") {
			return
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			d.lines[p] = item.Line
			if s, ok := d.scalar(item, p); ok {
				*dst = append(*dst, s)
			}
		}
	}
}

// list decodes a sequence of mappings, calling item for each.
func (d *decoder) list(n *yaml.Node, path string, item func(path string, n *yaml.Node)) {
	if !d.kind(n, path, yaml.SequenceNode, "a list") {
		return
	}
	for i, c := range n.Content {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = c.Line
		item(p, c)
	}
}

func (d *decoder) config(n *yaml.Node, c *Config) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		d.errorf(n, "", "empty config")
		return
	}
	d.fields(n, "", map[string]func(string, *yaml.Node){
		"listeners": func(p string, v *yaml.Node) {
			d.list(v, p, func(p string, v *yaml.Node) {
				c.Listeners = append(c.Listeners, Listener{})
				d.listener(v, p, &c.Listeners[len(c.Listeners)-1])
			})
		},
		"routes": func(p string, v *yaml.Node) {
			d.list(v, p, func(p string, v *yaml.Node) {
				c.Routes = append(c.Routes, Route{})
				d.route(v, p, &c.Routes[len(c.Routes)-1])
			})
		},
		"trusted-proxies": d.strings(&c.TrustedProxies),
		"trusted-forwarders": func(p string, v *yaml.Node) {
			d.list(v, p, func(p string, v *yaml.Node) {
				c.TrustedForwarders = append(c.TrustedForwarders, Forwarder{})
				f := &c.TrustedForwarders[len(c.TrustedForwarders)-1]
				d.fields(v, p, map[string]func(string, *yaml.Node){
					"addresses":  d.strings(&f.Addresses),
					"spiffe-ids": d.strings(&f.SPIFFEIDs),
					"header":     d.str(&f.Header),
				})
			})
		},
		"tokens": func(p string, v *yaml.Node) {
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"key-file":                               d.str(&c.Tokens.KeyFile),
				"session-cookie":                         d.str(&c.Tokens.SessionCookie),
				"insecure-allow-group-readable-key-file": d.boolean(&c.Tokens.InsecureAllowGroupReadableKeyFile),
			})
		},
		"authz": func(p string, v *yaml.Node) {
			if !d.kind(v, p, yaml.MappingNode, "a mapping") {
				return
			}
			c.Authz = &Authz{}
			d.authz(v, p, c.Authz)
		},
		"identity-forwarding":   d.str(&c.IdentityForwarding),
		"strip-request-headers": d.strings(&c.StripRequestHeaders),
		"admin": func(p string, v *yaml.Node) {
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"address":                     d.str(&c.Admin.Address),
				"insecure-allow-non-loopback": d.boolean(&c.Admin.InsecureAllowNonLoopback),
			})
		},
		"log": func(p string, v *yaml.Node) {
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"format": d.str(&c.Log.Format),
				"level":  d.str(&c.Log.Level),
			})
		},
		"limits": func(p string, v *yaml.Node) {
			l := &c.Limits
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"read-header-timeout":              d.duration(&l.ReadHeaderTimeout),
				"read-timeout":                     d.duration(&l.ReadTimeout),
				"write-timeout":                    d.duration(&l.WriteTimeout),
				"idle-timeout":                     d.duration(&l.IdleTimeout),
				"max-header-bytes":                 d.intField(&l.MaxHeaderBytes),
				"max-body-bytes":                   d.integer(&l.MaxBodyBytes),
				"http2-max-concurrent-streams":     d.intField(&l.HTTP2MaxConcurrentStreams),
				"http2-read-idle-timeout":          d.duration(&l.HTTP2ReadIdleTimeout),
				"http2-ping-timeout":               d.duration(&l.HTTP2PingTimeout),
				"upstream-dial-timeout":            d.duration(&l.UpstreamDialTimeout),
				"upstream-tls-handshake-timeout":   d.duration(&l.UpstreamTLSHandshakeTimeout),
				"upstream-response-header-timeout": d.duration(&l.UpstreamResponseHeaderTimeout),
				"upstream-idle-conn-timeout":       d.duration(&l.UpstreamIdleConnTimeout),
				"upstream-max-idle-conns-per-host": d.intField(&l.UpstreamMaxIdleConnsPerHost),
				"shutdown-grace":                   d.duration(&l.ShutdownGrace),
				"shutdown-delay":                   d.duration(&l.ShutdownDelay),
			})
		},
	})
}

func (d *decoder) listener(n *yaml.Node, path string, l *Listener) {
	d.fields(n, path, map[string]func(string, *yaml.Node){
		"address": d.str(&l.Address),
		"http2":   d.str(&l.HTTP2),
		"proxy-protocol": func(p string, v *yaml.Node) {
			pp := &ProxyProtocol{}
			if !d.kind(v, p, yaml.MappingNode, "a mapping (trusted, optional, header-timeout)") {
				return
			}
			l.ProxyProtocol = pp
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"trusted":        d.strings(&pp.Trusted),
				"optional":       d.boolean(&pp.Optional),
				"header-timeout": d.duration(&pp.HeaderTimeout),
			})
		},
		"tls": func(p string, v *yaml.Node) {
			t := &l.TLS
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"cert-file":        d.str(&t.CertFile),
				"key-file":         d.str(&t.KeyFile),
				"certificates":     d.serverCertificates(&t.Certificates),
				"client-ca-files":  d.strings(&t.ClientCAFiles),
				"client-auth":      d.str(&t.ClientAuth),
				"crl-files":        d.strings(&t.CRLFiles),
				"crl-grace-period": d.duration(&t.CRLGracePeriod),
				"min-version":      d.str(&t.MinVersion),
				"check-host":       d.boolean(&t.CheckHost),
			})
		},
	})
}

// allow decodes an allow list (routes[].allow, authz.tls.allow).
func (d *decoder) allow(a *Allow) func(string, *yaml.Node) {
	return func(p string, v *yaml.Node) {
		d.fields(v, p, map[string]func(string, *yaml.Node){
			"any-verified":         d.boolean(&a.AnyVerified),
			"unauthenticated":      d.boolean(&a.Unauthenticated),
			"cors-preflights":      d.boolean(&a.CORSPreflights),
			"spiffe-ids":           d.strings(&a.SPIFFEIDs),
			"trust-domains":        d.strings(&a.TrustDomains),
			"dns-names":            d.strings(&a.DNSNames),
			"common-names":         d.strings(&a.CommonNames),
			"organizational-units": d.strings(&a.OrganizationalUnits),
			"spki-pins":            d.strings(&a.SPKIPins),
		})
	}
}

// authz decodes the authz section.
func (d *decoder) authz(n *yaml.Node, path string, a *Authz) {
	d.fields(n, path, map[string]func(string, *yaml.Node){
		"address":         d.str(&a.Address),
		"proxy":           d.str(&a.Proxy),
		"trusted-callers": d.strings(&a.TrustedCallers),
		"header-tokens":   d.boolean(&a.HeaderTokens),
		"tls": func(p string, v *yaml.Node) {
			if !d.kind(v, p, yaml.MappingNode, "a mapping (cert-file, key-file, client-ca-files, allow)") {
				return
			}
			t := &AuthzTLS{}
			a.TLS = t
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"cert-file":       d.str(&t.CertFile),
				"key-file":        d.str(&t.KeyFile),
				"client-ca-files": d.strings(&t.ClientCAFiles),
				"allow":           d.allow(&t.Allow),
			})
		},
		"client-certificates": func(p string, v *yaml.Node) {
			c := &a.ClientCertificates
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"verified-by-proxy": d.boolean(&c.VerifiedByProxy),
				"ca-files":          d.strings(&c.CAFiles),
				"crl-files":         d.strings(&c.CRLFiles),
				"crl-grace-period":  d.duration(&c.CRLGracePeriod),
			})
		},
	})
}

// serverCertificates decodes listeners[].tls.certificates, a list of
// {cert-file, key-file}.
func (d *decoder) serverCertificates(dst *[]ServerCertificate) func(string, *yaml.Node) {
	return func(path string, n *yaml.Node) {
		d.list(n, path, func(p string, v *yaml.Node) {
			*dst = append(*dst, ServerCertificate{})
			c := &(*dst)[len(*dst)-1]
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"cert-file": d.str(&c.CertFile),
				"key-file":  d.str(&c.KeyFile),
			})
		})
	}
}

func (d *decoder) route(n *yaml.Node, path string, r *Route) {
	d.fields(n, path, map[string]func(string, *yaml.Node){
		"name":                     d.str(&r.Name),
		"host":                     d.str(&r.Host),
		"path-prefix":              d.str(&r.PathPrefix),
		"upstream":                 d.str(&r.Upstream),
		"upstream-ca-file":         d.str(&r.UpstreamCAFile),
		"upstream-cert-file":       d.str(&r.UpstreamCertFile),
		"upstream-key-file":        d.str(&r.UpstreamKeyFile),
		"upstream-server-name":     d.str(&r.UpstreamServerName),
		"browsers":                 d.boolPtr(&r.Browsers),
		"allow-underscore-headers": d.boolean(&r.AllowUnderscoreHeaders),
		"allow":                    d.allow(&r.Allow),
		"csrf": func(p string, v *yaml.Node) {
			c := &r.CSRF
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"mode":            d.str(&c.Mode),
				"report-only":     d.boolean(&c.ReportOnly),
				"trusted-origins": d.strings(&c.TrustedOrigins),
				"allow-same-site": d.boolean(&c.AllowSameSite),
				"spa":             d.boolean(&c.SPA),
			})
		},
		"cookies": func(p string, v *yaml.Node) {
			c := &r.Cookies
			d.fields(v, p, map[string]func(string, *yaml.Node){
				"secure":             d.boolean(&c.Secure),
				"http-only":          d.boolean(&c.HTTPOnly),
				"same-site":          d.str(&c.SameSite),
				"override-same-site": d.boolean(&c.OverrideSameSite),
				"host-prefix":        d.str(&c.HostPrefix),
			})
			// A cookies mapping without same-site adds SameSite=Lax.
			if v.Kind == yaml.MappingNode && c.SameSite == "" {
				c.SameSite = SameSiteLax
			}
		},
	})
}
