package csrf

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"testing"
)

// TestMACInput checks the token signature against HMAC-SHA256 computed
// directly over the input the token format documents, for bindings short
// and long enough to cross mac's scratch buffer, so buffering the input
// cannot change a token (and tokens minted before stay valid).
func TestMACInput(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	ring, err := NewKeyRing(key)
	if err != nil {
		t.Fatal(err)
	}
	idNonce := []byte("\x01IDID0123456789abcdef")
	for _, n := range []int{0, 1, 32, 103, 104, 105, 128, 300} {
		for _, kind := range []byte{kindSession, kindPreSession} {
			binding := bytes.Repeat([]byte{byte(n)}, n)
			var got [32]byte
			ring.keys[0].mac(got[:], kind, binding, idNonce)

			h := hmac.New(sha256.New, key)
			h.Write([]byte(macLabel))
			h.Write([]byte{kind})
			h.Write(binary.BigEndian.AppendUint32(nil, uint32(n)))
			h.Write(binding)
			h.Write(idNonce)
			if want := h.Sum(nil); !bytes.Equal(got[:], want) {
				t.Errorf("binding of %d bytes, kind %c: got %x, want %x", n, kind, got, want)
			}
		}
	}
}
