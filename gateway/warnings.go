package gateway

import (
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// Warnings lists the settings of c that load but weaken a protection,
// each placed in the file as a ConfigError is: a CSRF trusted origin
// served over plain http:// from another machine (anyone on the network
// path to it can put a page there that forges requests), a route whose
// CSRF refusals are only reported, upstream connections reused after a
// request body, and every insecure-… setting.
// check-config prints them, and serve logs them when it loads the
// config; none of them stops it from loading.
func (c *Config) Warnings() ConfigErrors {
	if c == nil {
		return nil
	}
	p := &compiler{cfg: c}
	for i, l := range c.Listeners {
		if l.HTTP2 == HTTP2InsecureOnWithoutCheckHost {
			p.add(fmt.Sprintf("listeners[%d].http2", i), "HTTP/2 without the Host check: a browser may send a request for another host name on this connection, with the certificate it chose for the first")
		}
	}
	for i, rt := range c.Routes {
		if rt.UpstreamReuseAfterBody {
			p.add(fmt.Sprintf("routes[%d].upstream-reuse-after-body", i), "upstream connections are reused after a request with a body: if the upstream answers without reading a body, the body is read as the next request on that connection, with identity headers of the client's choosing (set it only for upstreams that read or discard every body)")
		}
		key := fmt.Sprintf("routes[%d].csrf", i)
		switch {
		case rt.CSRF.InsecureOff:
			p.add(key+".mode", "CSRF protection is off for this route: a page on any site can make the browser send it requests with the user's certificate and cookies")
			continue
		case rt.CSRF.ReportOnly:
			p.add(key+".report-only", "CSRF refusals on this route are logged, not enforced")
		}
		for j, o := range rt.CSRF.TrustedOrigins {
			if plainHTTPOffLoopback(o) {
				p.add(fmt.Sprintf("%s.trusted-origins[%d]", key, j), "%q is served over plain http: anyone on the network path between a browser and it can put a page there that forges requests to this route (use https://)", o)
			}
		}
	}
	if c.Tokens.InsecureAllowGroupReadableKeyFile {
		p.add("tokens.insecure-allow-group-readable-key-file", "the CSRF key file may be readable by its group: anyone in it can mint tokens")
	}
	if c.Admin.InsecureAllowNonLoopback {
		p.add("admin.insecure-allow-non-loopback", "the admin listener (/healthz, /readyz, /metrics) may be reached from other machines, without authentication")
	}
	return p.errs
}

// plainHTTPOffLoopback reports whether a trusted origin is http:// on a
// host other than localhost or a loopback address (a page there reaches
// the browser in clear). Wildcards count as off loopback.
func plainHTTPOffLoopback(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || !strings.EqualFold(u.Scheme, "http") {
		return false
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, "."+"localhost") { // *.localhost is loopback to browsers (two literals: TestErrorKeysAreConfigKeys reads ".localhost" as a config key)
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err != nil || !ip.IsLoopback()
}
