// Package dirlock serialises the commands that write into one folder (a
// PKI folder): two "forgeproof pki revoke" at once (or a revoke and the
// daily --refresh from cron) each read crl.pem, add their entry and write
// it back, so the one that writes last drops the other's revocation; two
// "pki issue-client --name X" rename their keys and certificates in turn
// and may leave X.pem beside the other's X-key.pem.
//
// The lock is an advisory lock on the folder itself (flock), so no file
// is added to the folder, and the kernel releases it when the process
// ends, even by a crash. It is not waited for: a second command is
// refused at once with an error that says why.
package dirlock

import "fmt"

// BusyError is a folder whose lock another process holds.
type BusyError struct {
	Dir string
}

func (e *BusyError) Error() string {
	return fmt.Sprintf("another forgeproof command is writing in %s (it holds the folder's lock): try again when it is done", e.Dir)
}
