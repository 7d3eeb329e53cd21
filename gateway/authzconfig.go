package gateway

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/mtls"
)

// Proxy is a proxy that "forgeproof authz" answers (Authz.Proxy). It
// reads and writes itself as "nginx", "caddy", "traefik" or "envoy"; the
// zero value is none (an authz section must name one).
type Proxy int

// Values of Authz.Proxy.
const (
	ProxyNginx Proxy = iota + 1
	ProxyCaddy
	ProxyTraefik
	ProxyEnvoy
)

var proxies = [...]string{"", "nginx", "caddy", "traefik", "envoy"}

// String returns p's name: "" for none, "Proxy(n)" for a value that is
// none of the constants.
func (p Proxy) String() string {
	if b, err := p.MarshalText(); err == nil {
		return string(b)
	}
	return fmt.Sprintf("Proxy(%d)", int(p))
}

// MarshalText returns p's name, "" for none; it fails for a value that is
// none of the constants.
func (p Proxy) MarshalText() ([]byte, error) {
	return enumText(proxies[:], p, "proxy")
}

// UnmarshalText sets p from its name.
func (p *Proxy) UnmarshalText(text []byte) error {
	if i := enumIndex(proxies[:], string(text)); i >= 0 {
		*p = Proxy(i)
		return nil
	}
	return fmt.Errorf("unknown proxy %q: want nginx, caddy, traefik or envoy", text)
}

// authzState is a compiled Authz section.
type authzState struct {
	address string
	proxy   Proxy
	callers []netip.Prefix
	// callerTLS is the decision service's own mTLS server, nil without
	// Authz.TLS; callerAllow authorizes its callers' certificates.
	callerTLS   *mtls.Server
	callerAllow mtls.Authorizer
	// verifier verifies the client certificates the proxy passes on; nil
	// when the proxy verified them (ClientCertificates.VerifiedByProxy).
	verifier *mtls.Server
}

// authz compiles cfg.Authz and checks that the rest of cfg is something
// a decision service can enforce. prev is the state in use (a reload):
// its CRL numbers are the floor, as for a listener.
func (p *compiler) authz(cfg *Config, prev *authzState, now func() time.Time) *authzState {
	a := cfg.Authz
	st := &authzState{address: a.Address, proxy: a.Proxy}
	p.hostPort("authz.address", a.Address)
	if a.Proxy == 0 {
		p.add("authz.proxy", "is required: nginx, caddy, traefik or envoy (only that proxy's headers are read)")
	} else if _, err := a.Proxy.MarshalText(); err != nil {
		p.add("authz.proxy", "%v", err) // a Config built in Go
	}
	st.callers = p.prefixes("authz.trusted-callers", a.TrustedCallers)
	if len(a.TrustedCallers) == 0 && a.TLS == nil {
		p.add("authz.trusted-callers", "is required unless authz.tls is set: without it any peer could ask, and claim any client certificate")
	}
	if t := a.TLS; t != nil {
		st.callerTLS, st.callerAllow = p.authzTLS(t, prevCallerTLS(prev), now)
	}

	cc := a.ClientCertificates
	switch {
	case cc.VerifiedByProxy && (len(cc.CAFiles) > 0 || len(cc.TrustDomainCAs) > 0 || len(cc.CRLFiles) > 0):
		p.add("authz.client-certificates.verified-by-proxy", "is true, so ca-files, trust-domain-cas and crl-files would not be used: remove them, or set verified-by-proxy: false to verify here")
	case !cc.VerifiedByProxy && len(cc.CAFiles) == 0 && len(cc.TrustDomainCAs) == 0:
		p.add("authz.client-certificates.ca-files", "is required to verify the client certificates the proxy passes on (or set verified-by-proxy: true when the proxy verifies them against its CAs and CRLs)")
	case !cc.VerifiedByProxy:
		st.verifier = p.clientVerifier(cc, prevVerifier(prev), now)
	}

	// What a decision service cannot do.
	if len(cfg.Listeners) > 0 {
		p.add("listeners", "are not used by forgeproof authz: the proxy terminates TLS; put the client CAs and CRLs under authz.client-certificates and the service's address under authz.address")
	}
	if len(cfg.TrustedForwarders) > 0 {
		p.add("trusted-forwarders", "are not used by forgeproof authz: the proxy passes the client certificate itself (authz.proxy)")
	}
	for i, r := range cfg.Routes {
		key := fmt.Sprintf("routes[%d]", i)
		if r.Cookies != (Cookies{}) {
			p.add(key+".cookies", "is not supported by forgeproof authz, which never sees responses: harden cookies in the proxy (nginx proxy_cookie_flags, Caddy header_down)")
		}
		if r.Allow.CORSPreflights {
			p.add(key+".allow.cors-preflights", "is not supported by forgeproof authz, which cannot trim the upstream's answer to the CORS headers: answer preflights in the proxy")
		}
		if !r.CSRF.InsecureOff && r.CSRF.Mode != csrf.ModeOriginOnly {
			if !a.HeaderTokens {
				p.add(key+".csrf.mode", "%q reads the token from the csrf_token form field when no X-CSRF-Token header is sent, but a proxy's question to forgeproof authz carries no request body, so a form token can never be checked: use origin-only, or set authz.header-tokens: true if every client of the route sends the token in a header", r.CSRF.Mode.String())
			}
		}
	}
	return st
}

func prevCallerTLS(prev *authzState) *mtls.Server {
	if prev == nil {
		return nil
	}
	return prev.callerTLS
}

func prevVerifier(prev *authzState) *mtls.Server {
	if prev == nil {
		return nil
	}
	return prev.verifier
}

// authzTLS loads the decision service's own mutual TLS.
func (p *compiler) authzTLS(t *AuthzTLS, replaces *mtls.Server, now func() time.Time) (*mtls.Server, mtls.Authorizer) {
	const key = "authz.tls"
	ok := true
	if t.CertFile == "" {
		p.add(key+".cert-file", "is required")
		ok = false
	}
	if t.KeyFile == "" {
		p.add(key+".key-file", "is required")
		ok = false
	}
	if t.Allow.Unauthenticated || t.Allow.CORSPreflights {
		p.add(key+".allow", "must name the proxies' certificates: unauthenticated and cors-preflights are route settings")
		ok = false
	}
	az := p.allow(key+".allow", t.Allow)
	if len(t.ClientCAFiles) == 0 {
		p.add(key+".client-ca-files", "at least one CA file is required")
		ok = false
	}
	cas, caKeys := p.clientCAs(key, "client-ca-files", t.ClientCAFiles, nil)
	srv := p.newServer(serverKeys{base: key, certs: []string{key + ".cert-file"}, clientCAs: key + ".client-ca-files", caKeys: caKeys}, mtls.ServerConfig{
		Time:         now,
		Replaces:     replaces,
		Certificates: []mtls.KeyPair{{CertFile: t.CertFile, KeyFile: t.KeyFile}},
		ClientCAs:    cas,
		Authorizer:   az,
	})
	if srv == nil || !ok {
		return nil, az
	}
	leaves, _ := srv.Certificates()
	if err := CheckServerCertificate(leaves[0], time.Now()); err != nil {
		p.add(key+".cert-file", "%q: %v", t.CertFile, err)
		return nil, az
	}
	return srv, az
}

// clientVerifier loads the CAs and CRLs that verify the client
// certificates a proxy passes on: the same checks as a listener's
// handshake (mtls.Server.VerifyChain).
func (p *compiler) clientVerifier(cc ClientCertificates, replaces *mtls.Server, now func() time.Time) *mtls.Server {
	const key = "authz.client-certificates"
	cas, caKeys := p.clientCAs(key, "ca-files", cc.CAFiles, cc.TrustDomainCAs)
	if len(cas) == 0 {
		p.add(key+".ca-files", "at least one CA file is required")
		return nil
	}
	return p.newServer(serverKeys{base: key, clientCAs: key + ".ca-files", caKeys: caKeys, crls: key + ".crl-files"}, mtls.ServerConfig{
		VerifyOnly:     true,
		Time:           now,
		Replaces:       replaces,
		ClientCAs:      cas,
		CRLs:           sources(cc.CRLFiles),
		CRLGracePeriod: cc.CRLGracePeriod,
	})
}
