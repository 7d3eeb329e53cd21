package regfile_test

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/regfile"
)

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.pem")
	if err := os.WriteFile(good, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.pem")
	if err := os.Symlink(good, link); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.pem")
	if err := os.WriteFile(big, make([]byte, 11), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		max        int64
		want       string // error text, "" for success
	}{
		{name: "regular file", path: good},
		{name: "symbolic link to a regular file", path: link},
		{name: "at the limit", path: big, max: 11},
		{name: "over the limit", path: big, max: 10, want: "larger than 10 bytes"},
		{name: "folder", path: dir, want: "is a directory"},
		{name: "missing", path: filepath.Join(dir, "nope"), want: "no such file"},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			name, path string
			max        int64
			want       string
		}{name: "character device", path: os.DevNull, want: "is a character device, not a regular file"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := regfile.ReadFile(tt.path, tt.max)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}
