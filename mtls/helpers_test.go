package mtls_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/pki"
)

func b64Pin(id mtls.Identity) string { return base64.StdEncoding.EncodeToString(id.SPKISHA256[:]) }

// pemCAs is a client CA source holding certs, PEM-encoded.
func pemCAs(certs ...*x509.Certificate) []mtls.Source {
	return []mtls.Source{{Data: pki.EncodeCertsPEM(certs...)}}
}

// crlData are CRL sources of values.
func crlData(crls ...[]byte) []mtls.Source {
	var out []mtls.Source
	for _, c := range crls {
		out = append(out, mtls.Source{Data: c})
	}
	return out
}

// files are file sources.
func files(names ...string) []mtls.Source {
	var out []mtls.Source
	for _, n := range names {
		out = append(out, mtls.Source{File: n})
	}
	return out
}

// pairs are key pairs of certificate values.
func pairs(certs ...tls.Certificate) []mtls.KeyPair {
	var out []mtls.KeyPair
	for i := range certs {
		out = append(out, mtls.KeyPair{Certificate: &certs[i]})
	}
	return out
}

// defaultCert is the leaf of s's default server certificate.
func defaultCert(s *mtls.Server) *x509.Certificate {
	leaves, _ := s.Certificates()
	return leaves[0]
}

// leaves are the leaves of s's server certificates.
func leaves(s *mtls.Server) []*x509.Certificate {
	l, _ := s.Certificates()
	return l
}
