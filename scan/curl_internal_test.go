package scan

import (
	"bytes"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestCurlBodyInShells: the curl command of a multipart request that
// carries the placeholder PNG (NUL bytes, which no shell argument can
// hold) sends its body byte for byte in every shell at hand, as does its
// twin without a file (the body as an argument). curl is a shell
// function here that saves what it would send.
func TestCurlBodyInShells(t *testing.T) {
	u, _ := url.Parse("https://bank.example/upload")
	target, _ := url.Parse("https://bank.example/")
	withFile := &Endpoint{Method: "POST", Path: "/upload", Form: map[string]string{"note": "50% off \\o/ 'quoted'"}, Multipart: true, files: []string{"media"}}
	noFile := &Endpoint{Method: "POST", Path: "/upload", Form: map[string]string{"note": "50% off \\o/ 'quoted'"}, Multipart: true}
	for _, e := range []*Endpoint{withFile, noFile} {
		r := build(e, u, variant{ctx: ctxCrossSite, body: bodyMultipart, token: tokenNone}, "", &jar{}, target)
		if e == withFile && bytes.IndexByte(r.Body, 0) < 0 {
			t.Fatal("the placeholder file has no NUL byte: the case tests nothing")
		}
		cmd := curlCommand(r, nil)
		ran := 0
		for _, sh := range []string{"bash", "zsh", "ksh"} {
			if _, err := exec.LookPath(sh); err != nil {
				continue
			}
			ran++
			out := filepath.Join(t.TempDir(), "body")
			// The stub: stdin when told @-, else the argument after
			// --data-binary.
			stub := `curl() { while [ $# -gt 0 ]; do if [ "$1" = --data-binary ]; then shift; if [ "$1" = @- ]; then cat > "$OUT"; else printf '%s' "$1" > "$OUT"; fi; fi; shift; done; }; `
			c := exec.Command(sh, "-c", stub+cmd)
			c.Env = append(os.Environ(), "OUT="+out)
			if b, err := c.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v: %s\n%s", sh, err, b, cmd)
			}
			got, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, r.Body) {
				t.Errorf("%s (files %v): sent %q,\nwant %q\ncommand %s", sh, e.files, got, r.Body, cmd)
			}
		}
		if ran == 0 {
			t.Skip("no shell")
		}
		if strings.HasPrefix(cmd, "printf ") != (e == withFile) {
			t.Errorf("files %v: command %s", e.files, cmd)
		}
	}
}
