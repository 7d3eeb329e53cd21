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
