package csrf

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
)

// A token, before masking, is
//
//	version (1) | key ID (4) | nonce (16) | tag (16)
//
// where the tag is HMAC-SHA256 truncated to 128 bits (HMAC-SHA-256-128,
// as in RFC 4868 and NIST SP 800-107: a forger's chance per try stays
// 2^-128) over
//
//	version | key ID | nonce | kind | uvarint(len(binding)) | binding
//
// under the MAC key derived from the ring key named by the key ID (see
// [macKey]). The binding's kind (session or pre-session) and length are in
// the input, and the length is prefix-free, so no two (kind, binding) pairs
// sign the same bytes. For a 32-byte binding (a certificate's SPKI hash, a
// pre-session value) the input is 55 bytes: one SHA-256 block.
//
// The nonce makes every raw token distinct (two in 2^64 collide only after
// about 2^64 mints); 16 bytes still fit a 32-byte binding in one block, so
// a shorter nonce would save no hashing.
//
// Each token sent out is masked with a fresh one-time pad (pad | raw XOR
// pad) so that no two responses carry the same bytes (BREACH), and
// encoded in unpadded base64url.
const (
	tokenVersion = 2
	nonceSize    = 16
	tagSize      = 16
	headerSize   = 1 + 4 + nonceSize // version, key ID, nonce: signed as sent
	rawSize      = headerSize + tagSize
	maskedSize   = 2 * rawSize
)

// TokenLength is the length of an encoded token, in characters (99).
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
	copy(raw[5:headerSize], random[:nonceSize])
	rk.tag((*[tagSize]byte)(raw[headerSize:]), (*[headerSize]byte)(raw[:headerSize]), kind, binding)

	var masked [maskedSize]byte
	copy(masked[:rawSize], random[nonceSize:])
	subtle.XORBytes(masked[rawSize:], raw[:], masked[:rawSize])
	tokenEncoding.Encode(dst[:], masked[:])
}

// verify checks a masked token against the binding in constant time with
// respect to the tag.
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
	subtle.XORBytes(raw[:], masked[rawSize:], masked[:rawSize])
	if raw[0] != tokenVersion {
		return errTokenMalformed
	}
	rk := k.find(raw[1:5])
	if rk == nil {
		return errTokenKey
	}
	var want [tagSize]byte
	rk.tag(&want, (*[headerSize]byte)(raw[:headerSize]), kind, binding)
	if !hmac.Equal(want[:], raw[headerSize:]) {
		return errTokenSignature
	}
	return nil
}
