//go:build unix

package regfile

import "syscall"

// nonBlock makes the open of a named pipe return at once.
const nonBlock = syscall.O_NONBLOCK
