package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"strings"
	"time"
)

// CertKeyFile names a PEM server certificate (with any intermediates after
// it) and its private key, for ServerConfig.Certificates.
type CertKeyFile struct {
	CertFile, KeyFile string
}

// certSet is the server certificates of a state and how the handshake
// picks one by SNI, as nginx picks a server block: an exact DNS name
// first, then a wildcard ("*.example.com" matches one label:
// "a.example.com", not "example.com" nor "a.b.example.com"), else the
// default (all[0]). Names are compared in lower case, without a trailing
// dot. Two certificates with the same DNS name (or the same wildcard) are
// refused at load: which one a client gets would depend on list order.
// IP addresses and the subject common name are not matched (clients send
// no SNI for IP addresses, and browsers ignore the common name).
type certSet struct {
	all      []*tls.Certificate // the default first
	exact    map[string]*tls.Certificate
	wildcard map[string]*tls.Certificate // "example.com" for "*.example.com"
}

// loadCertificates reads and validates every server certificate of cfg:
// each pair must load, its leaf parse, and it must not have expired.
func loadCertificates(cfg *ServerConfig, now time.Time) (*certSet, error) {
	type source struct {
		name      string // for errors: the file, or the field
		cert, key string // files; empty for values
		value     *tls.Certificate
	}
	var srcs []source
	switch {
	case cfg.CertFile != "":
		srcs = append(srcs, source{name: cfg.CertFile, cert: cfg.CertFile, key: cfg.KeyFile})
	case cfg.Certificate != nil:
		srcs = append(srcs, source{name: "Certificate", value: cfg.Certificate})
	}
	for i, f := range cfg.Certificates {
		name := f.CertFile
		if name == "" {
			name = fmt.Sprintf("Certificates[%d]", i)
		}
		srcs = append(srcs, source{name: name, cert: f.CertFile, key: f.KeyFile})
	}
	for i := range cfg.TLSCertificates {
		srcs = append(srcs, source{name: fmt.Sprintf("TLSCertificates[%d]", i), value: &cfg.TLSCertificates[i]})
	}
	if cfg.VerifyOnly {
		if len(srcs) > 0 {
			return nil, fmt.Errorf("VerifyOnly takes no server certificate: it serves no handshake")
		}
		return &certSet{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}, nil
	}
	if len(srcs) == 0 {
		return nil, fmt.Errorf("no server certificate: set CertFile and KeyFile, Certificate, Certificates or TLSCertificates")
	}

	set := &certSet{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	owner := map[string]int{} // DNS name -> index in srcs, for the duplicate error
	for i, src := range srcs {
		var c tls.Certificate
		if src.value != nil {
			c = *src.value
		} else {
			if src.cert == "" || src.key == "" {
				return nil, fmt.Errorf("server certificate %s: both a certificate file and a key file are required", src.name)
			}
			var err error
			if c, err = tls.LoadX509KeyPair(src.cert, src.key); err != nil {
				return nil, fmt.Errorf("server certificate %s / key %s: %w", src.cert, src.key, err)
			}
		}
		if len(c.Certificate) == 0 || c.PrivateKey == nil {
			return nil, fmt.Errorf("server certificate %s: no certificate or no private key", src.name)
		}
		if c.Leaf == nil {
			leaf, err := x509.ParseCertificate(c.Certificate[0])
			if err != nil {
				return nil, fmt.Errorf("server certificate %s: %w", src.name, err)
			}
			c.Leaf = leaf
		}
		if now.After(c.Leaf.NotAfter) {
			return nil, fmt.Errorf("server certificate %s (%q) expired at %s", src.name, c.Leaf.Subject.String(), c.Leaf.NotAfter.Format(time.RFC3339))
		}
		cp := &c
		for _, dns := range c.Leaf.DNSNames {
			name := normalizeName(dns)
			if prev, dup := owner[name]; dup && prev != i {
				return nil, fmt.Errorf("server certificates %s and %s both cover DNS name %q: give each name one certificate", srcs[prev].name, src.name, name)
			}
			owner[name] = i
			if rest, ok := strings.CutPrefix(name, "*."); ok {
				set.wildcard[rest] = cp
			} else {
				set.exact[name] = cp
			}
		}
		set.all = append(set.all, cp)
	}
	return set, nil
}

// forName returns the certificate for a client's SNI, or the default.
func (s *certSet) forName(serverName string) *tls.Certificate {
	if serverName == "" || len(s.all) == 1 {
		return s.all[0]
	}
	name := normalizeName(serverName)
	if c, ok := s.exact[name]; ok {
		return c
	}
	// A wildcard stands for one whole label of a host name, as
	// crypto/x509 matches it: not an empty one, nor one with characters
	// no host name has; "*.example.com" itself matches too (exactly).
	if label, rest, ok := strings.Cut(name, "."); ok && (validLabel(label) || label == "*") {
		if c, ok := s.wildcard[rest]; ok {
			return c
		}
	}
	return s.all[0]
}

// getCertificate is the tls.Config.GetCertificate of a state.
func (s *certSet) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	return s.forName(hello.ServerName), nil
}

// validLabel reports whether s is one label of a (lower case) host name,
// with the characters crypto/x509 accepts in one.
func validLabel(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func normalizeName(name string) string {
	return strings.ToLower(strings.TrimSuffix(name, "."))
}

// Certificates returns the leaves of the server certificates in use, the
// default (Certificate) first, in the order of ServerConfig. Use it to
// watch the expiry of each.
func (s *Server) Certificates() []*x509.Certificate {
	all := s.state.Load().certs.all
	out := make([]*x509.Certificate, len(all))
	for i, c := range all {
		out[i] = c.Leaf
	}
	return out
}
