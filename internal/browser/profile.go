package browser

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Profile is what the browser holds and trusts.
type Profile struct {
	// CACertsPEM holds the PEM certificates the browser trusts as roots for
	// server certificates. At least one is required.
	CACertsPEM []byte

	// ClientP12 is a PKCS#12 file with an empty password holding the client
	// certificate and its key. If nil, the browser holds no client
	// certificate and proceeds without one when a server asks.
	ClientP12 []byte

	// AutoSelect lists the origins ("https://localhost:8443") for which the
	// browser presents the client certificate without asking. A server
	// outside this list that asks for a certificate makes headless Chromium
	// wait on a picker no one can click; the action deadline ends it.
	AutoSelect []string

	// IssuerCN is the common name of the client certificate's issuer; the
	// auto-select rule picks the certificate by it. Required with
	// AutoSelect.
	IssuerCN string

	// BlockThirdPartyCookies keeps Chromium's headless default of blocking
	// third-party cookies. False (the zero value) allows them: the worst
	// case for a defender, because fetch and <img> requests from another
	// site then carry SameSite=None cookies.
	BlockThirdPartyCookies bool

	// Clients are more client certificates, each presented to its own
	// origins and picked there by its subject's common name, for tests
	// in which the browser holds one certificate per site.
	Clients []Client

	// H2ClientCertCoalescingHosts lets Chromium reuse an HTTP/2
	// connection on which it presented a client certificate for other
	// host names the server certificate covers: host patterns as
	// Chromium's HTTP2ClientCertCoalescingHosts policy takes them
	// ("example.com" matches it and its subdomains, ".example.com" the
	// name alone). Without it (the default) Chromium never reuses such a
	// connection for another name. It is written to the profile's Local
	// State, where the policy's preference lives.
	H2ClientCertCoalescingHosts []string
}

// Client is one more client certificate of a Profile.
type Client struct {
	// P12 is a PKCS#12 file with an empty password holding the
	// certificate and its key.
	P12 []byte
	// CommonName is the certificate's subject common name, which the
	// auto-select rule matches.
	CommonName string
	// Origins are where the browser presents it without asking
	// ("https://a.localhost:8443"); none may be in Profile.AutoSelect.
	Origins []string
}

func (p Profile) validate() error {
	if len(bytes.TrimSpace(p.CACertsPEM)) == 0 {
		return errors.New("browser: profile: CACertsPEM is empty: the browser must trust the server's CA")
	}
	for _, o := range p.AutoSelect {
		if err := checkOrigin(o); err != nil {
			return fmt.Errorf("browser: profile: auto-select origin %q: %w", o, err)
		}
	}
	for i, c := range p.Clients {
		if len(c.P12) == 0 || c.CommonName == "" || len(c.Origins) == 0 {
			return fmt.Errorf("browser: profile: Clients[%d]: P12, CommonName and Origins are required", i)
		}
		for _, o := range c.Origins {
			if err := checkOrigin(o); err != nil {
				return fmt.Errorf("browser: profile: Clients[%d]: origin %q: %w", i, o, err)
			}
			if slices.Contains(p.AutoSelect, o) {
				return fmt.Errorf("browser: profile: Clients[%d]: origin %q is also in AutoSelect: one rule per origin", i, o)
			}
		}
	}
	if len(p.AutoSelect) > 0 && p.IssuerCN == "" {
		return errors.New("browser: profile: IssuerCN is required with AutoSelect: the rule selects the certificate by its issuer")
	}
	return nil
}

// checkOrigin accepts only what an auto-select key can hold:
// https://host:port, nothing else.
func checkOrigin(o string) error {
	u, err := url.Parse(o)
	switch {
	case err != nil:
		return err
	case u.Scheme != "https":
		return errors.New("scheme must be https")
	case u.Hostname() == "" || u.Port() == "":
		return errors.New("host and port are required")
	case u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return errors.New("must be scheme://host:port only")
	}
	return nil
}

// writeNSSDB creates the NSS database Chromium reads at
// $HOME/.pki/nssdb, trusts the CAs and imports the client certificate.
func writeNSSDB(t Tools, home string, p Profile) error {
	dir := filepath.Join(home, ".pki", "nssdb")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	db := "sql:" + dir
	if err := run(t.Certutil, "-N", "-d", db, "--empty-password"); err != nil {
		return err
	}
	rest := p.CACertsPEM
	for i := 0; ; i++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if i == 0 {
				return errors.New("browser: profile: CACertsPEM holds no PEM block")
			}
			break
		}
		if block.Type != "CERTIFICATE" {
			return fmt.Errorf("browser: profile: CACertsPEM block %d is %q, want \"CERTIFICATE\"", i+1, block.Type)
		}
		f := filepath.Join(home, fmt.Sprintf("ca-%d.pem", i))
		if err := os.WriteFile(f, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
		// "CT,C,C": a trusted CA for TLS servers (and mail, objects), the
		// trust a root needs for Chromium to accept the server.
		if err := run(t.Certutil, "-A", "-d", db, "-n", fmt.Sprintf("forgeproof-e2e-ca-%d", i), "-t", "CT,C,C", "-i", f); err != nil {
			return err
		}
	}
	p12s := [][]byte{p.ClientP12}
	for _, c := range p.Clients {
		p12s = append(p12s, c.P12)
	}
	for i, b := range p12s {
		if b == nil {
			continue
		}
		f := filepath.Join(home, fmt.Sprintf("client-%d.p12", i))
		if err := os.WriteFile(f, b, 0o600); err != nil {
			return err
		}
		if err := run(t.Pk12util, "-i", f, "-d", db, "-W", ""); err != nil {
			return err
		}
	}
	return nil
}

// writePreferences writes <userDataDir>/Default/Preferences before the
// browser starts: the auto-select rules and the cookie settings.
func writePreferences(userDataDir string, p Profile) error {
	rules := map[string]any{}
	for _, o := range p.AutoSelect {
		rules[o+",*"] = map[string]any{
			"setting": map[string]any{
				"filters": []any{map[string]any{"ISSUER": map[string]string{"CN": p.IssuerCN}}},
			},
		}
	}
	for _, c := range p.Clients {
		for _, o := range c.Origins {
			rules[o+",*"] = map[string]any{
				"setting": map[string]any{
					"filters": []any{map[string]any{"SUBJECT": map[string]string{"CN": c.CommonName}}},
				},
			}
		}
	}
	cookieMode := 0 // allow third-party cookies
	if p.BlockThirdPartyCookies {
		cookieMode = 1
	}
	prefs := map[string]any{
		"profile": map[string]any{
			"content_settings": map[string]any{
				"exceptions": map[string]any{"auto_select_certificate": rules},
			},
			"cookie_controls_mode":      cookieMode,
			"block_third_party_cookies": p.BlockThirdPartyCookies,
		},
	}
	b, err := json.MarshalIndent(prefs, "", "  ")
	if err != nil {
		return err
	}
	dir := filepath.Join(userDataDir, "Default")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "Preferences"), b, 0o600)
}

// writeLocalState writes <userDataDir>/Local State before the browser
// starts: the browser-wide preferences (ssl.client_certs.h2_coalescing_hosts).
func writeLocalState(userDataDir string, p Profile) error {
	if len(p.H2ClientCertCoalescingHosts) == 0 {
		return nil
	}
	state := map[string]any{
		"ssl": map[string]any{
			"client_certs": map[string]any{"h2_coalescing_hosts": p.H2ClientCertCoalescingHosts},
		},
	}
	b, err := json.MarshalIndent(state, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(userDataDir, 0o700); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(userDataDir, "Local State"), b, 0o600)
}

// run runs a tool and puts its output in the error when it fails.
func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("browser: %s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
