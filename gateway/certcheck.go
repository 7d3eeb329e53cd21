package gateway

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/pemutil"
)

// The checks in this file refuse, at start-up, on reload and in
// check-config, certificates that TLS clients would refuse later with a
// message far from the cause ("unsuitable certificate purpose" in the
// client, "bad record MAC" in the gateway's log).

// CheckServerCertificate reports why TLS clients would refuse leaf as a
// server certificate at now, or nil: it must be within its validity
// period, list serverAuth (or no extended key usage at all), and, when it
// has a key usage extension, allow digitalSignature (every TLS 1.3
// handshake signs with the key). Where clients disagree, the stricter
// answer wins, as the gateway serves curl and services as well as
// browsers: anyExtendedKeyUsage without serverAuth passes Go's crypto/tls
// and Chromium but not OpenSSL ("unsuitable certificate purpose"), and a
// key usage extension with no bit set passes Go but neither Chromium
// (ERR_SSL_KEY_USAGE_INCOMPATIBLE) nor OpenSSL ("invalid certificate").
func CheckServerCertificate(leaf *x509.Certificate, now time.Time) error {
	switch {
	case now.Before(leaf.NotBefore):
		return fmt.Errorf("the certificate is not valid until %s", leaf.NotBefore.UTC().Format(time.RFC3339))
	case now.After(leaf.NotAfter):
		return fmt.Errorf("the certificate expired at %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	if pemutil.EmptyKeyUsage(leaf) {
		return errors.New("the certificate has a key usage extension with no bit set, which RFC 5280 §4.2.1.3 forbids: Chromium (ERR_SSL_KEY_USAGE_INCOMPATIBLE) and OpenSSL-based clients such as curl (\"invalid certificate\") refuse it; issue one whose key usage allows digitalSignature, for example with \"forgeproof pki issue-server\"")
	}
	if !allowsEKU(leaf, x509.ExtKeyUsageServerAuth) {
		if slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
			return fmt.Errorf("the certificate's extended key usages (%s) include anyExtendedKeyUsage but not serverAuth: Chromium and Go clients accept it, OpenSSL-based clients such as curl refuse it (\"unsuitable certificate purpose\"); issue one with serverAuth, for example with \"forgeproof pki issue-server\"", strings.Join(extKeyUsageNames(leaf), ", "))
		}
		if allowsEKU(leaf, x509.ExtKeyUsageClientAuth) && len(leaf.ExtKeyUsage)+len(leaf.UnknownExtKeyUsage) > 0 {
			return fmt.Errorf("the certificate is for client authentication only (its extended key usages are %s), not a server certificate: TLS clients refuse it (\"unsuitable certificate purpose\"); issue one with serverAuth, for example with \"forgeproof pki issue-server\"", strings.Join(extKeyUsageNames(leaf), ", "))
		}
		return fmt.Errorf("the certificate is not for TLS servers (its extended key usages are %s): TLS clients refuse it; issue one with serverAuth", strings.Join(extKeyUsageNames(leaf), ", "))
	}
	if ku := leaf.KeyUsage; ku != 0 && ku&x509.KeyUsageDigitalSignature == 0 {
		if _, isRSA := leaf.PublicKey.(*rsa.PublicKey); !isRSA || ku&x509.KeyUsageKeyEncipherment == 0 {
			return fmt.Errorf("the certificate's key usage (%s) does not allow digitalSignature, which TLS needs to sign the handshake: clients refuse it", keyUsageNames(ku))
		}
		return fmt.Errorf("the certificate's key usage (%s) allows RSA key exchange only, without digitalSignature: TLS 1.3 and every ECDHE handshake need it, and clients refuse it", keyUsageNames(ku))
	}
	switch leaf.PublicKey.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		return fmt.Errorf("the certificate's %s key cannot sign TLS handshakes", leaf.PublicKeyAlgorithm)
	}
	return nil
}

// allowsEKU reports whether c may be used for u (serverAuth or
// clientAuth) by every TLS peer: it lists no extended key usage (any
// use), or u. anyExtendedKeyUsage does not count: crypto/x509 lets it
// stand for u, OpenSSL does not (X509_check_purpose).
func allowsEKU(c *x509.Certificate, u x509.ExtKeyUsage) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	return slices.Contains(c.ExtKeyUsage, u)
}

// CheckServerCertificateFiles loads a PEM certificate and key as the
// gateway's listeners do (certificates only in the certificate file),
// checks that they match and that the certificate passes
// CheckServerCertificate now and covers every name (DNS names or IP
// addresses).
func CheckServerCertificateFiles(certFile, keyFile string, names []string) error {
	cert, errs := pemutil.LoadKeyPair(certFile, keyFile, nil)
	if errs != nil {
		return errors.Join(errs...)
	}
	if err := CheckServerCertificate(cert.Leaf, time.Now()); err != nil {
		return err
	}
	for _, n := range names {
		if cert.Leaf.VerifyHostname(n) != nil {
			return fmt.Errorf("the certificate does not cover %q (it names %s): clients that connect to %q refuse it", n, certNames(cert.Leaf), n)
		}
	}
	return nil
}

// certNames lists the DNS names and IP addresses of c.
func certNames(c *x509.Certificate) string {
	var names []string
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "no DNS name or IP address"
	}
	return strings.Join(names, ", ")
}

func keyUsageNames(ku x509.KeyUsage) string {
	all := []struct {
		u    x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "digitalSignature"},
		{x509.KeyUsageContentCommitment, "contentCommitment"},
		{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
		{x509.KeyUsageDataEncipherment, "dataEncipherment"},
		{x509.KeyUsageKeyAgreement, "keyAgreement"},
		{x509.KeyUsageCertSign, "keyCertSign"},
		{x509.KeyUsageCRLSign, "cRLSign"},
		{x509.KeyUsageEncipherOnly, "encipherOnly"},
		{x509.KeyUsageDecipherOnly, "decipherOnly"},
	}
	var out []string
	for _, a := range all {
		if ku&a.u != 0 {
			out = append(out, a.name)
		}
	}
	return strings.Join(out, ", ")
}

// checkServerCerts checks a listener's loaded server certificates (the
// default first, then ListenerTLS.Certificates, as mtls.Server lists
// them) with CheckServerCertificate, each under its config key.
func (p *compiler) checkServerCerts(key string, t ListenerTLS, leaves []*x509.Certificate, now time.Time) bool {
	var keys, files []string
	if t.CertFile != "" {
		keys, files = append(keys, key+".cert-file"), append(files, t.CertFile)
	}
	for i, c := range t.Certificates {
		keys, files = append(keys, fmt.Sprintf("%s.certificates[%d].cert-file", key, i)), append(files, c.CertFile)
	}
	ok := true
	for i, leaf := range leaves {
		k, f := key, ""
		if i < len(keys) {
			k, f = keys[i], files[i]
		}
		if err := CheckServerCertificate(leaf, now); err != nil {
			p.add(k, "%q: %v", f, err)
			ok = false
		}
	}
	return ok
}

// checkNames checks that the listeners' server certificates cover the
// names clients will connect with: a listener bound to loopback must
// cover localhost (or the IP address it is bound to), and every route's
// host must be covered by some listener. Listeners whose certificates did
// not load are skipped (their error is reported already).
func (p *compiler) checkNames(cfg *Config, listeners []*listenerTLS) {
	covers := func(lt *listenerTLS, name string) bool {
		if lt == nil || lt.server == nil {
			return true // not loaded: reported elsewhere
		}
		leaves, _ := lt.server.Certificates()
		for _, c := range leaves {
			if c.VerifyHostname(name) == nil {
				return true
			}
		}
		return false
	}
	loaded := false
	for i, l := range cfg.Listeners {
		if i >= len(listeners) || listeners[i] == nil || listeners[i].server == nil {
			continue
		}
		loaded = true
		host, _, err := net.SplitHostPort(l.Address)
		if err != nil {
			continue
		}
		ip, ipErr := netip.ParseAddr(host)
		if host != "localhost" && (ipErr != nil || !ip.IsLoopback()) {
			continue
		}
		if covers(listeners[i], "localhost") || ipErr == nil && covers(listeners[i], ip.String()) {
			continue
		}
		p.add(fmt.Sprintf("listeners[%d].tls", i), "the server certificates do not cover \"localhost\" (they name %s), and the listener is bound to loopback (%s): local clients that connect to localhost refuse them; issue one for localhost (\"forgeproof pki issue-server\" does by default)",
			listenerNames(listeners[i]), l.Address)
	}
	if !loaded || len(cfg.TrustedForwarders) > 0 {
		// With a trusted forwarder (a load balancer that terminates TLS),
		// clients connect to it under the route hosts, not to us.
		return
	}
	for i, r := range cfg.Routes {
		h, why := hostName(r.Host)
		if r.Host == "" || why != "" {
			continue
		}
		found := false
		for j := range cfg.Listeners {
			if j < len(listeners) && listeners[j] != nil && listeners[j].server != nil && covers(listeners[j], h) {
				found = true
				break
			}
		}
		if !found {
			p.add(fmt.Sprintf("routes[%d].host", i), "no listener's server certificate covers %q: clients that connect to it refuse the certificate; add the name to a certificate (or a listener's certificates list)", h)
		}
	}
}

func listenerNames(lt *listenerTLS) string {
	var names []string
	leaves, _ := lt.server.Certificates()
	for _, c := range leaves {
		names = append(names, certNames(c))
	}
	return strings.Join(names, "; ")
}
