package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

// state is everything a handshake needs, loaded and validated as a whole.
// It is never modified after load (but for its cache of verified chains);
// a reload swaps in a new one.
type state struct {
	cert       *tls.Certificate // the default: certs.all[0]
	certs      *certSet
	roots      *x509.CertPool
	cas        []*x509.Certificate
	crls       map[string]*crl
	anchorCRLs map[string]*crl // see anchorCRLs
	crlGrace   time.Duration
	allowStale bool
	tlsConfig  *tls.Config // the template GetConfigForClient clones
	// gen identifies this state among every state loaded in the process
	// (Server.Generation).
	gen uint64
	// verified is the one mutable part: chains verified against roots,
	// so that a reload starts with an empty cache (see chainCache).
	verified *chainCache
}

// generations numbers the states loaded in the process, so that a
// generation names one state of one Server: a Server that replaces
// another (ServerConfig.Replaces) never repeats its numbers.
var generations atomic.Uint64

// load reads and validates a new state from cfg; prev (may be nil) is the
// state in use, for the CRL rollback check.
func load(cfg *ServerConfig, prev *state, now time.Time) (*state, error) {
	st := &state{crlGrace: cfg.CRLGracePeriod, allowStale: cfg.InsecureAllowStaleCRL, verified: newChainCache(), gen: generations.Add(1)}

	certs, err := loadCertificates(cfg, now)
	if err != nil {
		return nil, err
	}
	st.certs = certs
	if len(certs.all) > 0 { // none with VerifyOnly
		st.cert = certs.all[0]
	}

	for i, f := range cfg.ClientCAFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ClientCAFiles[%d]: cannot read %q: %w", i, f, pathErr(err))
		}
		cas, err := pemutil.ParseCerts(data)
		if err != nil {
			return nil, fmt.Errorf("ClientCAFiles[%d]: %q: %w", i, f, err)
		}
		st.cas = append(st.cas, cas...)
	}
	st.cas = append(st.cas, cfg.ClientCAs...)
	if len(st.cas) == 0 {
		return nil, errors.New("no client CA: set ClientCAFiles or ClientCAs")
	}
	st.roots = x509.NewCertPool()
	for _, ca := range st.cas {
		if !ca.IsCA {
			return nil, fmt.Errorf("client CA %q is not a CA certificate (basic constraints)", ca.Subject.String())
		}
		st.roots.AddCert(ca)
	}

	var lists []*x509.RevocationList
	var sources []string
	add := func(data []byte, src string) error {
		ls, err := parseCRLs(data, src)
		if err != nil {
			return err
		}
		if len(ls) == 0 {
			return fmt.Errorf("crl %s: %w", src, errNoCRLs)
		}
		for _, l := range ls {
			lists = append(lists, l)
			sources = append(sources, src)
		}
		return nil
	}
	for i, f := range cfg.CRLFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("CRLFiles[%d]: cannot read %q: %w", i, f, pathErr(err))
		}
		if err := add(data, f); err != nil {
			return nil, err
		}
	}
	for i, data := range cfg.CRLs {
		if err := add(data, fmt.Sprintf("CRLs[%d]", i)); err != nil {
			return nil, err
		}
	}
	var prevCRLs map[string]*crl
	if prev != nil {
		prevCRLs = prev.crls
	}
	crls, err := loadCRLs(lists, sources, st.cas, prevCRLs)
	if err != nil {
		return nil, err
	}
	if !st.allowStale {
		for _, c := range crls {
			if c.stale(now, st.crlGrace) {
				return nil, fmt.Errorf("crl %s is stale: next update %s has passed (fetch a new CRL, or set a grace period)", c.source, c.list.NextUpdate.Format(time.RFC3339))
			}
		}
	}
	st.crls = crls
	st.anchorCRLs = anchorCRLs(st.cas, crls)

	minVersion := cfg.MinVersion
	switch minVersion {
	case 0:
		minVersion = tls.VersionTLS13
	case tls.VersionTLS12, tls.VersionTLS13:
	default:
		return nil, fmt.Errorf("MinVersion %#04x: want TLS 1.2 (%#04x) or 1.3 (%#04x)", minVersion, tls.VersionTLS12, tls.VersionTLS13)
	}
	protos := cfg.NextProtos
	if protos == nil {
		protos = []string{"h2", "http/1.1"}
	}
	st.tlsConfig = &tls.Config{
		GetCertificate: st.certs.getCertificate,
		// The chain is verified in VerifyConnection, not by crypto/tls, so
		// that every refusal is classified and reported, and so that
		// resumed sessions are checked against the current CAs and CRLs
		// too. RequestClientCert only asks; VerifyConnection enforces.
		ClientAuth: tls.RequestClientCert,
		ClientCAs:  st.roots, // only advertised to the client, as a hint
		MinVersion: minVersion,
		NextProtos: protos,
	}
	if st.cert != nil {
		// One certificate here, the default; GetCertificate picks by SNI
		// (certSet) and crypto/tls falls back to this one without SNI.
		st.tlsConfig.Certificates = []tls.Certificate{*st.cert}
	}
	return st, nil
}

// pathErr drops the path from an *os.PathError: the messages that wrap it
// name the file and the field already.
func pathErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
