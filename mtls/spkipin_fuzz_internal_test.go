package mtls

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
)

// FuzzSPKIPin checks parseSPKIPin against a second reading of its forms
// (sha256/ or sha256: prefix optional; 64 hex digits, colons allowed
// between them; or standard base64 of 32 bytes), that every pin reads
// back from each form it is written in, and that a refusal quotes the pin.
func FuzzSPKIPin(f *testing.F) {
	sum := sha256.Sum256([]byte("spki"))
	h := hex.EncodeToString(sum[:])
	b := base64.StdEncoding.EncodeToString(sum[:])
	for _, s := range []string{h, strings.ToUpper(h), "sha256/" + b, "sha256:" + h, b, b[:43], b + "=", h[:62], h + "00",
		"sha256/" + h, "sha256:" + b, strings.TrimRight(b, "="), b[:20] + "\n" + b[20:], h[:2] + ":" + h[2:], "sha512/" + b, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		pin, err := parseSPKIPin(s)
		want, ok := readPin(s)
		if (err == nil) != ok || ok && pin != want {
			t.Fatalf("parseSPKIPin(%q) = %x, %v; the second reading gives %x, %v", s, pin, err, want, ok)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "invalid SPKI pin "+strconv.Quote(s)) {
				t.Errorf("error %q does not quote the pin", err)
			}
			return
		}
		hx := hex.EncodeToString(pin[:])
		var pairs []string
		for i := 0; i < len(hx); i += 2 {
			pairs = append(pairs, hx[i:i+2])
		}
		b64 := base64.StdEncoding.EncodeToString(pin[:])
		for _, form := range []string{hx, strings.ToUpper(hx), strings.Join(pairs, ":"), "sha256:" + hx, b64, "sha256/" + b64} {
			if back, err := parseSPKIPin(form); err != nil || back != pin {
				t.Errorf("parseSPKIPin(%q) = %x, %v; want %x", form, back, err, pin)
			}
		}
	})
}

// readPin is parseSPKIPin's documented reading, written apart.
func readPin(s string) (pin [32]byte, ok bool) {
	v := s
	for _, p := range []string{"sha256/", "sha256:"} {
		if strings.HasPrefix(v, p) {
			v = v[len(p):]
			break
		}
	}
	var b []byte
	var err error
	if h := strings.ReplaceAll(v, ":", ""); len(h) == 64 {
		b, err = hex.DecodeString(h)
	} else {
		// base64 skips line breaks: a pin pasted across two lines.
		b, err = base64.StdEncoding.DecodeString(strings.NewReplacer("\r", "", "\n", "").Replace(v))
	}
	if err != nil || len(b) != 32 {
		return pin, false
	}
	copy(pin[:], b)
	return pin, true
}
