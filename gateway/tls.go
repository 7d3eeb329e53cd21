package gateway

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"

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
	notAfter   time.Time // of the server certificate
	caNotAfter time.Time // of the earliest-expiring client CA; zero if none
	// checkHost refuses requests whose Host is not the SNI of a
	// connection with a client certificate (421).
	checkHost bool
}

// nextProtos offers HTTP/1.1 only. HTTP/2 would let a browser reuse one
// connection, and the client certificate presented on it, for every host
// name the server certificate covers.
var nextProtos = []string{"http/1.1"}

// listenerTLS loads a listener's TLS state. replaces, if not nil, is the
// listener's state in use (a reload): its CRL numbers are the floor, so
// that an older CRL put back in place cannot un-revoke a certificate.
func (p *problems) listenerTLS(key string, t ListenerTLS, onFailure func(mtls.HandshakeFailure), replaces *mtls.Server) *listenerTLS {
	sc := mtls.ServerConfig{
		Replaces:           replaces,
		CertFile:           t.CertFile,
		KeyFile:            t.KeyFile,
		CRLFiles:           t.CRLFiles,
		CRLGracePeriod:     t.CRLGracePeriod,
		NextProtos:         nextProtos,
		OnHandshakeFailure: onFailure,
	}
	ok := true
	if v, good := tlsVersion(t.MinVersion); good {
		sc.MinVersion = v
	} else {
		p.add(key+".min-version", "unknown TLS version %q: want \"1.2\" or \"1.3\"", t.MinVersion)
		ok = false
	}
	if t.ClientAuth != "" {
		mode, err := mtls.ParseClientAuthMode(t.ClientAuth)
		if err != nil {
			p.add(key+".client-auth", "unknown mode %q: want require or verify-if-given", t.ClientAuth)
			ok = false
		}
		sc.ClientAuth = mode
	}
	if t.CRLGracePeriod < 0 {
		p.add(key+".crl-grace-period", "must not be negative")
		ok = false
	}
	if t.CertFile == "" {
		p.add(key+".cert-file", "is required")
		ok = false
	}
	if t.KeyFile == "" {
		p.add(key+".key-file", "is required")
		ok = false
	}
	if len(t.ClientCAFiles) == 0 {
		p.add(key+".client-ca-files", "at least one CA file is required: without it no client certificate can be verified")
		ok = false
	}
	lt := &listenerTLS{checkHost: t.CheckHost}
	// The CA files are read here (mtls takes one file or values) so each
	// can be blamed by its own key; a reload reads them again.
	for i, f := range t.ClientCAFiles {
		certs, err := readCerts(f)
		if err != nil {
			p.add(fmt.Sprintf("%s.client-ca-files[%d]", key, i), "%v", err)
			ok = false
			continue
		}
		sc.ClientCAs = append(sc.ClientCAs, certs...)
	}
	if t.CertFile != "" && t.KeyFile != "" {
		if _, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile); err != nil {
			p.add(key+".cert-file", "cannot load %q with key %q: %v", t.CertFile, t.KeyFile, fileError(err))
			ok = false
		}
	}
	if !ok {
		return lt
	}
	srv, err := mtls.NewServer(sc)
	if err != nil {
		p.add(key, "%v", err)
		return lt
	}
	lt.server = srv
	lt.config = srv.TLSConfig()
	if lt.config.GetConfigForClient == nil {
		// Gateway.newServer relies on it: without it no client
		// certificate would be verified. Refuse rather than serve.
		p.add(key, "internal error: the mtls server config has no GetConfigForClient")
	}
	lt.notAfter = srv.Certificate().NotAfter
	for _, ca := range srv.ClientCAs() {
		if lt.caNotAfter.IsZero() || ca.NotAfter.Before(lt.caNotAfter) {
			lt.caNotAfter = ca.NotAfter
		}
	}
	return lt
}

// tlsVersion parses a ListenerTLS.MinVersion.
func tlsVersion(s string) (uint16, bool) {
	switch s {
	case "", "1.3":
		return tls.VersionTLS13, true
	case "1.2":
		return tls.VersionTLS12, true
	}
	return 0, false
}

// fileError drops the path from an *os.PathError (the message names the
// file already).
func fileError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// readCerts reads every certificate of a PEM file.
func readCerts(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %v", path, fileError(err))
	}
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%q: %v", path, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%q holds no PEM certificate", path)
	}
	return certs, nil
}
