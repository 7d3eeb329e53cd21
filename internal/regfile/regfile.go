// Package regfile opens and reads the files a config names (the config
// itself, certificates, keys, CA bundles, CRLs, the token key ring) so
// that a name that is not a regular file cannot hang or exhaust the
// process: a named pipe without a writer would block the open forever
// (and with it every later reload), and a device such as /dev/zero would
// be read without end. Both are refused at once with an error that says
// what the file is.
package regfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxSize bounds what ReadFile reads: far above any certificate bundle,
// key or CRL, far below what would hurt the process.
const MaxSize = 64 << 20

// Open opens path for reading and returns it only when it is a regular
// file (after symbolic links). The open does not block on a named pipe.
// A folder is refused with syscall.EISDIR, as a read of it would be;
// any other file that is not regular with a *NotRegularError. Errors
// are *os.PathError.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|nonBlock, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	switch m := fi.Mode(); {
	case m.IsRegular():
		return f, nil
	case m.IsDir():
		f.Close()
		return nil, &os.PathError{Op: "read", Path: path, Err: syscall.EISDIR}
	default:
		f.Close()
		return nil, &os.PathError{Op: "open", Path: path, Err: &NotRegularError{Mode: m}}
	}
}

// ReadFile is os.ReadFile for a regular file (see Open) of at most max
// bytes (MaxSize when max is 0 or less).
func ReadFile(path string, max int64) ([]byte, error) {
	if max <= 0 {
		max = MaxSize
	}
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, &os.PathError{Op: "read", Path: path, Err: fmt.Errorf("larger than %d bytes", max)}
	}
	return data, nil
}

// NotRegularError is a file that is not a regular file or a folder.
type NotRegularError struct {
	Mode fs.FileMode
}

func (e *NotRegularError) Error() string {
	var what string
	switch t := e.Mode.Type(); {
	case t&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case t&fs.ModeSocket != 0:
		what = "a socket"
	case t&fs.ModeCharDevice != 0:
		what = "a character device"
	case t&fs.ModeDevice != 0:
		what = "a device"
	default:
		return "is not a regular file"
	}
	return "is " + what + ", not a regular file"
}
