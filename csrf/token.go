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
	var masked [maskedSize]byte
	if !decodeToken(&masked, tok) {
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

// decodeToken decodes an encoded token into dst and reports whether tok is
// exactly what tokenEncoding (strict, unpadded base64url) decodes into
// maskedSize bytes. It reads the string in place, four characters at a
// time, and checks the alphabet once at the end: a token is decoded on
// every verified request. FuzzDecodeToken compares it with tokenEncoding.
func decodeToken(dst *[maskedSize]byte, tok string) bool {
	if len(tok) != TokenLength {
		return false
	}
	// TokenLength is 4*(maskedSize/3) + 3: whole quads, then three
	// characters for the last two bytes.
	const quads = maskedSize / 3
	var bad byte // or of every table entry: 0xff marks a byte outside the alphabet
	for q := range quads {
		a, b, c, d := base64URLValue[tok[4*q]], base64URLValue[tok[4*q+1]], base64URLValue[tok[4*q+2]], base64URLValue[tok[4*q+3]]
		bad |= a | b | c | d
		v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6 | uint32(d)
		dst[3*q], dst[3*q+1], dst[3*q+2] = byte(v>>16), byte(v>>8), byte(v)
	}
	a, b, c := base64URLValue[tok[4*quads]], base64URLValue[tok[4*quads+1]], base64URLValue[tok[4*quads+2]]
	bad |= a | b | c
	v := uint32(a)<<18 | uint32(b)<<12 | uint32(c)<<6
	dst[3*quads], dst[3*quads+1] = byte(v>>16), byte(v>>8)
	// Strict: the two bits of the last character past the last byte are
	// zero, as the encoder writes them.
	return bad&0xc0 == 0 && c&0x3 == 0
}

// base64URLValue maps a base64url character to its six bits, and every
// other byte to 0xff.
var base64URLValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") {
		t[c] = byte(i)
	}
	return t
}()

// Checked at compile time: a token is whole quads and a tail of three
// characters for two bytes.
const (
	_ = uint(maskedSize%3 - 2)
	_ = uint(2 - maskedSize%3)
	_ = uint(TokenLength - (4*(maskedSize/3) + 3))
	_ = uint(4*(maskedSize/3) + 3 - TokenLength)
)
