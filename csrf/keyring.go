package csrf

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"os"
	"runtime"
	"strings"
	"sync"

	"github.com/forgeproof/forgeproof/internal/openfolder"
	"github.com/forgeproof/forgeproof/internal/regfile"
)

// MinKeySize is the shortest token key accepted, in bytes.
const MinKeySize = 32

// ErrKeyTooShort is wrapped by the errors that refuse a key shorter than
// [MinKeySize].
var ErrKeyTooShort = errors.New("key too short")

// ErrKeyZero is wrapped by the errors that refuse a key of zero bytes only:
// a buffer never filled with random bytes, whose tokens anyone can mint.
var ErrKeyZero = errors.New("key is all zero bytes")

func allZero(b []byte) bool {
	var or byte
	for _, c := range b {
		or |= c
	}
	return or == 0
}

// KeyRing holds the keys that sign and verify tokens: the active key signs,
// every key verifies. To rotate, put a new key first and keep the old one
// after it until the tokens it signed have gone out of use (the longest a
// page may stay open), then drop it. A KeyRing is immutable and safe for
// concurrent use.
type KeyRing struct {
	keys []ringKey // keys[0] is active
}

type ringKey struct {
	id   [4]byte
	macs sync.Pool // of *macState: HMAC-SHA256 keyed with this key
}

// GenerateKey returns a new random key of MinKeySize bytes.
func GenerateKey() []byte {
	k := make([]byte, MinKeySize)
	rand.Read(k) // never returns an error; aborts the program if the OS RNG fails
	return k
}

// NewKeyRing returns a ring whose active key is active, followed by older
// keys that still verify. Keys shorter than MinKeySize, and the same key
// twice, are refused, and so is a key of zero bytes only (ErrKeyZero: a
// buffer never filled). The keys are copied.
func NewKeyRing(active []byte, older ...[]byte) (*KeyRing, error) {
	all := append([][]byte{active}, older...)
	k := &KeyRing{keys: make([]ringKey, len(all))}
	seen := make(map[[4]byte]int, len(all))
	for i, secret := range all {
		if len(secret) < MinKeySize {
			return nil, fmt.Errorf("csrf: key %d is %d bytes, want at least %d: %w", i+1, len(secret), MinKeySize, ErrKeyTooShort)
		}
		if allZero(secret) {
			// make([]byte, 32) never filled, or a key file of "AAAA…=":
			// anyone can compute the tokens such a key signs.
			return nil, fmt.Errorf("csrf: key %d: %w (a buffer never filled with random bytes?): use GenerateKey", i+1, ErrKeyZero)
		}
		id := keyID(secret)
		if j, dup := seen[id]; dup {
			return nil, fmt.Errorf("csrf: key %d repeats key %d (or shares its key ID): use distinct random keys", i+1, j+1)
		}
		seen[id] = i
		key := macKey(secret)
		k.keys[i].id = id
		k.keys[i].macs.New = func() any { return &macState{h: hmac.New(sha256.New, key[:])} }
	}
	return k, nil
}

// ParseKeyRing reads a key file: one key per line, in base64 (standard or
// URL alphabet, padded or not; not hex), the first key active and the
// others older. Blank lines and lines starting with '#' are ignored.
// A file without a key, a key shorter than MinKeySize and the same key
// twice are errors. Create a key with `openssl rand -base64 32`.
func ParseKeyRing(data []byte) (*KeyRing, error) {
	return parseKeyRing(data, "key file")
}

// LoadKeyRing reads a key file in the format of [ParseKeyRing]. Keep it
// readable by the service only (mode 0600), in a folder only its owners
// may write. A file that others may read or write, or its group write, is
// refused (whoever reads the key forges every token, whoever writes it
// puts their own), and so is a file in (or under) a folder that others
// may write and that is not sticky, since anyone who may write there can
// put a key file of their own in its place. A file its group may read is
// accepted (a Kubernetes fsGroup mount is 0440; forgeproof serve refuses
// it unless told otherwise). To accept such a file anyway, read it
// yourself and call [ParseKeyRing]. Modes are not checked on Windows.
func LoadKeyRing(path string) (*KeyRing, error) {
	if err := openfolder.Check(path); err != nil {
		return nil, fmt.Errorf("csrf: key file %w", err)
	}
	if fi, err := os.Stat(path); err == nil && runtime.GOOS != "windows" {
		switch perm := fi.Mode().Perm(); {
		case perm&0o007 != 0:
			return nil, fmt.Errorf("csrf: key file %q may be read or written by others (mode %04o): chmod 600 it", path, perm)
		case perm&0o020 != 0:
			return nil, fmt.Errorf("csrf: key file %q is writable by its group (mode %04o): chmod 600 it", path, perm)
		}
	}
	data, err := regfile.ReadFile(path, 0)
	if err != nil {
		return nil, fmt.Errorf("csrf: %w", err)
	}
	return parseKeyRing(data, fmt.Sprintf("key file %q", path))
}

func parseKeyRing(data []byte, where string) (*KeyRing, error) {
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if looksHex(line) {
			return nil, fmt.Errorf("csrf: %s line %d: looks like hex; keys are base64 (openssl rand -base64 32)", where, n)
		}
		key, err := decodeKey(line)
		if err != nil {
			// The line is not quoted: it may be a secret.
			return nil, fmt.Errorf("csrf: %s line %d: not base64: %w", where, n, err)
		}
		if len(key) < MinKeySize {
			return nil, fmt.Errorf("csrf: %s line %d: key is %d bytes, want at least %d: %w", where, n, len(key), MinKeySize, ErrKeyTooShort)
		}
		if allZero(key) {
			return nil, fmt.Errorf("csrf: %s line %d: %w: make one with `openssl rand -base64 32`", where, n, ErrKeyZero)
		}
		keys = append(keys, key)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("csrf: %s: %w", where, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("csrf: %s: no keys", where)
	}
	k, err := NewKeyRing(keys[0], keys[1:]...)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, where)
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

// looksHex reports whether s is long, even-length lower-case hex: likely a
// hex key, which base64 would silently decode into other bytes.
func looksHex(s string) bool {
	if len(s) < 2*MinKeySize || len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) && (s[i] < 'a' || s[i] > 'f') {
			return false
		}
	}
	return true
}

// KeyIDs returns the IDs of the ring's keys, the active key's first: the
// ID every token carries of the key that signed it, as 8 hex digits. An
// ID reveals nothing of its key; comparing them shows whether two
// services (replicas sharing a key file) have loaded the same ring.
func (k *KeyRing) KeyIDs() []string {
	ids := make([]string, len(k.keys))
	for i := range k.keys {
		ids[i] = hex.EncodeToString(k.keys[i].id[:])
	}
	return ids
}

// keyID names a key in tokens without revealing it.
func keyID(secret []byte) [4]byte {
	h := sha256.New()
	h.Write([]byte("forgeproof/csrf/key-id\x00"))
	h.Write(secret)
	var id [4]byte
	copy(id[:], h.Sum(nil))
	return id
}

// macKeyLabel separates the token MAC key from every other use of a ring
// key (the key ID hashes it under another label).
const macKeyLabel = "forgeproof/csrf/v2 token key"

// macKey derives the key that signs tokens from a ring key, once per ring:
// the domain-separation label lives here rather than in every token's MAC
// input, which keeps that input to one SHA-256 block.
func macKey(secret []byte) [sha256.Size]byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(macKeyLabel))
	return [sha256.Size]byte(h.Sum(nil))
}

func (k *KeyRing) find(id [4]byte) *ringKey {
	for i := range k.keys {
		if k.keys[i].id == id {
			return &k.keys[i]
		}
	}
	return nil
}

// macState is a pooled HMAC with scratch space. Input goes to the hash
// through buf: bytes written to a hash through its interface escape to
// the heap, and buf is already there, so callers' slices (a binding
// decoded on the stack) can stay where they are.
type macState struct {
	h   hash.Hash
	buf [128]byte // holds a whole input for bindings up to 100 bytes; longer ones are written in pieces
	n   int       // bytes in buf
	sum [sha256.Size]byte
}

// write appends p to the hash input.
func (st *macState) write(p []byte) {
	for len(p) > 0 {
		c := copy(st.buf[st.n:], p)
		st.n += c
		p = p[c:]
		if st.n == len(st.buf) {
			st.h.Write(st.buf[:])
			st.n = 0
		}
	}
}

// tag computes a token's tag into out: HMAC-SHA256 under the ring key's
// MAC key, truncated to tagSize, over the token's header (version, key ID,
// nonce), the binding's kind, its length as a uvarint, and the binding.
func (rk *ringKey) tag(out *[tagSize]byte, header *[headerSize]byte, kind byte, binding []byte) {
	st := rk.macs.Get().(*macState)
	st.h.Reset()
	n := copy(st.buf[:], header[:])
	st.buf[n] = kind
	st.n = n + 1
	st.n += binary.PutUvarint(st.buf[st.n:], uint64(len(binding)))
	st.write(binding)
	st.h.Write(st.buf[:st.n])
	copy(out[:], st.h.Sum(st.sum[:0]))
	rk.macs.Put(st)
}
