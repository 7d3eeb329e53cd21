package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
)

// KeyAlgorithm chooses the kind of key a certificate gets. The zero value
// is ECDSAP256.
type KeyAlgorithm int

const (
	// ECDSAP256 is an ECDSA key on NIST P-256 (the default).
	ECDSAP256 KeyAlgorithm = iota
	// RSA2048 is a 2048-bit RSA key.
	RSA2048
	// RSA3072 is a 3072-bit RSA key.
	RSA3072
)

// String returns the name ParseKeyAlgorithm accepts.
func (a KeyAlgorithm) String() string {
	switch a {
	case ECDSAP256:
		return "ecdsa-p256"
	case RSA2048:
		return "rsa-2048"
	case RSA3072:
		return "rsa-3072"
	}
	return fmt.Sprintf("KeyAlgorithm(%d)", int(a))
}

// ParseKeyAlgorithm parses "ecdsa-p256" (or "ecdsa"), "rsa-2048" (or
// "rsa") and "rsa-3072".
func ParseKeyAlgorithm(s string) (KeyAlgorithm, error) {
	switch s {
	case "ecdsa-p256", "ecdsa", "":
		return ECDSAP256, nil
	case "rsa-2048", "rsa":
		return RSA2048, nil
	case "rsa-3072":
		return RSA3072, nil
	}
	return 0, fmt.Errorf("unknown key algorithm %q: want ecdsa-p256, rsa-2048 or rsa-3072", s)
}

// GenerateKey makes a new private key of the algorithm.
func GenerateKey(a KeyAlgorithm) (crypto.Signer, error) {
	switch a {
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case RSA3072:
		return rsa.GenerateKey(rand.Reader, 3072)
	}
	return nil, fmt.Errorf("unknown key algorithm %v", a)
}
