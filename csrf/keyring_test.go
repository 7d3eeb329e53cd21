package csrf_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

func TestNewKeyRing(t *testing.T) {
	k32 := bytes.Repeat([]byte{7}, 32)
	tests := []struct {
		name    string
		keys    [][]byte
		wantErr string
	}{
		{"one key", [][]byte{k32}, ""},
		{"two keys", [][]byte{k32, bytes.Repeat([]byte{8}, 64)}, ""},
		{"short active key", [][]byte{k32[:31]}, "csrf: key 1 is 31 bytes, want at least 32: key too short"},
		{"short old key", [][]byte{k32, k32[:16]}, "csrf: key 2 is 16 bytes, want at least 32: key too short"},
		{"empty key", [][]byte{nil}, "csrf: key 1 is 0 bytes, want at least 32: key too short"},
		{"same key twice", [][]byte{k32, k32}, "csrf: key 2 repeats key 1 (or shares its key ID): use distinct random keys"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := csrf.NewKeyRing(tt.keys[0], tt.keys[1:]...)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("got %v, want %v", got, tt.wantErr)
			}
			if len(tt.keys[0]) < csrf.MinKeySize && !errors.Is(err, csrf.ErrKeyTooShort) {
				t.Errorf("got %v, want it to wrap ErrKeyTooShort", err)
			}
		})
	}
}

func TestParseKeyRing(t *testing.T) {
	a := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	b := base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfe}, 48))
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	tests := []struct {
		name    string
		file    string
		wantErr string
	}{
		{"one key", a + "\n", ""},
		{"comments, blanks, url alphabet", "# active\n" + a + "\n\n  # old\n" + b + "\r\n", ""},
		{"empty", "# nothing\n", "csrf: key file: no keys"},
		{"short key", a + "\n" + short + "\n", "csrf: key file line 2: key is 16 bytes, want at least 32: key too short"},
		{"not base64", "not base64!\n", "csrf: key file line 1: not base64: illegal base64 data at input byte 3"},
		{"hex", strings.Repeat("ab", 32) + "\n", "csrf: key file line 1: looks like hex; keys are base64 (openssl rand -base64 32)"},
		{"duplicate", a + "\n" + a + "\n", "csrf: key 2 repeats key 1 (or shares its key ID): use distinct random keys (in key file)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := csrf.ParseKeyRing([]byte(tt.file))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Errorf("got %v, want %v", got, tt.wantErr)
			}
		})
	}
}

func TestLoadKeyRing(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "csrf.keys")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := csrf.LoadKeyRing(path); err != nil {
		t.Errorf("got %v, want nil", err)
	}
	os.WriteFile(path, []byte("AAAA\n"), 0o600)
	_, err := csrf.LoadKeyRing(path)
	want := `csrf: key file "` + path + `" line 1: key is 3 bytes, want at least 32: key too short`
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %v", err, want)
	}
	if _, err := csrf.LoadKeyRing(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want a not-exist error", err)
	}
}

// TestLoadKeyRingMode: a key file others may read or write, or its group
// write, is refused; owner-only and group-readable (a Kubernetes fsGroup
// mount) load.
func TestLoadKeyRingMode(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes do not say who may read on Windows")
	}
	path := filepath.Join(t.TempDir(), "csrf.keys")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		mode os.FileMode
		want string // "" loads
	}{
		{0o600, ""},
		{0o400, ""},
		{0o640, ""},
		{0o440, ""},
		{0o644, "may be read or written by others (mode 0644)"},
		{0o602, "may be read or written by others (mode 0602)"},
		{0o660, "is writable by its group (mode 0660)"},
	} {
		if err := os.Chmod(path, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, err := csrf.LoadKeyRing(path)
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("mode %04o: got %v, want %q", tc.mode, err, tc.want)
		}
	}
}

// TestLoadKeyRingOpenFolder: whoever may write the key file's folder can
// put their own key there and forge every token, so LoadKeyRing refuses
// it; the twins (sticky, closed again) load.
func TestLoadKeyRingOpenFolder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes do not say who may write on Windows")
	}
	dir := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "csrf.keys")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey())+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	for _, tc := range []struct {
		mode    os.FileMode
		refused bool
	}{
		{0o777, true},
		{0o777 | os.ModeSticky, false},
		{0o700, false},
	} {
		if err := os.Chmod(dir, tc.mode); err != nil {
			t.Fatal(err)
		}
		_, err := csrf.LoadKeyRing(path)
		if tc.refused {
			want := `csrf: key file "` + path + `" is in ` + dir + `, which others may write (mode 0777)`
			if err == nil || !strings.HasPrefix(err.Error(), want) {
				t.Errorf("folder mode %v: got %v, want an error starting %q", tc.mode, err, want)
			}
		} else if err != nil {
			t.Errorf("folder mode %v: got %v, want the key loaded", tc.mode, err)
		}
	}
}

func TestGenerateKey(t *testing.T) {
	a, b := csrf.GenerateKey(), csrf.GenerateKey()
	if len(a) != csrf.MinKeySize || bytes.Equal(a, b) {
		t.Errorf("got %d bytes, equal %v; want %d random bytes", len(a), bytes.Equal(a, b), csrf.MinKeySize)
	}
}

func TestModeText(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    csrf.Mode
		wantErr string
	}{
		{"origin-only", "origin-only", csrf.ModeOriginOnly, ""},
		{"origin-and-token", "origin-and-token", csrf.ModeOriginAndToken, ""},
		{"legacy", "token-if-no-browser-headers", csrf.ModeTokenIfNoBrowserHeaders, ""},
		{"unknown", "tokens", 0, `csrf: unknown mode "tokens": want origin-only, origin-and-token or token-if-no-browser-headers`},
	}
	if _, err := csrf.Mode(7).MarshalText(); err == nil {
		t.Error("MarshalText(Mode(7)): got no error")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got csrf.Mode
			err := got.UnmarshalText([]byte(tt.in))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if got != tt.want || gotErr != tt.wantErr {
				t.Errorf("got %v, %v; want %v, %v", got, gotErr, tt.want, tt.wantErr)
			}
			if err == nil {
				if b, err := got.MarshalText(); err != nil || string(b) != tt.in {
					t.Errorf("MarshalText: got %q, %v; want %q", b, err, tt.in)
				}
			}
		})
	}
}

// A zero KeyRing has no key to sign with: set, it turns tokens off as nil
// does (refused with no-keys, ErrNoKeys from Token), rather than panic in
// Token and in Handler.
func TestZeroKeyRing(t *testing.T) {
	for _, tt := range []struct {
		name string
		ring *csrf.KeyRing
		want csrf.Reason
	}{
		{"zero ring", &csrf.KeyRing{}, csrf.ReasonNoKeys},
		{"ring with a key", testRing(t), ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := tokenProtection(t, csrf.ModeOriginAndToken, tt.ring)
			p.SetSPA(true)
			var tok string
			var tokErr error
			h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				tok, tokErr = p.Token(r)
			}))
			h.ServeHTTP(httptest.NewRecorder(), request("GET", app+"/", "X-Test-Session", "alice"))
			if (tokErr == nil) != (tt.want == "") || tt.want != "" && !errors.Is(tokErr, csrf.ErrNoKeys) {
				t.Fatalf("Token: got %v, want ErrNoKeys only for the zero ring", tokErr)
			}
			got := reasonOf(p.Check(request("POST", app+"/", "X-Test-Session", "alice", "X-CSRF-Token", tok)))
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// KeyIDs name the keys as tokens do, active first: the same keys in
// another order (step 2 of a rotation) give the same IDs swapped, and
// other keys other IDs.
func TestKeyIDs(t *testing.T) {
	k1, k2 := csrf.GenerateKey(), csrf.GenerateKey()
	a, b, c := testRing(t, k1, k2).KeyIDs(), testRing(t, k2, k1).KeyIDs(), testRing(t, csrf.GenerateKey()).KeyIDs()
	if len(a) != 2 || len(a[0]) != 8 || a[0] == a[1] {
		t.Fatalf("got %q, want two distinct 8-digit IDs", a)
	}
	if b[0] != a[1] || b[1] != a[0] {
		t.Errorf("swapped ring: got %q, want %q reversed", b, a)
	}
	if c[0] == a[0] || c[0] == a[1] {
		t.Errorf("another key: got %q, same as one of %q", c, a)
	}
}
