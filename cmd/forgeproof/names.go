package main

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strings"

	"github.com/spiffe/go-spiffe/v2/spiffeid"
)

// checkDNSName reports why s is not a DNS name a certificate may carry
// (letters, digits and '-' in labels of 1 to 63 characters, not starting
// or ending with '-', 253 characters at most), or nil. With wildcard, a
// first label "*" is accepted ("*.example.com").
func checkDNSName(s string, wildcard bool) error {
	name := strings.TrimSuffix(s, ".")
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	if _, err := netip.ParseAddr(name); err == nil {
		return fmt.Errorf("an IP address, not a DNS name")
	}
	labels := strings.Split(name, ".")
	for i, l := range labels {
		switch {
		case l == "*" && i == 0 && wildcard && len(labels) > 2:
			continue
		case l == "*":
			return fmt.Errorf("a wildcard must be the first of at least three labels (\"*.example.com\")")
		case l == "":
			return fmt.Errorf("empty label")
		case len(l) > 63:
			return fmt.Errorf("label %q is longer than 63 characters", l)
		case strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-"):
			return fmt.Errorf("label %q starts or ends with '-'", l)
		}
		for _, c := range l {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("%q is not allowed: want letters, digits, '-' and '.'", c)
			}
		}
	}
	return nil
}

// checkEmail reports why s is not a bare e-mail address (local@domain,
// ASCII, no display name), or nil.
func checkEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return fmt.Errorf("want an address such as alice@example.com")
	}
	local, domain, _ := strings.Cut(s, "@")
	for _, c := range local {
		if c > 0x7e {
			return fmt.Errorf("want an ASCII address")
		}
	}
	if err := checkDNSName(domain, false); err != nil {
		return fmt.Errorf("domain %q: %v", domain, err)
	}
	return nil
}

// checkSPIFFEID reports why s is not a SPIFFE ID
// (spiffe://trust-domain/path), or nil.
func checkSPIFFEID(s string) error {
	id, err := spiffeid.FromString(s)
	if err != nil {
		if u, perr := url.Parse(s); perr == nil && u.Scheme != "spiffe" {
			return fmt.Errorf("scheme must be spiffe, as in spiffe://example.org/web")
		}
		return fmt.Errorf("%v (want spiffe://example.org/web)", err)
	}
	if id.Path() == "" {
		return fmt.Errorf("a workload's SPIFFE ID needs a path (X509-SVID §3.1), as in %s/web", s)
	}
	return nil
}
