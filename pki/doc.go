// Package pki is a small development PKI: it creates a certificate
// authority, issues server and client certificates, writes and reads them
// as PEM files, exports a client certificate as PKCS#12 for a browser, and
// issues certificate revocation lists.
//
// It is meant for development, tests and demos, not for running a
// production CA: keys live in memory and in plain files (0600), there is no
// audit log and no hardware key support.
//
// Tests mint everything in memory:
//
//	ca, _ := pki.NewCA(pki.CAOptions{})
//	srv, _ := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}})
//	cli, _ := ca.IssueClient(pki.ClientOptions{SPIFFEID: "spiffe://example.org/web"})
//	serverCert := srv.TLSCertificate() // for tls.Config.Certificates
//	pool := ca.Pool()                  // for tls.Config.ClientCAs / RootCAs
//
// The command line (forgeproof pki) stores them in a folder under the file
// names of the constants below (ca.pem, ca-key.pem, server.pem, …).
//
// # Defaults
//
// Keys are ECDSA P-256 unless RSA is asked for. Serial numbers are random
// 128-bit integers. A certificate is valid from five minutes ago (clock
// skew) for one year or until its CA expires, whichever comes first, a CA
// for ten years, a CRL for seven days, unless the
// options say otherwise; the options accept any NotBefore/NotAfter so tests
// can mint expired and not-yet-valid certificates.
package pki
