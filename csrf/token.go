package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
)

// A token, before masking, is
//
//	version (1) | key ID (4) | nonce (16) | HMAC-SHA256 (32)
//
// where the HMAC, under the key named by the key ID, covers a label, the
// binding kind (session or pre-session), the binding value with its length,
// the version, key ID and nonce. Each token sent out is masked with a fresh
// one-time pad (pad | raw XOR pad) so that no two responses carry the same
// bytes (BREACH), and encoded in unpadded base64url.
const (
	tokenVersion = 1
	nonceSize    = 16
	rawSize      = 1 + 4 + nonceSize + 32
	maskedSize   = 2 * rawSize

	macLabel = "forgeproof/csrf/v1\x00"
)

// TokenLength is the length of an encoded token, in characters (142).
const TokenLength = (maskedSize*8 + 5) / 6

// Binding kinds: a token bound to a caller's session value can never verify
// against a pre-session cookie holding the same bytes, and vice versa.
const (
	kindSession    byte = 's'
	kindPreSession byte = 'p'
)

var (
	errTokenMalformed = errors.New("token is malformed")
	errTokenKey       = errors.New("token was signed by a key not in the key ring")
	errTokenSignature = errors.New("token signature does not match: minted for another session, certificate or pre-session cookie, or forged")
)

var tokenEncoding = base64.RawURLEncoding.Strict()

// mint returns a fresh masked token for the binding.
func (k *KeyRing) mint(kind byte, binding []byte) string {
	var enc [TokenLength]byte
	k.mintTo(&enc, kind, binding)
	return string(enc[:])
}

// mintTo writes a fresh masked token for the binding into dst.
func (k *KeyRing) mintTo(dst *[TokenLength]byte, kind byte, binding []byte) {
	// The nonce and the pad in one read: each read costs a call into the
	// kernel's random number generator.
	var random [nonceSize + rawSize]byte
	rand.Read(random[:])
	var raw [rawSize]byte
	rk := &k.keys[0]
	raw[0] = tokenVersion
	copy(raw[1:5], rk.id[:])
	copy(raw[5:5+nonceSize], random[:nonceSize])
	rk.mac(raw[5+nonceSize:], kind, binding, raw[:5+nonceSize])

	var masked [maskedSize]byte
	copy(masked[:rawSize], random[nonceSize:])
	for i := range rawSize {
		masked[rawSize+i] = raw[i] ^ masked[i]
	}
	tokenEncoding.Encode(dst[:], masked[:])
}

// verify checks a masked token against the binding in constant time with
// respect to the signature.
func (k *KeyRing) verify(tok string, kind byte, binding []byte) error {
	if len(tok) != TokenLength {
		return errTokenMalformed
	}
	var enc [TokenLength]byte
	copy(enc[:], tok)
	var masked [maskedSize]byte
	if n, err := tokenEncoding.Decode(masked[:], enc[:]); err != nil || n != maskedSize {
		return errTokenMalformed
	}
	var raw [rawSize]byte
	for i := range rawSize {
		raw[i] = masked[rawSize+i] ^ masked[i]
	}
	if raw[0] != tokenVersion {
		return errTokenMalformed
	}
	rk := k.find(raw[1:5])
	if rk == nil {
		return errTokenKey
	}
	var want [32]byte
	rk.mac(want[:], kind, binding, raw[:5+nonceSize])
	if !hmac.Equal(want[:], raw[5+nonceSize:]) {
		return errTokenSignature
	}
	return nil
}
