package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

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
// each pair must load, its leaf parse, and it must not have expired. It
// returns every problem, each naming its field; read records the files it
// read.
func loadCertificates(cfg *ServerConfig, now time.Time, read func(file string, data []byte)) (*certSet, []error) {
	set := &certSet{exact: map[string]*tls.Certificate{}, wildcard: map[string]*tls.Certificate{}}
	if cfg.VerifyOnly {
		if len(cfg.Certificates) > 0 {
			return nil, []error{configErrorf("Certificates", "VerifyOnly takes no server certificate: it serves no handshake")}
		}
		return set, nil
	}
	if len(cfg.Certificates) == 0 {
		return nil, []error{configErrorf("Certificates", "no server certificate")}
	}
	var errs []error
	owner := map[string]int{} // DNS name -> index, for the duplicate error
	for i, kp := range cfg.Certificates {
		field := fmt.Sprintf("Certificates[%d]", i)
		c, err := kp.load(field, cfg, read)
		if err != nil {
			errs = append(errs, err...)
			continue
		}
		if now.After(c.Leaf.NotAfter) {
			errs = append(errs, configErrorf(kp.field(field), "%s (%q) expired at %s", kp.what(), c.Leaf.Subject.String(), c.Leaf.NotAfter.Format(time.RFC3339)))
			continue
		}
		for _, dns := range c.Leaf.DNSNames {
			name := normalizeName(dns)
			if prev, dup := owner[name]; dup && prev != i {
				errs = append(errs, configErrorf(kp.field(field), "%s and Certificates[%d] (%s) both cover DNS name %q: give each name one certificate", kp.what(), prev, cfg.Certificates[prev].what(), name))
				continue
			}
			owner[name] = i
			if rest, ok := strings.CutPrefix(name, "*."); ok {
				set.wildcard[rest] = c
			} else {
				set.exact[name] = c
			}
		}
		set.all = append(set.all, c)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return set, nil
}

// field is the field an error about the certificate of k names: its
// CertFile, or Certificate.
func (k KeyPair) field(prefix string) string {
	if k.Certificate != nil {
		return prefix + ".Certificate"
	}
	return prefix + ".CertFile"
}

// what names the certificate of k in messages.
func (k KeyPair) what() string {
	if k.Certificate != nil {
		return "the certificate"
	}
	return strconv.Quote(k.CertFile)
}

// load returns the certificate of k with its Leaf, or every problem, each
// naming its field (prefix.CertFile, prefix.KeyFile, prefix.Certificate).
func (k KeyPair) load(prefix string, cfg *ServerConfig, read func(file string, data []byte)) (*tls.Certificate, []error) {
	var c tls.Certificate
	switch {
	case k.Certificate != nil && (k.CertFile != "" || k.KeyFile != ""):
		return nil, []error{configErrorf(prefix, "set CertFile and KeyFile, or Certificate, not both")}
	case k.Certificate != nil:
		c = *k.Certificate
		if len(c.Certificate) == 0 || c.PrivateKey == nil {
			return nil, []error{configErrorf(prefix+".Certificate", "no certificate or no private key")}
		}
	default:
		pair, errs := pemutil.LoadKeyPair(k.CertFile, k.KeyFile, read)
		for i, err := range errs {
			field := prefix + ".CertFile"
			if e, ok := err.(*pemutil.KeyPairError); ok && e.KeyFile {
				field = prefix + ".KeyFile"
			}
			errs[i] = configErrorf(field, "%w", err)
		}
		if errs == nil {
			// After the read, so that Watch knows the files. The
			// certificate file is not checked: another certificate
			// fails without the key.
			if err := cfg.openFolder(k.KeyFile); err != nil {
				errs = append(errs, configErrorf(prefix+".KeyFile", "%w", err))
			}
		}
		if errs != nil {
			return nil, errs
		}
		c = *pair
	}
	if c.Leaf == nil {
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return nil, []error{configErrorf(k.field(prefix), "%w", err)}
		}
		c.Leaf = leaf
	}
	return &c, nil
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

// getCertificate is the tls.Config.GetCertificate of a state. A
// VerifyOnly state has no certificate: its handshakes fail.
func (s *certSet) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(s.all) == 0 {
		return nil, errVerifyOnly
	}
	return s.forName(hello.ServerName), nil
}

var errVerifyOnly = errors.New("mtls: a VerifyOnly server serves no handshake")

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

// Certificates returns the certificates in use: the leaves of the server
// certificates, in the order of ServerConfig.Certificates (the default
// first; none for VerifyOnly), and the client CAs. Use it to watch the
// expiry of each.
func (s *Server) Certificates() (server, clientCAs []*x509.Certificate) {
	st := s.state.Load()
	for _, c := range st.certs.all {
		server = append(server, c.Leaf)
	}
	return server, st.cas
}

// CRLNextUpdate is the earliest NextUpdate of the CRLs in use, or the zero
// time when there are none. Past it (and its grace period), every client
// certificate the CRL covers is refused (crl-stale): alert before.
func (s *Server) CRLNextUpdate() time.Time {
	var next time.Time
	for _, c := range s.state.Load().crls {
		if n := c.list.NextUpdate; !n.IsZero() && (next.IsZero() || n.Before(next)) {
			next = n
		}
	}
	return next
}
