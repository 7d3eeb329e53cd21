package csrf

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
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
	xorRaw((*[rawSize]byte)(masked[rawSize:]), &raw, (*[rawSize]byte)(masked[:rawSize]))
	tokenEncoding.Encode(dst[:], masked[:])
}

// verify checks a masked token against the binding in constant time with
// respect to the tag.
func (k *KeyRing) verify(tok string, kind byte, binding []byte) error {
	_, err := k.verifyBy(tok, kind, binding)
	return err
}

// verifyBy is verify, also reporting whether the active key signed tok
// (rather than an older key that only verifies).
func (k *KeyRing) verifyBy(tok string, kind byte, binding []byte) (active bool, err error) {
	var masked [maskedSize]byte
	if !decodeToken(&masked, tok) {
		return false, errTokenMalformed
	}
	var raw [rawSize]byte
	xorRaw(&raw, (*[rawSize]byte)(masked[rawSize:]), (*[rawSize]byte)(masked[:rawSize]))
	if raw[0] != tokenVersion {
		return false, errTokenMalformed
	}
	rk := k.find([4]byte(raw[1:5]))
	if rk == nil {
		return false, errTokenKey
	}
	var want [tagSize]byte
	rk.tag(&want, (*[headerSize]byte)(raw[:headerSize]), kind, binding)
	if !tagEqual(&want, (*[tagSize]byte)(raw[headerSize:])) {
		return false, errTokenSignature
	}
	return rk == &k.keys[0], nil
}

// tagEqual reports whether two tags are equal, in constant time: every
// byte's difference is combined before the result is looked at, and
// nothing branches on the bytes, as with hmac.Equal, which costs ten
// times as much on 16 bytes (calls and a byte loop).
func tagEqual(a, b *[tagSize]byte) bool {
	le := binary.LittleEndian
	return (le.Uint64(a[:8])^le.Uint64(b[:8]))|(le.Uint64(a[8:])^le.Uint64(b[8:])) == 0
}

// xorRaw sets dst to a XOR b (masking and unmasking) as five 8-byte
// words, the last one overlapping the fourth: bytes 29 to 31 get the same
// value twice. Every word is read before any is written, so dst may be a
// or b. A third of what subtle.XORBytes costs on 37 bytes.
func xorRaw(dst, a, b *[rawSize]byte) {
	le := binary.LittleEndian
	const last = rawSize - 8
	x0 := le.Uint64(a[0:]) ^ le.Uint64(b[0:])
	x1 := le.Uint64(a[8:]) ^ le.Uint64(b[8:])
	x2 := le.Uint64(a[16:]) ^ le.Uint64(b[16:])
	x3 := le.Uint64(a[24:]) ^ le.Uint64(b[24:])
	x4 := le.Uint64(a[last:]) ^ le.Uint64(b[last:])
	le.PutUint64(dst[0:], x0)
	le.PutUint64(dst[8:], x1)
	le.PutUint64(dst[16:], x2)
	le.PutUint64(dst[24:], x3)
	le.PutUint64(dst[last:], x4)
}

// decodeToken decodes an encoded token into dst and reports whether tok is
// exactly what tokenEncoding (strict, unpadded base64url) decodes into
// maskedSize bytes. A token is decoded on every verified request, so this
// reads the string in place, eight characters (six bytes) at a time, with
// one table load and one OR per character: base64Place holds each
// character's six bits already shifted to their place in a group of four,
// and an out-of-alphabet flag that survives the ORs, checked once at the
// end. FuzzDecodeToken compares it with tokenEncoding.
func decodeToken(dst *[maskedSize]byte, tok string) bool {
	if len(tok) != TokenLength {
		return false
	}
	t := &base64Place
	var all uint32 // or of every value looked up
	// Whole groups of eight characters, then three for the last two bytes
	// (TokenLength is 8*(maskedSize/6) + 3). Advancing s and d, rather
	// than indexing with the group number, halves the time: the compiler
	// then addresses the characters directly.
	s, d := tok, dst[:]
	for len(s) >= 8 && len(d) >= 8 {
		hi := t[0][s[0]] | t[1][s[1]] | t[2][s[2]] | t[3][s[3]]
		lo := t[0][s[4]] | t[1][s[5]] | t[2][s[6]] | t[3][s[7]]
		all |= hi | lo
		// Eight bytes written, six of them this group's: the next group
		// (or the tail) overwrites the other two.
		binary.BigEndian.PutUint64(d, uint64(hi)<<40|uint64(lo)<<16)
		s, d = s[8:], d[6:]
	}
	v := t[0][s[0]] | t[1][s[1]] | t[2][s[2]]
	all |= v
	d[0], d[1] = byte(v>>16), byte(v>>8)
	// Strict: the two bits of the last character past the last byte
	// (bits 6 and 7 of v) are zero, as the encoder writes them.
	return all&notBase64 == 0 && v&0xff == 0
}

// notBase64 flags, in base64Place, a byte outside the base64url alphabet.
const notBase64 = 1 << 31

// base64Place[i][c] is the six bits of the base64url character c in place
// for the i-th character of a group of four (shifted left by 18-6i), or
// notBase64 when c is not in the alphabet.
var base64Place = func() (t [4][256]uint32) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	for i := range t {
		for c := range t[i] {
			t[i][c] = notBase64
		}
		for v, c := range []byte(alphabet) {
			t[i][c] = uint32(v) << (18 - 6*i)
		}
	}
	return t
}()

// Checked at compile time: xorRaw's five words cover a raw token
// (32 < rawSize <= 40), tagEqual's two a tag, and a token is whole
// groups of six bytes and a tail of two (three characters).
const (
	_ = uint(rawSize - 33)
	_ = uint(40 - rawSize)
	_ = uint(tagSize - 16)
	_ = uint(16 - tagSize)
	_ = uint(maskedSize%6 - 2)
	_ = uint(2 - maskedSize%6)
	_ = uint(TokenLength - (8*(maskedSize/6) + 3))
	_ = uint(8*(maskedSize/6) + 3 - TokenLength)
)
