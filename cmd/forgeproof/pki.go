package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/dirlock"
	"github.com/forgeproof/forgeproof/internal/openfolder"
	"github.com/forgeproof/forgeproof/internal/pemutil"
	"github.com/forgeproof/forgeproof/pki"
)

const pkiUsage = `Usage: forgeproof pki <init|issue-server|issue-client|revoke> --dir DIR [flags]

Creates a development certificate authority and issues certificates from it.
Files are PEM; private keys and PKCS#12 files are written with mode 0600.
Existing files are never replaced unless --force is given. Where DIR has no
.gitignore, init and issue-* write one that keeps the keys out of git.

  init          create a CA (ca.pem, ca-key.pem) and an empty CRL (crl.pem)
  issue-server  issue a server certificate (server.pem, server-key.pem)
  issue-client  issue a client certificate (client.pem, client-key.pem,
                and client.p12 with --p12)
  revoke        add certificates to the CRL (crl.pem), or renew it (--refresh)

Run "forgeproof pki <subcommand> --help" for its flags.

Examples:

  forgeproof pki init --dir ./pki
  forgeproof pki issue-server --dir ./pki --dns localhost --ip 127.0.0.1
  forgeproof pki issue-client --dir ./pki --cn alice --p12
  forgeproof pki issue-client --dir ./pki --name web --spiffe-id spiffe://example.org/web
  forgeproof pki revoke --dir ./pki --cert ./pki/client.pem`

func runPKI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageErrorf("pki: missing subcommand: want init, issue-server, issue-client or revoke")
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprintln(stdout, pkiUsage)
		return flag.ErrHelp
	case "init":
		return prefixed("pki init", pkiInit(args[1:], stdout))
	case "issue-server":
		return prefixed("pki issue-server", pkiIssueServer(args[1:], stdout))
	case "issue-client":
		return prefixed("pki issue-client", pkiIssueClient(args[1:], stdout))
	case "revoke":
		return prefixed("pki revoke", pkiRevoke(args[1:], stdout))
	}
	return usageErrorf("pki: unknown subcommand %q: want init, issue-server, issue-client or revoke", args[0])
}

// listFlag collects a repeatable flag; each value may also be a
// comma-separated list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for s := range strings.SplitSeq(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// validityFlag is a positive duration: Go syntax ("8760h") or whole days
// ("365d").
type validityFlag struct{ d time.Duration }

func (v *validityFlag) String() string {
	if v.d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(v.d/(24*time.Hour)), 10) + "d"
	}
	return v.d.String()
}

// maxValidityDays is the longest --validity: 100 years of 365 days.
const maxValidityDays = 100 * 365

func (v *validityFlag) Set(s string) error {
	var d time.Duration
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil {
			return errors.New("want a duration like 365d or 720h")
		}
		if days <= 0 || days > maxValidityDays {
			// Before the product, which can wrap: 213503982335d is 9h34m.
			return errors.New("must be positive and at most 100 years")
		}
		d = time.Duration(days) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return errors.New("want a duration like 365d or 720h")
		}
	}
	if d <= 0 || d > maxValidityDays*24*time.Hour {
		return errors.New("must be positive and at most 100 years")
	}
	v.d = d
	return nil
}

type keyFlag struct{ a pki.KeyAlgorithm }

func (k *keyFlag) String() string { return k.a.String() }
func (k *keyFlag) Set(s string) (err error) {
	k.a, err = pki.ParseKeyAlgorithm(s)
	if err != nil {
		return errors.New("want ecdsa-p256, rsa-2048 or rsa-3072")
	}
	return nil
}

// pkiCommon are the flags every pki subcommand has.
type pkiCommon struct {
	dir   string
	force bool
}

func (c *pkiCommon) register(fs *flag.FlagSet, force bool) {
	fs.StringVar(&c.dir, "dir", "", "the PKI `folder` (required)")
	if force {
		fs.BoolVar(&c.force, "force", false, "replace files that already exist")
	}
}

func (c *pkiCommon) check(name string) error {
	if c.dir == "" {
		return usageErrorf("pki %s: --dir is required", name)
	}
	return nil
}

// refuseOverwrite fails if any of the files exists, unless force.
func (c *pkiCommon) refuseOverwrite(names ...string) error {
	if p := c.existing(names); p != "" {
		return fmt.Errorf("%s already exists: use --force to replace it", p)
	}
	return nil
}

// existing returns the first of the files in the folder that exists,
// or "" (always "" with force).
func (c *pkiCommon) existing(names []string) string {
	if c.force {
		return ""
	}
	for _, n := range names {
		p := filepath.Join(c.dir, n)
		if _, err := os.Lstat(p); err == nil {
			return p
		}
	}
	return ""
}

// refuseOverwrite of issue-server and issue-client: a reader who wants
// a second certificate (another user after "forgeproof init") is told
// about --name first, since --force would replace the one in use.
func (l *leafFlags) refuseOverwrite(names ...string) error {
	if p := l.existing(names); p != "" {
		return fmt.Errorf("%s already exists: use --name NAME to issue another certificate beside it, or --force to replace it", p)
	}
	return nil
}

// ignoreKeys writes the folder's .gitignore (writeGitignore), before the
// keys are written, under lock.
func (c *pkiCommon) ignoreKeys() (gitignoreResult, error) {
	return writeGitignore(c.dir)
}

// lock refuses a folder others may write and takes its lock (dirlock) for
// the rest of the command, so that two commands cannot interleave: two
// revokes (or a revoke and cron's --refresh) would each write the CRL
// they read plus their own entry, dropping the other's revocation; two
// issue-client --name X could leave X.pem beside the other's X-key.pem.
// Whether a file exists is to be checked after it. With create (init),
// the folder is created (0700) if needed; else it must hold a CA.
func (c *pkiCommon) lock(create bool) (unlock func(), err error) {
	// Checked before the folder is created: a refusal writes nothing.
	if err := c.checkDirMode(); err != nil {
		return nil, err
	}
	if create {
		if err := os.MkdirAll(c.dir, 0o700); err != nil {
			return nil, err
		}
	} else if err := c.needCA(); err != nil {
		return nil, err
	}
	return dirlock.Lock(c.dir)
}

// checkDirMode refuses a folder that others may write (or one above
// it, or the CA key's after symbolic links): whoever can write there can
// rename their own ca-key.pem or crl.pem over ours. A group-writable
// folder (a umask of 002) and a sticky one (/tmp) are taken.
func (c *pkiCommon) checkDirMode() error {
	return openfolder.Check(filepath.Join(c.dir, pki.CAKeyFile))
}

// needCA fails, saying what to do, when the folder holds no CA.
func (c *pkiCommon) needCA() error {
	for _, n := range []string{pki.CAFile, pki.CAKeyFile} {
		if _, err := os.Stat(filepath.Join(c.dir, n)); errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("no CA in %q (%s is missing): run \"forgeproof pki init --dir %s\" first", c.dir, n, c.dir)
		}
	}
	return nil
}

// loadCA loads the folder's CA with an error that says what to do.
func (c *pkiCommon) loadCA() (*pki.CA, error) {
	if err := c.needCA(); err != nil {
		return nil, err
	}
	if err := c.checkDirMode(); err != nil {
		return nil, err
	}
	return pki.LoadCA(c.dir)
}

// checkName refuses names that would write outside the folder or over the
// CA's files.
func checkName(cmd, name string) error {
	const chars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"
	switch {
	case name == "":
		return usageErrorf("pki %s: invalid --name \"\": want a file name such as web", cmd)
	case name == "ca" || name == "crl":
		return usageErrorf("pki %s: invalid --name %q: the CA's files are named so; choose another name", cmd, name)
	case strings.ContainsAny(name, `/\`):
		return usageErrorf("pki %s: invalid --name %q: a file name in --dir, without '/' or '\\'", cmd, name)
	case strings.HasPrefix(name, ".") || strings.HasPrefix(name, "-"):
		return usageErrorf("pki %s: invalid --name %q: must not start with '.' or '-'", cmd, name)
	case strings.Trim(name, chars) != "":
		return usageErrorf("pki %s: invalid --name %q: want letters, digits, '.', '_' or '-'", cmd, name)
	}
	return nil
}

// checkDNSFlags checks every --dns value and drops a trailing dot: a SAN
// "example.com." matches no host name in Go's verifier (it is not a valid
// pattern), so the certificate would be useless for "example.com".
func checkDNSFlags(cmd string, names []string) error {
	for i, n := range names {
		if err := checkDNSName(n, true); err != nil {
			return usageErrorf("pki %s: invalid --dns %q: %v", cmd, n, err)
		}
		names[i] = strings.TrimSuffix(n, ".")
	}
	return nil
}

// certName names a certificate by its common name, else its first SAN.
func certName(c *x509.Certificate) string {
	switch {
	case c.Subject.CommonName != "":
		return c.Subject.CommonName
	case len(c.URIs) > 0:
		return c.URIs[0].String()
	case len(c.DNSNames) > 0:
		return c.DNSNames[0]
	case len(c.EmailAddresses) > 0:
		return c.EmailAddresses[0]
	}
	return c.Subject.String()
}

// clampToCA keeps a certificate from outliving its CA: verifiers refuse it
// once the CA expires, whatever its own NotAfter says.
func clampToCA(notAfter time.Time, ca *pki.CA) time.Time {
	if notAfter.After(ca.Cert.NotAfter) {
		return ca.Cert.NotAfter
	}
	return notAfter
}

func serialHex(n *big.Int) string { return "0x" + n.Text(16) }

func pkiInit(args []string, stdout io.Writer) error {
	fs := newFlagSet("pki init", `Usage: forgeproof pki init --dir DIR [--cn NAME] [--key ALG] [--validity DURATION] [--force]

Creates a development CA in DIR: ca.pem, ca-key.pem (0600) and an empty CRL,
crl.pem.

Example:

  forgeproof pki init --dir ./pki --cn "my team's dev CA"`, stdout)
	var c pkiCommon
	c.register(fs, true)
	cn := fs.String("cn", "forgeproof development CA", "the CA's common `name`")
	key := &keyFlag{}
	fs.Var(key, "key", "key `algorithm`: ecdsa-p256, rsa-2048 or rsa-3072")
	validity := &validityFlag{pki.DefaultCAValidity}
	fs.Var(validity, "validity", "how long the CA is valid (`DURATION`, e.g. 3650d or 87600h)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := c.check("init"); err != nil {
		return err
	}
	if strings.TrimSpace(*cn) == "" {
		// RFC 5280 §4.1.2.4: the issuer of every certificate it signs
		// must be a non-empty name.
		return usageErrorf("pki init: --cn is empty: a CA needs a name, the issuer of every certificate it signs")
	}
	unlock, err := c.lock(true)
	if err != nil {
		return err
	}
	defer unlock()
	if err := c.refuseOverwrite(pki.CAFile, pki.CAKeyFile, pki.CRLFile); err != nil {
		return err
	}
	ca, err := pki.NewCA(pki.CAOptions{CommonName: *cn, KeyAlgorithm: key.a, NotAfter: time.Now().Add(validity.d)})
	if err != nil {
		return err
	}
	ignored, err := c.ignoreKeys()
	if err != nil {
		return err
	}
	if err := ca.Save(c.dir); err != nil {
		return err
	}
	crl, err := ca.Revoke(nil)
	if err != nil {
		return err
	}
	if err := pki.SaveCRL(c.dir, crl); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created CA %q (%s, valid until %s)\n", *cn, key.a, ca.Cert.NotAfter.Format(time.DateOnly))
	for _, n := range []string{pki.CAFile, pki.CAKeyFile, pki.CRLFile} {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(c.dir, n))
	}
	ignored.report(stdout, c.dir)
	return nil
}

// leafFlags are the flags issue-server and issue-client share.
type leafFlags struct {
	pkiCommon
	name     string
	cn       string
	dns      listFlag
	key      keyFlag
	validity validityFlag
}

func (l *leafFlags) register(fs *flag.FlagSet, defaultName string) {
	l.pkiCommon.register(fs, true)
	fs.StringVar(&l.name, "name", defaultName, "write `NAME`.pem and NAME-key.pem")
	fs.StringVar(&l.cn, "cn", "", "the subject common `name`")
	fs.Var(&l.dns, "dns", "a DNS `name` SAN (repeatable or comma-separated)")
	fs.Var(&l.key, "key", "key `algorithm`: ecdsa-p256, rsa-2048 or rsa-3072")
	l.validity.d = pki.DefaultLeafValidity
	fs.Var(&l.validity, "validity", "how long the certificate is valid (`DURATION`, e.g. 365d or 720h)")
}

func (l *leafFlags) files(exts ...string) []string {
	out := []string{l.name + ".pem", l.name + "-key.pem"}
	for _, e := range exts {
		out = append(out, l.name+e)
	}
	return out
}

func printIssued(stdout io.Writer, kind string, c *pki.Cert, dir string, files []string) {
	fmt.Fprintf(stdout, "issued %s certificate %q, serial %s, valid until %s\n",
		kind, certName(c.Cert), serialHex(c.Cert.SerialNumber), c.Cert.NotAfter.Format(time.DateOnly))
	for _, f := range files {
		fmt.Fprintf(stdout, "wrote %s\n", filepath.Join(dir, f))
	}
}

func pkiIssueServer(args []string, stdout io.Writer) error {
	fs := newFlagSet("pki issue-server", `Usage: forgeproof pki issue-server --dir DIR [--dns NAME]... [--ip ADDR]... [flags]

Issues a TLS server certificate from the CA in DIR. With neither --dns nor
--ip it is valid for localhost, 127.0.0.1 and ::1.

Example:

  forgeproof pki issue-server --dir ./pki --dns localhost,api.internal --ip 127.0.0.1`, stdout)
	var l leafFlags
	l.register(fs, "server")
	var ips listFlag
	fs.Var(&ips, "ip", "an IP `address` SAN (repeatable or comma-separated)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := l.check("issue-server"); err != nil {
		return err
	}
	if err := checkName("issue-server", l.name); err != nil {
		return err
	}
	if err := checkDNSFlags("issue-server", l.dns); err != nil {
		return err
	}
	opts := pki.ServerOptions{DNSNames: l.dns, CommonName: l.cn, KeyAlgorithm: l.key.a, NotAfter: time.Now().Add(l.validity.d)}
	for _, s := range ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return usageErrorf("pki issue-server: invalid --ip %q: not an IP address", s)
		}
		opts.IPAddresses = append(opts.IPAddresses, ip)
	}
	if len(opts.DNSNames) == 0 && len(opts.IPAddresses) == 0 {
		opts.DNSNames = []string{"localhost"}
		opts.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	files := l.files()
	unlock, err := l.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.refuseOverwrite(files...); err != nil {
		return err
	}
	ca, err := l.loadCA()
	if err != nil {
		return err
	}
	opts.NotAfter = clampToCA(opts.NotAfter, ca)
	c, err := ca.IssueServer(opts)
	if err != nil {
		return err
	}
	ignored, err := l.ignoreKeys()
	if err != nil {
		return err
	}
	if err := c.Save(l.dir, files[0], files[1]); err != nil {
		return err
	}
	printIssued(stdout, "server", c, l.dir, files)
	ignored.report(stdout, l.dir)
	return nil
}

func pkiIssueClient(args []string, stdout io.Writer) error {
	fs := newFlagSet("pki issue-client", `Usage: forgeproof pki issue-client --dir DIR (--cn NAME | --spiffe-id ID | --dns NAME | --email ADDR) [flags]

Issues a TLS client certificate from the CA in DIR. With --p12 it also
writes NAME.p12 (PKCS#12, empty password unless --p12-password-file) to
import into a browser; that file is as secret as the key.

Examples:

  forgeproof pki issue-client --dir ./pki --cn alice --p12
  forgeproof pki issue-client --dir ./pki --name billing --spiffe-id spiffe://example.org/ns/prod/sa/billing`, stdout)
	var l leafFlags
	l.register(fs, "client")
	spiffeID := fs.String("spiffe-id", "", "a SPIFFE `ID` (the only URI SAN), e.g. spiffe://example.org/web")
	var ous, emails listFlag
	fs.Var(&ous, "ou", "an organizational `unit` (repeatable or comma-separated)")
	fs.Var(&emails, "email", "an email `address` SAN (repeatable or comma-separated)")
	p12 := fs.Bool("p12", false, "also write NAME.p12 for a browser")
	p12PassFile := fs.String("p12-password-file", "", "read the PKCS#12 password from `FILE` (default: empty password)")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := l.check("issue-client"); err != nil {
		return err
	}
	if err := checkName("issue-client", l.name); err != nil {
		return err
	}
	if err := checkDNSFlags("issue-client", l.dns); err != nil {
		return err
	}
	for _, e := range emails {
		if err := checkEmail(e); err != nil {
			return usageErrorf("pki issue-client: invalid --email %q: %v", e, err)
		}
	}
	if *spiffeID != "" {
		if err := checkSPIFFEID(*spiffeID); err != nil {
			return usageErrorf("pki issue-client: invalid --spiffe-id %q: %v", *spiffeID, err)
		}
	}
	if l.cn == "" && *spiffeID == "" && len(l.dns) == 0 && len(emails) == 0 {
		return usageErrorf("pki issue-client: say who the certificate is for with --cn, --spiffe-id, --dns or --email")
	}
	if *p12PassFile != "" && !*p12 {
		return usageErrorf("pki issue-client: --p12-password-file needs --p12")
	}
	password := ""
	if *p12PassFile != "" {
		b, err := os.ReadFile(*p12PassFile)
		if err != nil {
			return usageErrorf("pki issue-client: --p12-password-file %q: %v", *p12PassFile, pemutil.PathErr(err))
		}
		password = strings.TrimRight(string(b), "\r\n")
		if password == "" {
			// An empty file (a password that was never written into it)
			// would give the empty password, silently.
			return usageErrorf("pki issue-client: --p12-password-file %q is empty: write the password into it, or leave the flag out for an empty password (development only)", *p12PassFile)
		}
	}
	files := l.files()
	if *p12 {
		files = l.files(".p12")
	}
	unlock, err := l.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	if err := l.refuseOverwrite(files...); err != nil {
		return err
	}
	ca, err := l.loadCA()
	if err != nil {
		return err
	}
	c, err := ca.IssueClient(pki.ClientOptions{
		CommonName:         l.cn,
		OrganizationalUnit: ous,
		SPIFFEID:           *spiffeID,
		DNSNames:           l.dns,
		EmailAddresses:     emails,
		KeyAlgorithm:       l.key.a,
		NotAfter:           clampToCA(time.Now().Add(l.validity.d), ca),
	})
	if err != nil {
		return err
	}
	ignored, err := l.ignoreKeys()
	if err != nil {
		return err
	}
	if err := c.Save(l.dir, files[0], files[1]); err != nil {
		return err
	}
	if *p12 {
		pfx, err := c.PKCS12(password)
		if err != nil {
			return err
		}
		if err := pki.WriteSecretFile(filepath.Join(l.dir, files[2]), pfx); err != nil {
			return err
		}
	}
	printIssued(stdout, "client", c, l.dir, files)
	ignored.report(stdout, l.dir)
	return nil
}

func pkiRevoke(args []string, stdout io.Writer) error {
	fs := newFlagSet("pki revoke", `Usage: forgeproof pki revoke --dir DIR ((--cert FILE | --serial N)... | --refresh)

Adds certificates issued by the CA in DIR to its CRL (crl.pem), keeping the
entries already there, with the next CRL number. Serial numbers may be
decimal, 0x-hex, colon-separated hex or openssl's "serial=HEX" line (bare
digits are decimal). A CRL is
valid for 7 days: after that a gateway refuses every client certificate of
the CA (crl-stale), so run --refresh (which revokes nothing more) before,
from cron or a systemd timer.

Examples:

  forgeproof pki revoke --dir ./pki --cert ./pki/client.pem
  forgeproof pki revoke --dir ./pki --serial 0x3af2c1
  forgeproof pki revoke --dir ./pki --serial "$(openssl x509 -noout -serial -in old.pem)"
  forgeproof pki revoke --dir ./pki --refresh`, stdout)
	var c pkiCommon
	c.register(fs, false)
	var certs, serials listFlag
	fs.Var(&certs, "cert", "a certificate `FILE` to revoke (repeatable)")
	fs.Var(&serials, "serial", "a serial `number` to revoke (repeatable or comma-separated)")
	refresh := fs.Bool("refresh", false, "issue crl.pem again, valid 7 days from now, with the entries it has")
	if err := parseFlags(fs, args, false); err != nil {
		return err
	}
	if err := c.check("revoke"); err != nil {
		return err
	}
	if len(certs) == 0 && len(serials) == 0 && !*refresh {
		return usageErrorf("pki revoke: say what to revoke with --cert or --serial, or renew the CRL with --refresh")
	}
	var nums []*big.Int
	for _, s := range serials {
		n, err := pki.ParseSerial(s)
		if err != nil {
			return usageErrorf("pki revoke: %v", err)
		}
		nums = append(nums, n)
	}
	unlock, err := c.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	ca, err := c.loadCA()
	if err != nil {
		return err
	}
	for _, n := range nums {
		if n.Cmp(ca.Cert.SerialNumber) == 0 {
			return fmt.Errorf("serial %s is the CA itself, which its own CRL cannot revoke: remove it from the peers' trusted CAs", serialHex(n))
		}
	}
	for _, path := range certs {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		cert, err := pki.ParseCertPEM(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := cert.CheckSignatureFrom(ca.Cert); err != nil {
			return fmt.Errorf("%s was not issued by the CA in %q", path, c.dir)
		}
		if cert.IsCA {
			// Self-signed, so it passes the check above; but a CA's own
			// CRL cannot revoke it: verifiers never look the trust anchor up.
			return fmt.Errorf("%s is the CA itself, which its own CRL cannot revoke: remove it from the peers' trusted CAs (and make a new one with \"forgeproof pki init --force\")", path)
		}
		nums = append(nums, cert.SerialNumber)
	}
	prev, err := pki.LoadCRL(c.dir)
	if err != nil {
		return err
	}
	already := map[string]bool{}
	if prev != nil {
		for _, e := range prev.RevokedCertificateEntries {
			already[e.SerialNumber.String()] = true
		}
	}
	der, err := ca.Revoke(prev, nums...)
	if err != nil {
		return err
	}
	if err := pki.SaveCRL(c.dir, der); err != nil {
		return err
	}
	crl, err := pki.ParseCRL(der)
	if err != nil {
		return err
	}
	for _, n := range nums {
		if already[n.String()] {
			// Kept with its first revocation time; the CRL is issued
			// again all the same (as --refresh would).
			fmt.Fprintf(stdout, "serial %s was revoked already\n", serialHex(n))
		} else {
			fmt.Fprintf(stdout, "revoked serial %s\n", serialHex(n))
		}
	}
	listed := fmt.Sprintf("%d certificates", len(crl.RevokedCertificateEntries))
	if len(crl.RevokedCertificateEntries) == 1 {
		listed = "1 certificate"
	}
	fmt.Fprintf(stdout, "wrote %s: CRL number %s lists %s, next update %s\n",
		filepath.Join(c.dir, pki.CRLFile), crl.Number, listed, crl.NextUpdate.Format(time.RFC3339))
	return nil
}
