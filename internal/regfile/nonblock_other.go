//go:build !unix

package regfile

// nonBlock is 0 where opening a file never waits for a writer.
const nonBlock = 0
