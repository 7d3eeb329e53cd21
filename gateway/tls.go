package gateway

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// listenerTLS is the loaded TLS state of one listener.
type listenerTLS struct {
	config   *tls.Config
	notAfter time.Time // of the server certificate
	caExpiry []time.Time
}

func (p *problems) listenerTLS(key string, t ListenerTLS) *listenerTLS {
	lt := &listenerTLS{}
	cfg := &tls.Config{}
	lt.config = cfg

	if v, ok := tlsVersion(t.MinVersion); ok {
		cfg.MinVersion = v
	} else {
		p.add(key+".min-version", "unknown TLS version %q: want \"1.2\" or \"1.3\"", t.MinVersion)
	}
	switch t.ClientAuth {
	case "", "require":
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	case "verify-if-given":
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	default:
		p.add(key+".client-auth", "unknown mode %q: want require or verify-if-given", t.ClientAuth)
	}

	switch {
	case t.CertFile == "":
		p.add(key+".cert-file", "is required")
	case t.KeyFile == "":
		p.add(key+".key-file", "is required")
	default:
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			p.add(key+".cert-file", "cannot load %q with key %q: %v", t.CertFile, t.KeyFile, fileError(err))
		} else {
			cfg.Certificates = []tls.Certificate{cert}
			lt.notAfter = cert.Leaf.NotAfter
		}
	}

	if len(t.ClientCAFiles) == 0 {
		p.add(key+".client-ca-files", "at least one CA file is required: without it no client certificate can be verified")
	}
	pool := x509.NewCertPool()
	var cas []*x509.Certificate
	for i, f := range t.ClientCAFiles {
		certs, err := readCerts(f)
		if err != nil {
			p.add(fmt.Sprintf("%s.client-ca-files[%d]", key, i), "%v", err)
			continue
		}
		for _, c := range certs {
			pool.AddCert(c)
			cas = append(cas, c)
			lt.caExpiry = append(lt.caExpiry, c.NotAfter)
		}
	}
	cfg.ClientCAs = pool

	var crls []*x509.RevocationList
	for i, f := range t.CRLFiles {
		k := fmt.Sprintf("%s.crl-files[%d]", key, i)
		crl, err := readCRL(f, cas)
		if err != nil {
			p.add(k, "%v", err)
			continue
		}
		crls = append(crls, crl)
	}
	if len(crls) > 0 {
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			return checkRevoked(cs, crls)
		}
	}
	return lt
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

// readCRL reads a PEM or DER CRL and checks it is signed by one of cas
// and not stale (fail closed: a stale CRL might miss recent revocations).
func readCRL(path string, cas []*x509.Certificate) (*x509.RevocationList, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read %q: %v", path, fileError(err))
	}
	if b, _ := pem.Decode(data); b != nil {
		data = b.Bytes
	}
	crl, err := x509.ParseRevocationList(data)
	if err != nil {
		return nil, fmt.Errorf("%q is not a CRL: %v", path, err)
	}
	signed := false
	for _, ca := range cas {
		if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
			signed = true
			break
		}
	}
	if !signed {
		return nil, fmt.Errorf("CRL %q is not signed by any of the client CAs", path)
	}
	if !crl.NextUpdate.IsZero() && time.Now().After(crl.NextUpdate) {
		return nil, fmt.Errorf("CRL %q is stale: its next update was due %s", path, crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	return crl, nil
}

// checkRevoked refuses a connection whose client certificate is listed
// in a CRL of its issuer. It runs in VerifyConnection, so it also runs on
// resumed sessions.
func checkRevoked(cs tls.ConnectionState, crls []*x509.RevocationList) error {
	if len(cs.PeerCertificates) == 0 {
		return nil
	}
	leaf := cs.PeerCertificates[0]
	for _, crl := range crls {
		if !bytes.Equal(crl.RawIssuer, leaf.RawIssuer) {
			continue
		}
		for _, e := range crl.RevokedCertificateEntries {
			if e.SerialNumber.Cmp(leaf.SerialNumber) == 0 {
				return fmt.Errorf("gateway: revoked: certificate serial %s", leaf.SerialNumber)
			}
		}
	}
	return nil
}
