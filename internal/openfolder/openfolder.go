// Package openfolder finds the folder through which others could replace
// a file that decides trust or holds a secret (a CA bundle, a CRL, a
// private key, the token key ring, the config that names them all): a
// folder that others may write and that is not sticky lets anyone rename
// their own file over it, whatever the file's own mode. The gateway, the
// decision service and the pki commands refuse such a file with Check's
// error.
package openfolder

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Error is a file in a folder others may write.
type Error struct {
	Path string      // the file, as named
	Dir  string      // the open folder: the file's, or one above it
	Perm fs.FileMode // Dir's permission bits
}

func (e *Error) Error() string {
	return fmt.Sprintf("%q is in %s, which others may write (mode %04o): anyone can replace the file there; run \"chmod o-w %s\"", e.Path, e.Dir, e.Perm, e.Dir)
}

// Check returns an *Error when Find finds an open folder for path, else
// nil.
func Check(path string) error {
	if dir, perm, ok := Find(path); ok {
		return &Error{Path: path, Dir: dir, Perm: perm}
	}
	return nil
}

// Find returns the first folder, from path's own up to the root, that
// others may write and that is not sticky, first along path as named,
// then along what it reads as after each symbolic link on the way (the
// folder of a link in the middle of a chain counts too), then along path
// after all of them (a Kubernetes volume's "..data/tls" is a timestamped
// folder). A folder above the file's
// counts too: whoever may write it may rename the file's folder away and
// put their own in its place. A sticky folder (/tmp, a tmpfs volume's
// root) lets no one but an entry's owner rename it; a folder its group
// may write (a umask of 002) is the owner's choice. Folders that cannot
// be read are skipped: the file's own read then fails. On Windows, whose
// modes do not say who may write, Find finds none.
func Find(path string) (dir string, perm fs.FileMode, ok bool) {
	if runtime.GOOS == "windows" || path == "" {
		return "", 0, false
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	// Every folder a link on the way lives in counts, not only the
	// first and the last: whoever may write the folder of a link in the
	// middle of a chain may point it at a file of their own.
	var starts []string
	for _, p := range hops(path) {
		starts = append(starts, filepath.Dir(p))
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		starts = append(starts, filepath.Dir(real))
	}
	for _, d := range starts {
		for {
			if fi, err := os.Stat(d); err == nil {
				if m := fi.Mode(); m.Perm()&0o002 != 0 && m&os.ModeSticky == 0 {
					return d, m.Perm(), true
				}
			}
			up := filepath.Dir(d)
			if up == d {
				break
			}
			d = up
		}
	}
	return "", 0, false
}

// maxHops bounds how many symbolic links hops follows (a loop of links
// would never end); the kernel's own limit is 40.
const maxHops = 255

// hops returns the absolute, clean path and what it reads as after each
// symbolic link on the way to it is followed, one at a time, as far as
// they can be followed.
func hops(path string) []string {
	out := []string{path}
	for range maxHops {
		next, ok := followFirstLink(path)
		if !ok {
			break
		}
		path = next
		out = append(out, path)
	}
	return out
}

// followFirstLink replaces the first element of the absolute, clean path
// that is a symbolic link by its target; false when there is none, or it
// cannot be read.
func followFirstLink(path string) (string, bool) {
	for i := len(filepath.VolumeName(path)) + 1; i <= len(path); i++ {
		if i < len(path) && !os.IsPathSeparator(path[i]) {
			continue
		}
		fi, err := os.Lstat(path[:i])
		if err != nil {
			return "", false
		}
		if fi.Mode()&os.ModeSymlink == 0 {
			continue
		}
		target, err := os.Readlink(path[:i])
		if err != nil {
			return "", false
		}
		if !filepath.IsAbs(target) {
			// No element before this one is a link, so a leading ".."
			// of target resolves lexically as the kernel resolves it
			// (one after a link inside target may not: Find checks
			// EvalSymlinks's answer too).
			target = filepath.Join(filepath.Dir(path[:i]), target)
		}
		return filepath.Clean(target + path[i:]), true
	}
	return "", false
}
