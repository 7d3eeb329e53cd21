// Package atomicfile writes files the way a reader or a crash never sees
// half of: each to a temporary file beside it, synced, then renamed into
// place. A rename replaces a symbolic or hard link at the path, never
// writes through it, and the new file's mode is the one asked for, not
// an old file's.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// File is a file Write writes.
type File struct {
	Path string
	Data []byte
	Perm os.FileMode
}

// Write writes every file to a temporary file beside it first and renames
// them into place only when all are written and synced: a full disk or a
// bad path leaves the old files as they were (a certificate and the key
// that matches it, an old CA key not yet replaced). Only a crash between
// the renames can leave some replaced.
func Write(files ...File) (err error) {
	tmps := make([]string, 0, len(files))
	defer func() {
		if err != nil {
			for _, t := range tmps {
				os.Remove(t)
			}
		}
	}()
	for _, f := range files {
		tmp, err := stage(f)
		if err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
		tmps = append(tmps, tmp)
	}
	for i, f := range files {
		// rename replaces a link at f.Path itself, never its target.
		if err = os.Rename(tmps[i], f.Path); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	for _, f := range files {
		// The renames are durable once their folders are synced; else a
		// power cut may bring back the old crl.pem, and with it a
		// certificate revoked since.
		if err = syncDir(filepath.Dir(f.Path)); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	return nil
}

// stage writes f to a new temporary file in its folder, synced, and
// returns its name.
func stage(f File) (name string, err error) {
	// CreateTemp creates the file (O_EXCL) 0600 whatever the umask, so a
	// secret is never readable by others, not even for a moment.
	t, err := os.CreateTemp(filepath.Dir(f.Path), "."+filepath.Base(f.Path)+".tmp*")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil {
			t.Close()
			os.Remove(t.Name())
		}
	}()
	if _, err = t.Write(f.Data); err != nil {
		return "", err
	}
	// Chmod, unlike the mode given at creation, ignores the umask.
	if err = t.Chmod(f.Perm); err != nil {
		return "", err
	}
	if err = t.Sync(); err != nil {
		return "", err
	}
	if err = t.Close(); err != nil {
		return "", err
	}
	return t.Name(), nil
}

// syncDir syncs a folder, so that a rename in it survives a crash. Windows
// cannot sync a folder (and needs not: its renames are journalled).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
