package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/internal/regfile"
	"github.com/forgeproof/forgeproof/mtls"
)

// listenerTLS is the loaded TLS state of one listener: an mtls.Server that
// verifies client certificates, checks CRLs and reports classified
// handshake failures. A reload builds a new one, which refuses CRLs older
// than the old one's (mtls.ServerConfig.Replaces); handshakes pick the
// current one (Gateway.newServer).
type listenerTLS struct {
	server     *mtls.Server
	config     *tls.Config
	notAfter   time.Time // of the earliest-expiring server certificate
	caNotAfter time.Time // of the earliest-expiring client CA; zero if none
	crlNext    time.Time // the earliest NextUpdate of its CRLs; zero if none
	// checkHost refuses requests whose Host is not the SNI of a
	// connection with a client certificate (421), on every connection;
	// checkHTTP2 on HTTP/2 connections (Listener.HTTP2).
	checkHost, checkHTTP2 bool
}

// ALPN protocol lists. HTTP/2 lets a browser reuse one connection, and the
// client certificate presented on it, for every host name the server
// certificate covers: it is offered only where the Host check refuses
// such requests with 421 (or where the config says insecure).
var (
	alpnHTTP1 = []string{"http/1.1"}
	alpnHTTP2 = []string{"h2", "http/1.1"}
)

// http2Mode returns whether a listener in mode offers HTTP/2 and
// whether requests on HTTP/2 connections are checked against the SNI.
// A file's values are checked as they are decoded; a Config built in Go
// may hold another.
func (p *compiler) http2Mode(key string, mode HTTP2Mode) (offer, check bool) {
	switch mode {
	case HTTP2On:
		return true, true
	case HTTP2Off:
		return false, true
	case HTTP2InsecureOnWithoutCheckHost:
		return true, false
	}
	_, err := mode.MarshalText()
	p.add(key, "%v", err)
	return false, true
}

// listenerTLS loads a listener's TLS state. replaces, if not nil, is the
// listener's state in use (a reload): its CRL numbers are the floor, so
// that an older CRL put back in place cannot un-revoke a certificate.
// mtls.NewServer reads every file once; its errors name the field
// (mtls.Error.Field), which serverKeys maps to the key.
func (p *compiler) listenerTLS(key string, t ListenerTLS, offerHTTP2 bool, onFailure func(mtls.HandshakeFailure), replaces *mtls.Server, now func() time.Time) *listenerTLS {
	sc := mtls.ServerConfig{
		Time:               now,
		Replaces:           replaces,
		CRLGracePeriod:     t.CRLGracePeriod,
		NextProtos:         alpnHTTP1,
		OnHandshakeFailure: onFailure,
		MinVersion:         t.MinVersion.uint16(),
		ClientAuth:         t.ClientAuth,
	}
	if offerHTTP2 {
		sc.NextProtos = alpnHTTP2
	}
	ok := true
	if _, err := t.MinVersion.MarshalText(); err != nil {
		p.add(key+".min-version", "%v", err)
		ok = false
	}
	if _, err := t.ClientAuth.MarshalText(); err != nil {
		p.add(key+".client-auth", "%s", withoutPackage(err))
		sc.ClientAuth = mtls.RequireClientCert
		ok = false
	}
	if t.CRLGracePeriod < 0 {
		p.add(key+".crl-grace-period", "must not be negative")
		ok = false
	}
	// cert-file and key-file are the default certificate; without them,
	// the first of certificates is.
	keys := serverKeys{base: key, clientCAs: key + ".client-ca-files", crls: key + ".crl-files"}
	sc.ClientCAs, keys.caKeys = p.clientCAs(key, "client-ca-files", t.ClientCAFiles, t.TrustDomainCAs)
	if t.CertFile == "" && (t.KeyFile != "" || len(t.Certificates) == 0) {
		p.add(key+".cert-file", "is required (or list the server certificates under certificates)")
		ok = false
	}
	if t.KeyFile == "" && (t.CertFile != "" || len(t.Certificates) == 0) {
		p.add(key+".key-file", "is required (or list the server certificates under certificates)")
		ok = false
	}
	if t.CertFile != "" || t.KeyFile != "" {
		sc.Certificates = append(sc.Certificates, mtls.KeyPair{CertFile: t.CertFile, KeyFile: t.KeyFile})
		keys.certs = append(keys.certs, key+".cert-file")
	}
	for i, c := range t.Certificates {
		sc.Certificates = append(sc.Certificates, mtls.KeyPair{CertFile: c.CertFile, KeyFile: c.KeyFile})
		keys.certs = append(keys.certs, fmt.Sprintf("%s.certificates[%d].cert-file", key, i))
	}
	if len(sc.ClientCAs) == 0 {
		p.add(key+".client-ca-files", "at least one CA file is required: without it no client certificate can be verified")
		ok = false
	}
	sc.CRLs = sources(t.CRLFiles)
	lt := &listenerTLS{checkHost: t.CheckHost}
	srv := p.newServer(keys, sc)
	if srv == nil || !ok {
		return lt
	}
	leaves, cas := srv.Certificates()
	if !p.checkServerCerts(key, t, leaves, time.Now()) {
		return lt
	}
	lt.server = srv
	lt.config = srv.TLSConfig()
	if lt.config.GetConfigForClient == nil {
		// Gateway.newServer relies on it: without it no client
		// certificate would be verified. Refuse rather than serve.
		p.add(key, "internal error: the mtls server config has no GetConfigForClient")
	}
	for _, c := range leaves {
		if lt.notAfter.IsZero() || c.NotAfter.Before(lt.notAfter) {
			lt.notAfter = c.NotAfter
		}
	}
	for _, ca := range cas {
		if lt.caNotAfter.IsZero() || ca.NotAfter.Before(lt.caNotAfter) {
			lt.caNotAfter = ca.NotAfter
		}
	}
	lt.crlNext = srv.CRLNextUpdate()
	return lt
}

// sources are mtls sources of files.
func sources(files []string) []mtls.Source {
	var out []mtls.Source
	for _, f := range files {
		out = append(out, mtls.Source{File: f})
	}
	return out
}

// clientCAs are the sources of client CAs under key: the files of
// filesKey, then those of each of trust-domain-cas, bound to its trust
// domain; and the config key of each.
func (p *compiler) clientCAs(key, filesKey string, files []string, bound []TrustDomainCAs) ([]mtls.Source, []string) {
	var srcs []mtls.Source
	var keys []string
	for i, f := range files {
		srcs = append(srcs, mtls.Source{File: f})
		keys = append(keys, fmt.Sprintf("%s.%s[%d]", key, filesKey, i))
	}
	for i, b := range bound {
		bk := fmt.Sprintf("%s.trust-domain-cas[%d]", key, i)
		if b.TrustDomain == "" {
			p.add(bk+".trust-domain", "is required: the SPIFFE trust domain whose IDs these CAs issue (partner.example)")
		}
		if len(b.CAFiles) == 0 {
			p.add(bk+".ca-files", "at least one CA file is required")
		}
		for j, f := range b.CAFiles {
			srcs = append(srcs, mtls.Source{File: f, TrustDomain: b.TrustDomain})
			keys = append(keys, fmt.Sprintf("%s.ca-files[%d]", bk, j))
		}
	}
	return srcs, keys
}

// serverKeys are the config keys of the fields of an mtls.ServerConfig,
// for its errors.
type serverKeys struct {
	base      string   // the TLS mapping: problems of no one field
	certs     []string // the cert-file key of each Certificates[i]; its key-file is beside it
	clientCAs string   // the list: ClientCAs is clientCAs
	caKeys    []string // ClientCAs[i] is caKeys[i] (compiler.clientCAs)
	crls      string   // CRLs[i] is crls[i]
}

// fields maps the fields an mtls.NewServer error about sc may name
// (mtls.Error.Field) to their config keys.
func (k serverKeys) fields(sc mtls.ServerConfig) map[string]string {
	m := map[string]string{"Certificates": k.base + ".cert-file"}
	for i, c := range k.certs {
		f := fmt.Sprintf("Certificates[%d]", i)
		m[f], m[f+".CertFile"], m[f+".Certificate"] = c, c, c
		m[f+".KeyFile"] = strings.TrimSuffix(c, "cert-file") + "key-file"
	}
	list := func(field, key string, n int) {
		if key == "" {
			return
		}
		m[field] = key
		for i := range n {
			m[fmt.Sprintf("%s[%d]", field, i)] = fmt.Sprintf("%s[%d]", key, i)
		}
	}
	if k.clientCAs != "" {
		m["ClientCAs"] = k.clientCAs
	}
	for i, ck := range k.caKeys {
		f := fmt.Sprintf("ClientCAs[%d]", i)
		m[f] = ck
		if i < len(sc.ClientCAs) && sc.ClientCAs[i].TrustDomain != "" {
			if j := strings.LastIndex(ck, ".ca-files["); j >= 0 {
				m[f+".TrustDomain"] = ck[:j] + ".trust-domain"
			}
		}
	}
	list("CRLs", k.crls, len(sc.CRLs))
	return m
}

// newServer is mtls.NewServer, with each of its problems reported under
// the key of its field (once: a key the compiler reported already, such as
// a missing cert-file, is not reported again). A problem about a field
// with no key of its own (MinVersion) is reported at the mapping's key,
// with the field's name.
func (p *compiler) newServer(k serverKeys, sc mtls.ServerConfig) *mtls.Server {
	fields := k.fields(sc)
	if !p.closedFolders(k, fields, sc) {
		return nil
	}
	srv, err := mtls.NewServer(sc)
	if err == nil {
		return srv
	}
	reported := map[string]bool{}
	for _, e := range p.errs {
		reported[e.Key] = true
	}
	said := map[string]bool{} // the same problem of each file of one trust domain, once
	for _, e := range joined(err) {
		if key, msg := k.key(fields, e); !reported[key] && !said[key+"\x00"+msg] {
			said[key+"\x00"+msg] = true
			p.add(key, "%s", msg)
		}
	}
	return nil
}

// closedFolders checks the folders of the files of sc that decide whom
// it trusts (client CA bundles, CRLs) and of its private keys: in a
// folder others may write, anyone could swap in their own
// (compiler.closedFolder). A certificate file is not checked: another
// certificate fails without its key. Each problem is reported at the
// file's key (fields, from serverKeys.fields).
func (p *compiler) closedFolders(k serverKeys, fields map[string]string, sc mtls.ServerConfig) bool {
	ok := true
	check := func(field, file string) {
		key, found := fields[field]
		if !found {
			key = k.base
		}
		ok = p.closedFolder(key, file) && ok
	}
	for i, c := range sc.Certificates {
		check(fmt.Sprintf("Certificates[%d].KeyFile", i), c.KeyFile)
	}
	for i, s := range sc.ClientCAs {
		check(fmt.Sprintf("ClientCAs[%d]", i), s.File)
	}
	for i, s := range sc.CRLs {
		check(fmt.Sprintf("CRLs[%d]", i), s.File)
	}
	return ok
}

// key returns the config key of one of mtls.NewServer's errors, from
// fields (k.fields), and its message without its package and field, where
// the other certificates it names are named by their keys.
func (k serverKeys) key(fields map[string]string, err error) (key, msg string) {
	var e *mtls.Error
	if !errors.As(err, &e) || e.Field == "" {
		return k.base, withoutPackage(err)
	}
	// Highest index first: Certificates[1] must not match in
	// Certificates[10].
	var others []string
	for i, c := range slices.Backward(k.certs) {
		others = append(others, fmt.Sprintf("Certificates[%d]", i), c)
	}
	for i, c := range slices.Backward(k.caKeys) {
		others = append(others, fmt.Sprintf("ClientCAs[%d]", i), c)
	}
	msg = strings.NewReplacer(others...).Replace(errorText(e))
	if key, ok := fields[e.Field]; ok {
		return key, msg
	}
	return k.base, e.Field + ": " + msg
}

// errorText is the text of an mtls error after its field: its Detail and
// its Err.
func errorText(e *mtls.Error) string {
	var parts []string
	if e.Detail != "" {
		parts = append(parts, e.Detail)
	}
	if e.Err != nil {
		parts = append(parts, e.Err.Error())
	}
	return strings.Join(parts, ": ")
}

// joined lists the errors errors.Join joined into err, or err alone.
func joined(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// readCerts reads every certificate of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := regfile.ReadFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %v", path, pemutil.PathErr(err))
	}
	return parseCerts(path, data)
}

// parseCerts parses the PEM data read from path as mtls reads CA
// bundles: only CERTIFICATE blocks, at least one,
// so that a key pasted into a certificate file is noticed.
func parseCerts(path string, data []byte) ([]*x509.Certificate, error) {
	certs, err := pemutil.ParseCerts(data)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", path, err)
	}
	return certs, nil
}

// upstreamTLS checks a route's upstream TLS settings and loads the files
// they name. upstream is the route's parsed URL (nil when invalid).
func (p *compiler) upstreamTLS(key string, r Route, upstream *url.URL) upstreamTLS {
	ut := upstreamTLS{key: upstreamTLSKey{
		caFile:     r.UpstreamCAFile,
		certFile:   r.UpstreamCertFile,
		keyFile:    r.UpstreamKeyFile,
		serverName: r.UpstreamServerName,
	}}
	// httpsOnly reports whether the setting sub, set to v, may be used:
	// TLS settings mean nothing to an http upstream, and a client
	// certificate configured for one would silently never be sent.
	httpsOnly := func(sub, v string) bool {
		if v == "" {
			return false
		}
		if upstream != nil && upstream.Scheme != "https" {
			p.add(key+"."+sub, "is only for https upstreams, and %q is not one", r.Upstream)
			return false
		}
		return true
	}
	// The upstream CA decides whom the gateway sends requests (with
	// their identity headers) to, and the key is the gateway's identity
	// there: neither may be in a folder others may write. The
	// certificate may: another one fails without its key.
	if httpsOnly("upstream-ca-file", r.UpstreamCAFile) && p.closedFolder(key+".upstream-ca-file", r.UpstreamCAFile) {
		if certs, err := readCerts(r.UpstreamCAFile); err != nil {
			p.add(key+".upstream-ca-file", "%v", err)
		} else {
			ut.roots = x509.NewCertPool()
			for _, c := range certs {
				ut.roots.AddCert(c)
			}
		}
	}
	if httpsOnly("upstream-server-name", r.UpstreamServerName) {
		ut.serverName = p.upstreamServerName(key+".upstream-server-name", r.UpstreamServerName)
	}
	switch {
	case r.UpstreamCertFile != "" && r.UpstreamKeyFile == "":
		p.add(key+".upstream-key-file", "is required with upstream-cert-file: the private key of the certificate presented to the upstream")
	case r.UpstreamKeyFile != "" && r.UpstreamCertFile == "":
		p.add(key+".upstream-cert-file", "is required with upstream-key-file: the certificate presented to the upstream")
	case httpsOnly("upstream-cert-file", r.UpstreamCertFile) && p.closedFolder(key+".upstream-key-file", r.UpstreamKeyFile):
		ut.cert = p.upstreamClientCert(key, r.UpstreamCertFile, r.UpstreamKeyFile, time.Now())
	}
	return ut
}

// upstreamClientCert loads the certificate chain and key a route presents
// to its upstream, as mtls loads a server certificate (with the same
// messages), and checks that an upstream could accept them at now:
// the certificate is within its validity period, has no key usage
// extension with no bit set and, if it lists extended key usages,
// clientAuth is one of them (anyExtendedKeyUsage does not count). Those
// two pass a Go upstream's crypto/tls but not OpenSSL's (nginx, HAProxy:
// "invalid certificate", "unsuitable certificate purpose") nor
// forgeproof's mtls. A certificate an upstream must refuse is a
// configuration error, not a 502 later.
func (p *compiler) upstreamClientCert(key, certFile, keyFile string, now time.Time) *tls.Certificate {
	certKey := key + ".upstream-cert-file"
	cert, errs := pemutil.LoadKeyPair(certFile, keyFile, nil)
	for _, err := range errs {
		if e, ok := err.(*pemutil.KeyPairError); ok && e.KeyFile {
			p.add(key+".upstream-key-file", "%v", err)
		} else {
			p.add(certKey, "%v", err)
		}
	}
	if cert == nil {
		return nil
	}
	leaf := cert.Leaf
	switch {
	case now.Before(leaf.NotBefore):
		p.add(certKey, "the certificate in %q is not valid until %s: the upstream would refuse it", certFile, leaf.NotBefore.UTC().Format(time.RFC3339))
		return nil
	case now.After(leaf.NotAfter):
		p.add(certKey, "the certificate in %q expired at %s: the upstream would refuse it", certFile, leaf.NotAfter.UTC().Format(time.RFC3339))
		return nil
	case pemutil.EmptyKeyUsage(leaf):
		p.add(certKey, "the certificate in %q has a key usage extension with no bit set, which RFC 5280 §4.2.1.3 forbids: OpenSSL-based upstreams (nginx, HAProxy) and forgeproof refuse it; issue one whose key usage allows digitalSignature", certFile)
		return nil
	case !allowsEKU(leaf, x509.ExtKeyUsageClientAuth) && slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny):
		p.add(certKey, "the certificate in %q lists anyExtendedKeyUsage but not clientAuth (its extended key usages are %s): Go upstreams accept it, OpenSSL-based ones (nginx, HAProxy) and forgeproof refuse it (\"unsuitable certificate purpose\"); issue one with clientAuth", certFile, strings.Join(extKeyUsageNames(leaf), ", "))
		return nil
	case !allowsEKU(leaf, x509.ExtKeyUsageClientAuth):
		p.add(certKey, "the certificate in %q is not for client authentication (its extended key usages are %s): the upstream would refuse it; issue one with clientAuth", certFile, strings.Join(extKeyUsageNames(leaf), ", "))
		return nil
	}
	return cert
}

// extKeyUsageNames names c's extended key usages as RFC 5280 does, with
// the dotted OID for usages crypto/x509 does not name here.
func extKeyUsageNames(c *x509.Certificate) []string {
	names := map[x509.ExtKeyUsage]string{
		x509.ExtKeyUsageAny:             "anyExtendedKeyUsage",
		x509.ExtKeyUsageServerAuth:      "serverAuth",
		x509.ExtKeyUsageClientAuth:      "clientAuth",
		x509.ExtKeyUsageCodeSigning:     "codeSigning",
		x509.ExtKeyUsageEmailProtection: "emailProtection",
		x509.ExtKeyUsageTimeStamping:    "timeStamping",
		x509.ExtKeyUsageOCSPSigning:     "OCSPSigning",
	}
	var out []string
	for _, u := range c.ExtKeyUsage {
		if n, ok := names[u]; ok {
			out = append(out, n)
		} else {
			out = append(out, fmt.Sprintf("usage %d", u))
		}
	}
	for _, oid := range c.UnknownExtKeyUsage {
		out = append(out, oid.String())
	}
	return out
}
