package mtls

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/internal/watch"
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
	anchorCRLs map[string][]*crl // see anchorCRLs
	// trustDomains binds client CAs to trust domains; nil when none is.
	trustDomains *trustDomainCAs
	crlGrace     time.Duration
	allowStale   bool
	tlsConfig    *tls.Config // the template GetConfigForClient clones
	// gen identifies this state among every state loaded in the process
	// (Server.Generation).
	gen uint64
	// verified is the one mutable part: chains verified against roots,
	// so that a reload starts with an empty cache (see chainCache).
	verified *chainCache
	// sums are the hashes of the files as this state read them (Watch's
	// baseline).
	sums watch.Sums
}

// generations numbers the states loaded in the process, so that a
// generation names one state of one Server: a Server that replaces
// another (ServerConfig.Replaces) never repeats its numbers.
var generations atomic.Uint64

// load reads and validates a new state from cfg; prev (may be nil) is the
// state in use, for the CRL rollback check. It returns every problem it
// finds, each starting with its field.
func load(cfg *ServerConfig, prev *state, now time.Time) (*state, []error) {
	st := &state{crlGrace: cfg.CRLGracePeriod, allowStale: cfg.InsecureAllowStaleCRL, verified: newChainCache(), gen: generations.Add(1), sums: watch.Sums{}}
	// read records what each file held when it was read: Watch's
	// baseline, so that a change made after this load is seen.
	read := func(file string, data []byte) {
		st.sums[watch.Abs(file)] = watch.SumOf(file, data)
	}
	var errs []error

	certs, certErrs := loadCertificates(cfg, now, read)
	errs = append(errs, certErrs...)
	if certs != nil {
		st.certs = certs
		if len(certs.all) > 0 { // none with VerifyOnly
			st.cert = certs.all[0]
		}
	}

	if len(cfg.ClientCAs) == 0 {
		errs = append(errs, configErrorf("ClientCAs", "no client CA: without one no client certificate can be verified"))
	}
	casOf := make([][]*x509.Certificate, len(cfg.ClientCAs)) // casOf[i] are ClientCAs[i]'s
	for i, src := range cfg.ClientCAs {
		field := fmt.Sprintf("ClientCAs[%d]", i)
		data, err := src.read()
		if src.File != "" {
			read(src.File, data)
		}
		if err == nil {
			err = cfg.openFolder(src.File)
		}
		if err != nil {
			errs = append(errs, configErrorf(field, "%w", err))
			continue
		}
		cas, caErrs := pemutil.ParseCAs(data)
		for _, err := range caErrs {
			errs = append(errs, configErrorf(field, "%s: %w", src.what(), err))
		}
		for _, ca := range cas {
			// checkChainPolicy refuses the anchor's short key too, so
			// every handshake through this CA would be bad-certificate:
			// say so at load.
			if k, ok := ca.PublicKey.(*rsa.PublicKey); ok && k.N.BitLen() < minRSABits {
				errs = append(errs, configErrorf(field, "%s: client CA %q has a %d-bit RSA key, fewer than %d, so every client certificate it issued would be refused (bad-certificate), as OpenSSL (nginx, HAProxy) refuses it: reissue the CA with an RSA key of at least %d bits, or ECDSA",
					src.what(), ca.Subject.String(), k.N.BitLen(), minRSABits, minRSABits))
			}
		}
		st.cas = append(st.cas, cas...)
		casOf[i] = cas
	}
	var tdErrs []error
	st.trustDomains, tdErrs = newTrustDomainCAs(cfg.ClientCAs, casOf)
	errs = append(errs, tdErrs...)
	st.roots = x509.NewCertPool()
	for _, ca := range st.cas {
		st.roots.AddCert(ca)
	}

	var lists []*x509.RevocationList
	var sources, fields []string
	for i, src := range cfg.CRLs {
		field := fmt.Sprintf("CRLs[%d]", i)
		if src.TrustDomain != "" {
			errs = append(errs, configErrorf(field+".TrustDomain", "only a source of ClientCAs is bound to a trust domain"))
			continue
		}
		data, err := src.read()
		if src.File != "" {
			read(src.File, data)
		}
		if err == nil {
			err = cfg.openFolder(src.File)
		}
		if err != nil {
			errs = append(errs, configErrorf(field, "%w", err))
			continue
		}
		name := field
		if src.File != "" {
			name = src.File
		}
		ls, err := parseCRLs(data, name)
		if err == nil && len(ls) == 0 {
			err = fmt.Errorf("crl %s: %w", name, errNoCRLs)
		}
		if err != nil {
			errs = append(errs, configErrorf(field, "%w", err))
			continue
		}
		for _, l := range ls {
			lists = append(lists, l)
			sources = append(sources, name)
			fields = append(fields, field)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var prevCRLs map[string]*crl
	if prev != nil {
		prevCRLs = prev.crls
	}
	crls, crlErrs := loadCRLs(lists, sources, fields, st.cas, prevCRLs, now)
	errs = append(errs, crlErrs...)
	if !st.allowStale {
		for _, c := range crls {
			if c.stale(now, st.crlGrace) {
				errs = append(errs, configErrorf(c.field, "crl %s is stale: next update %s has passed (fetch a new CRL, or, for a CRL of forgeproof pki, run \"forgeproof pki revoke --dir DIR --refresh\"; or set a grace period)", c.source, c.list.NextUpdate.Format(time.RFC3339)))
			}
		}
	}
	st.crls = crls
	st.anchorCRLs = anchorCRLs(st.cas, crls)
	// A client CA whose issuer (another client CA) has no CRL would fail
	// every handshake through it with crl-missing: say so at load.
	if len(crls) > 0 {
		for _, ca := range st.cas {
			if slices.Contains(st.anchorCRLs[string(ca.Raw)], nil) {
				errs = append(errs, configErrorf("CRLs", "client CA %q is issued by another client CA, which has no CRL, so no chain through it can be checked for revocation: add the issuer's CRL, or leave the issuer out of the client CAs", ca.Subject.String()))
			}
		}
	}

	minVersion := cfg.MinVersion
	switch minVersion {
	case 0:
		minVersion = tls.VersionTLS13
	case tls.VersionTLS12, tls.VersionTLS13:
	default:
		errs = append(errs, configErrorf("MinVersion", "%#04x: want TLS 1.2 (%#04x) or 1.3 (%#04x)", minVersion, tls.VersionTLS12, tls.VersionTLS13))
	}
	if len(errs) > 0 {
		return nil, errs
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
		ClientAuth:   tls.RequestClientCert,
		ClientCAs:    st.roots, // only advertised to the client, as a hint
		MinVersion:   minVersion,
		CipherSuites: cipherSuitesTLS12(),
		NextProtos:   protos,
	}
	if st.cert != nil {
		// One certificate here, the default; GetCertificate picks by SNI
		// (certSet) and crypto/tls falls back to this one without SNI.
		st.tlsConfig.Certificates = []tls.Certificate{*st.cert}
	}
	return st, nil
}

// cipherSuitesTLS12 are the TLS 1.2 cipher suites a Server negotiates:
// ECDHE with an AEAD, Mozilla's "intermediate" list (Go has no DHE).
// Listed, not left to Go's default, which adds ECDHE with AES-CBC and
// SHA-1 and which GODEBUG (tlsrsakex=1, tls3des=1) extends with static
// RSA key exchange and 3DES from the environment. TLS 1.3 suites are not
// configurable in crypto/tls; all of them are AEADs.
func cipherSuitesTLS12() []uint16 {
	return []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// configErrorf is a problem of the configuration, about field.
func configErrorf(field, format string, args ...any) error {
	return &Error{Reason: ReasonInvalidConfig, Field: field, Err: fmt.Errorf(format, args...)}
}

// reloadError is a problem Reload found: its text says so ("mtls: reload:
// …"); errors.As finds the *Error.
type reloadError struct{ err error }

func (e reloadError) Error() string {
	return "mtls: reload: " + strings.TrimPrefix(e.err.Error(), "mtls: ")
}

func (e reloadError) Unwrap() error { return e.err }
