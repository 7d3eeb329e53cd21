package csrf

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"testing"
)

// TestTagInput checks the token tag against HMAC-SHA256 computed directly,
// as the token format documents it: the MAC key derived from the ring key
// under its label, the input header | kind | uvarint length | binding, the
// sum truncated to 16 bytes. Bindings short and long enough to cross the
// scratch buffer show that buffering the input cannot change a tag.
func TestTagInput(t *testing.T) {
	secret := bytes.Repeat([]byte{7}, 32)
	ring, err := NewKeyRing(secret)
	if err != nil {
		t.Fatal(err)
	}
	kh := hmac.New(sha256.New, secret)
	kh.Write([]byte("forgeproof/csrf/v2 token key"))
	key := kh.Sum(nil)

	header := [headerSize]byte([]byte("\x02IDID0123456789abcdef"))
	for _, n := range []int{0, 1, 32, 103, 104, 105, 127, 128, 300} {
		for _, kind := range []byte{kindSession, kindPreSession} {
			binding := bytes.Repeat([]byte{byte(n)}, n)
			var got [tagSize]byte
			ring.keys[0].tag(&got, &header, kind, binding)

			h := hmac.New(sha256.New, key)
			h.Write(header[:])
			h.Write([]byte{kind})
			h.Write(binary.AppendUvarint(nil, uint64(n)))
			h.Write(binding)
			if want := h.Sum(nil)[:tagSize]; !bytes.Equal(got[:], want) {
				t.Errorf("binding of %d bytes, kind %c: got %x, want %x", n, kind, got, want)
			}
		}
	}
}

// TestTagInputFitsOneBlock pins the property the format was chosen for: a
// 32-byte binding's input, with SHA-256's padding (0x80 and an 8-byte
// length), fills exactly one 64-byte block.
func TestTagInputFitsOneBlock(t *testing.T) {
	got := headerSize + 1 + len(binary.AppendUvarint(nil, 32)) + 32
	if got+1+8 > sha256.BlockSize {
		t.Errorf("input for a 32-byte binding: got %d bytes, want at most %d", got, sha256.BlockSize-9)
	}
}

// TestTagInputsDistinct: the input encodes (kind, binding) so that no two
// pairs collide, even where a binding's bytes mimic another's length or
// kind.
func TestTagInputsDistinct(t *testing.T) {
	header := [headerSize]byte{tokenVersion}
	ring, err := NewKeyRing(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	pairs := []struct {
		kind    byte
		binding []byte
	}{
		{kindSession, nil},
		{kindPreSession, nil},
		{kindSession, []byte{0}},
		{kindSession, []byte{0, 0}},
		{kindSession, []byte{1, 's'}},
		{kindPreSession, []byte{1, 's'}},
		{kindSession, bytes.Repeat([]byte{'x'}, 127)},
		{kindSession, bytes.Repeat([]byte{'x'}, 128)},
	}
	seen := map[[tagSize]byte]int{}
	for i, p := range pairs {
		var tag [tagSize]byte
		ring.keys[0].tag(&tag, &header, p.kind, p.binding)
		if j, dup := seen[tag]; dup {
			t.Errorf("pairs %d and %d sign alike", j, i)
		}
		seen[tag] = i
	}
}

// TestTagEqual: tagEqual, the word-wise replacement of hmac.Equal, tells
// equal tags from tags that differ in any one bit.
func TestTagEqual(t *testing.T) {
	var a [tagSize]byte
	for i := range a {
		a[i] = byte(i*37 + 1)
	}
	b := a
	if !tagEqual(&a, &b) {
		t.Fatal("equal tags: got false")
	}
	for bit := range 8 * tagSize {
		b := a
		b[bit/8] ^= 1 << (bit % 8)
		if tagEqual(&a, &b) {
			t.Fatalf("tags differing in bit %d: got true", bit)
		}
	}
}

// TestXorRaw: xorRaw, whose last word overlaps the one before, computes
// what subtle.XORBytes computes on every byte.
func TestXorRaw(t *testing.T) {
	var a, b, got, want [rawSize]byte
	for i := range a {
		a[i], b[i] = byte(i*29+3), byte(255-i*11)
	}
	xorRaw(&got, &a, &b)
	subtle.XORBytes(want[:], a[:], b[:])
	if got != want {
		t.Fatalf("got %x, want %x", got, want)
	}
	// In place (mint and verify do not, but the overlapping last word
	// must not read what the fourth wrote).
	xorRaw(&a, &a, &b)
	if a != want {
		t.Fatalf("in place: got %x, want %x", a, want)
	}
}

// TestVerifyCoversEveryRawBit: a token whose raw bytes differ from a
// minted one's in any one bit, re-masked with the same pad, is refused,
// with the error for the part changed (version: malformed; key ID: not in
// the ring; nonce or any of the 16 tag bytes: signature). It pins that
// verify reads the whole header into the MAC input and compares the whole
// tag, not a prefix. The twin: the bytes as minted, re-masked the same
// way, verify.
func TestVerifyCoversEveryRawBit(t *testing.T) {
	ring, err := NewKeyRing(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	binding := []byte("alice")
	tok := ring.mint(kindSession, binding)
	masked, err := tokenEncoding.DecodeString(tok)
	if err != nil || len(masked) != maskedSize {
		t.Fatalf("minted token does not decode: %v", err)
	}
	remask := func(flipBit int) string {
		m := bytes.Clone(masked)
		if flipBit >= 0 {
			m[rawSize+flipBit/8] ^= 1 << (flipBit % 8)
		}
		return tokenEncoding.EncodeToString(m)
	}
	if err := ring.verify(remask(-1), kindSession, binding); err != nil {
		t.Fatalf("the minted bytes re-encoded: got %v, want nil", err)
	}
	for bit := range 8 * rawSize {
		want := errTokenSignature
		switch i := bit / 8; {
		case i == 0:
			want = errTokenMalformed
		case i < 5:
			want = errTokenKey
		}
		if err := ring.verify(remask(bit), kindSession, binding); err != want {
			t.Errorf("raw bit %d (byte %d) flipped: got %v, want %v", bit, bit/8, err, want)
		}
	}
}

// TestVerifyKeyRoles: a token names the key that signed it; an older key
// of the ring verifies it (reported as not active), a ring without that
// key refuses it as errTokenKey whatever its other keys, and the ring's
// active key reports active. Negative control: the same token under the
// ring that minted it.
func TestVerifyKeyRoles(t *testing.T) {
	k1, k2, k3 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32), bytes.Repeat([]byte{3}, 32)
	ring := func(keys ...[]byte) *KeyRing {
		k, err := NewKeyRing(keys[0], keys[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	tok := ring(k1).mint(kindSession, []byte("alice"))
	for _, tt := range []struct {
		name       string
		ring       *KeyRing
		wantActive bool
		wantErr    error
	}{
		{"negative control: the minting ring", ring(k1), true, nil},
		{"older key of a rotated ring", ring(k2, k1), false, nil},
		{"older key behind two", ring(k3, k2, k1), false, nil},
		{"key retired", ring(k2), false, errTokenKey},
		{"key never in the ring", ring(k3, k2), false, errTokenKey},
	} {
		active, err := tt.ring.verifyBy(tok, kindSession, []byte("alice"))
		if active != tt.wantActive || err != tt.wantErr {
			t.Errorf("%s: got (%v, %v), want (%v, %v)", tt.name, active, err, tt.wantActive, tt.wantErr)
		}
	}
}

// TestKeyIDSignedEvenUnderEqualMACKeys: HMAC pads a key shorter than a
// block with zeros, so K and K followed by a zero byte are one MAC key
// under two key IDs (the ring takes both: distinct bytes, distinct IDs).
// The key ID is in the signed header, so a token minted under one ID and
// relabelled with the other is refused: the relabelling changes the
// input, not the key. Twin: the token as minted verifies.
func TestKeyIDSignedEvenUnderEqualMACKeys(t *testing.T) {
	k := bytes.Repeat([]byte{4}, 32)
	k0 := append(bytes.Clone(k), 0)
	if macKey(k) != macKey(k0) {
		t.Fatal("K and K||0x00 derive different MAC keys: the premise of this test is gone")
	}
	ring, err := NewKeyRing(k, k0)
	if err != nil {
		t.Fatal(err)
	}
	tok := ring.mint(kindSession, []byte("alice"))
	if err := ring.verify(tok, kindSession, []byte("alice")); err != nil {
		t.Fatalf("as minted: got %v, want nil", err)
	}
	m, err := tokenEncoding.DecodeString(tok)
	if err != nil {
		t.Fatal(err)
	}
	// Unmask, put the other key's ID in, mask with the same pad.
	for i := range 4 {
		m[rawSize+1+i] ^= ring.keys[0].id[i] ^ ring.keys[1].id[i]
	}
	if err := ring.verify(tokenEncoding.EncodeToString(m), kindSession, []byte("alice")); err != errTokenSignature {
		t.Errorf("relabelled with the equal MAC key's ID: got %v, want %v", err, errTokenSignature)
	}
}
