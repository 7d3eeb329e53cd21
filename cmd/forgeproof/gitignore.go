package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/forgeproof/forgeproof/internal/demo"
)

// secretPatterns match the secrets the CLI writes into a folder: the
// private keys (ca-key.pem, server-key.pem, client-key.pem, those "pki
// issue-*" names NAME-key.pem), PKCS#12 bundles, init's CSRF key ring
// (csrf.key) and the demo's (csrf-keys).
var secretPatterns = []string{"*-key.pem", "*.key", "*.p12", demo.TokenKeyFile}

// gitignoreContent is the .gitignore writeGitignore writes.
var gitignoreContent = "# Written by forgeproof: private keys stay out of git.\n" + strings.Join(secretPatterns, "\n") + "\n"

// gitignoreResult says what writeGitignore found or did.
type gitignoreResult int

const (
	gitignoreOurs  gitignoreResult = iota // already there, as forgeproof writes it
	gitignoreWrote                        // written now
	gitignoreKept                         // another .gitignore, the user's: kept as it is
)

// writeGitignore writes dir/.gitignore with secretPatterns before the CLI
// writes private keys into dir (init's pki/, "pki init" and "pki
// issue-*" --dir, "demo --dir"), so that a folder inside a git work tree
// (a clone of this repository, the user's own project) holds no key that
// "git add ." would commit; Python's venv writes a .gitignore for the
// same reason. A .gitignore already there is the user's: it is kept, even
// with --force. Not for the demo's default folder in the user's cache,
// which is no work tree.
func writeGitignore(dir string) (gitignoreResult, error) {
	path := filepath.Join(dir, ".gitignore")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, []byte(gitignoreContent)) {
			return gitignoreOurs, nil
		}
		return gitignoreKept, nil
	}
	if err != nil {
		return 0, err
	}
	_, err = io.WriteString(f, gitignoreContent)
	return gitignoreWrote, errors.Join(err, f.Close())
}

// note tells the user about dir/.gitignore: "wrote" it, or "kept" the
// user's, which may not cover the keys. A .gitignore forgeproof wrote
// earlier goes unmentioned ("").
func (r gitignoreResult) note(dir string) string {
	path := filepath.Join(dir, ".gitignore")
	switch r {
	case gitignoreWrote:
		return "wrote " + path
	case gitignoreKept:
		return fmt.Sprintf("kept %s: check that it keeps %s out of git", path, strings.Join(secretPatterns, ", "))
	}
	return ""
}

// report prints the note, if any, as a line of w.
func (r gitignoreResult) report(w io.Writer, dir string) {
	if n := r.note(dir); n != "" {
		fmt.Fprintln(w, n)
	}
}
