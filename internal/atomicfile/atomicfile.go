// Package atomicfile writes files the way a reader or a crash never sees
// half of: each to a temporary file beside it, synced, then renamed into
// place. A rename replaces a symbolic or hard link at the path, never
// writes through it, and the new file's mode is the one asked for, not
// an old file's.
package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
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

// Create writes f only where no file (or link) is at f.Path yet: if one
// appeared since the caller looked, Create fails with an error that
// matches fs.ErrExist and leaves it alone, where Write's rename would
// replace it. The file appears whole, as with Write: it is staged beside
// its path and hard-linked into place. A file system without hard links
// gets it by an exclusive create instead, written in place.
func Create(f File) (err error) {
	tmp, err := stage(f)
	if err != nil {
		return fmt.Errorf("writing %s: %w", f.Path, err)
	}
	defer os.Remove(tmp)
	err = link(tmp, f.Path)
	if err != nil && !errors.Is(err, fs.ErrExist) {
		err = createExclusive(f)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", f.Path, err)
	}
	if err = syncDir(filepath.Dir(f.Path)); err != nil {
		return fmt.Errorf("writing %s: %w", f.Path, err)
	}
	return nil
}

// link is os.Link; a test makes it fail as a file system without hard
// links does.
var link = os.Link

// createExclusive is Create where hard links fail (FAT, some network and
// FUSE file systems): O_EXCL still never replaces a file, but a reader
// may see the file before it is whole, and a failed write removes it.
func createExclusive(f File) (err error) {
	out, err := os.OpenFile(f.Path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(f.Path)
		}
	}()
	if _, err = out.Write(f.Data); err != nil {
		return err
	}
	if err = out.Chmod(f.Perm); err != nil {
		return err
	}
	if err = out.Sync(); err != nil {
		return err
	}
	return out.Close()
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
