package gateway_test

import (
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// configCases are YAML configs and the first error each must produce
// (file:line: key: message), or "" when it must parse and validate
// (files aside). Paths to files are placeholders: the tests that need
// real files use newWorld.
var configCases = []struct {
	name string
	yaml string
	want string // a substring of the error; "" for none
}{
	{"minimal", `
listeners: [{address: ":8443", tls: {cert-file: s.pem, key-file: k.pem, client-ca-files: [ca.pem]}}]
routes: [{upstream: "http://127.0.0.1:9000", allow: {any-verified: true}}]
`, ""},
	{"check-host and cors-preflights", `
listeners: [{address: ":8443", tls: {cert-file: s.pem, key-file: k.pem, client-ca-files: [ca.pem], check-host: true}}]
routes: [{upstream: "http://127.0.0.1:9000", allow: {any-verified: true, cors-preflights: true}}]
`, ""},
	{"check-host not a boolean", "listeners: [{tls: {check-host: sometimes}}]\n", `listeners[0].tls.check-host: must be true or false, not "sometimes"`},
	{"unknown top-level key", "listners: []\n", "c.yaml:1: listners: unknown key"},
	{"unknown nested key", "routes:\n  - upstream: http://x\n    alow: {}\n", "c.yaml:3: routes[0].alow: unknown key"},
	{"duplicate key", "log: {level: info}\nlog: {level: debug}\n", "c.yaml:2: log: duplicate key"},
	{"bad duration", "limits: {idle-timeout: 10}\n", `c.yaml:1: limits.idle-timeout: invalid duration "10"`},
	{"negative duration", "limits: {shutdown-grace: -1s}\n", `limits.shutdown-grace: invalid duration "-1s"`},
	{"bad number", "limits: {max-header-bytes: 1e9}\n", `limits.max-header-bytes: invalid number "1e9"`},
	{"number beyond int64", "limits: {max-body-bytes: 99999999999999999999}\n", `limits.max-body-bytes: number 99999999999999999999 is too large: at most 9223372036854775807`},
	{"largest int64", "limits: {max-body-bytes: 9223372036854775807}\n", ""},
	{"number below int64", "limits: {max-body-bytes: -99999999999999999999}\n", `limits.max-body-bytes: invalid number "-99999999999999999999": want a non-negative integer`},
	{"tab indentation", "log:\n\tlevel: info\n", "c.yaml:2: found character that cannot start any token: a tab at column 1; YAML indents with spaces only"},
	{"backtick", "log: `x`\n", "c.yaml:1: found character that cannot start any token"},
	{"bad boolean", "routes: [{csrf: {report-only: yes}}]\n", `routes[0].csrf.report-only: must be true or false, not "yes"`},
	{"mapping where a list is expected", "listeners: {address: x}\n", "c.yaml:1: listeners: must be a list"},
	{"list where a value is expected", "identity-forwarding: [xfcc]\n", "identity-forwarding: must be a single value"},
	{"alias", "a: &x 1\nlog: {level: *x}\n", "c.yaml:1: a: unknown key"},
	{"merge key", "log: {<<: {level: info}}\n", "c.yaml:1: log.<<: YAML merge keys are not supported: write the keys out"},
	{"quoted << is a key", "log: {\"<<\": {level: info}}\n", `c.yaml:1: log.<<: unknown key (want one of: format, level)`},
	{"alias only", "log: &x {level: info}\nadmin: *x\n", "admin: YAML aliases are not supported"},
	{"alias in a list", "routes: [{allow: {dns-names: [&x a.example, *x]}}]\n", "c.yaml:1: routes[0].allow.dns-names[1]: YAML aliases are not supported"},
	{"anchor in a list, no alias", "routes: [{allow: {dns-names: [&x a.example, b.example]}}]\n", ""},
	// Explicit tags: the decoder reads text, so a tag that would change
	// what the text means is refused (a tagged null read as absent
	// turned browsers: false into the default, true).
	{"tagged null", "routes:\n  - browsers: !!null false\n", "c.yaml:2: routes[0].browsers: explicit YAML tag !!null is not supported: write the value without it"},
	{"tagged bool", "routes: [{allow: {any-verified: !!bool true}}]\n", "routes[0].allow.any-verified: explicit YAML tag !!bool is not supported"},
	{"binary tag", "log: {level: !!binary aW5mbw==}\n", "log.level: explicit YAML tag !!binary is not supported"},
	{"custom tag", "routes: [{csrf: {mode: !secret insecure-off}}]\n", "routes[0].csrf.mode: explicit YAML tag !secret is not supported"},
	{"tag on a list item", "trusted-proxies: [10.0.0.1, !!null x]\n", "c.yaml:1: trusted-proxies[1]: explicit YAML tag !!null is not supported"},
	{"tag on a mapping", "log: !!map {level: info}\n", "log: explicit YAML tag !!map is not supported"},
	{"str tag", "routes: [{browsers: !!str false, csrf: {mode: !!str origin-only}}]\n", ""},
	{"two documents", "log: {}\n---\nlog: {}\n", "more than one YAML document"},
	{"syntax error", "log: {level: info\n", "c.yaml:"},
	// issue 12: go-yaml says no line for errors on line 1.
	{"syntax error on line 1", "log: a: b\n", "c.yaml:1: mapping values are not allowed in this context"},
	{"syntax error on line 2", "log: {}\nadmin: a: b\n", "c.yaml:2: mapping values are not allowed in this context"},
	{"empty", "", "empty config"},
	{"comment only", "# nothing\n", "empty config"},
	{"scalar document", "hello\n", "must be a mapping"},
	{"cookies unknown key", "routes: [{cookies: {samesite: lax}}]\n", "c.yaml:1: routes[0].cookies.samesite: unknown key"},
	{"csrf mode", "routes: [{csrf: {mode: token-if-no-browser-headers}}]\n", ""},
	{"csrf mode insecure-off", "routes: [{csrf: {mode: insecure-off}}]\n", ""},
	{"csrf mode unknown", "routes:\n  - csrf: {mode: tokens}\n", `c.yaml:2: routes[0].csrf.mode: unknown mode "tokens": want origin-only, origin-and-token, token-if-no-browser-headers or insecure-off`},
	{"csrf off spelled plainly", "routes: [{csrf: {mode: \"off\"}}]\n", `routes[0].csrf.mode: "off" is not a mode: to turn CSRF protection off, write "insecure-off"`},
	{"client-auth unknown", "listeners: [{tls: {client-auth: optional}}]\n", `c.yaml:1: listeners[0].tls.client-auth: unknown client auth mode "optional": want require or verify-if-given`},
	{"min-version unknown", "listeners: [{tls: {min-version: \"1.1\"}}]\n", `listeners[0].tls.min-version: unknown TLS version "1.1": want "1.2" or "1.3"`},
	{"min-version as a number", "listeners: [{tls: {min-version: 1.2}}]\n", ""},
	{"identity-forwarding unknown", "identity-forwarding: envoy\n", `c.yaml:1: identity-forwarding: unknown format "envoy": want rfc9440, xfcc or both`},
	{"forwarder header unknown", "trusted-forwarders: [{header: XFCC}]\n", `trusted-forwarders[0].header: unknown format "XFCC"`},
	{"misspelt key", "listeners: [{tls: {client_auth: require}}]\n", `listeners[0].tls.client_auth: unknown key (did you mean "client-auth"?)`},
	{"unknown key far from any", "log: {colour: red}\n", `log.colour: unknown key (want one of: format, level)`},
	{"cookies not a boolean", "routes: [{cookies: {secure: yes}}]\n", `routes[0].cookies.secure: must be true or false, not "yes"`},
	// Typed values: a bad one is reported where it is, by its type; each
	// has a good twin.
	{"http2 off", "listeners: [{http2: \"off\"}]\n", ""},
	{"http2 unknown", "listeners:\n  - http2: \"yes\"\n", `c.yaml:2: listeners[0].http2: unknown value "yes": want "on" (the default), "off" or "insecure-on-without-check-host"`},
	{"authz proxy", "authz: {proxy: envoy}\n", ""},
	{"authz proxy unknown", "authz:\n  proxy: apache\n", `c.yaml:2: authz.proxy: unknown proxy "apache": want nginx, caddy, traefik or envoy`},
	{"log format and level", "log: {format: text, level: WARNING}\n", ""},
	{"log format unknown", "log:\n  format: xml\n", `c.yaml:2: log.format: unknown format "xml": want json or text`},
	{"log level unknown", "log:\n  level: loud\n", `c.yaml:2: log.level: unknown level "loud": want debug, info, warn or error`},
	{"cookies same-site", "routes: [{cookies: {same-site: Strict}}]\n", ""},
	{"cookies same-site none", "routes:\n  - cookies: {same-site: none}\n", `c.yaml:2: routes[0].cookies.same-site: "none" would weaken the upstream's cookies: want lax, strict or off`},
	{"cookies same-site unknown", "routes:\n  - cookies: {same-site: loose}\n", `c.yaml:2: routes[0].cookies.same-site: unknown value "loose": want lax, strict or off`},
	// Spellings an operator writes by hand (see spellingCases for the
	// values the accepted ones read as).
	{"duration unit twice", "limits: {idle-timeout: 1h1h}\n", `c.yaml:1: limits.idle-timeout: invalid duration "1h1h": the unit "h" appears twice and the parts are added up; write each unit once, largest first, such as "1h30m"`},
	{"duration fractional unit twice", "limits: {idle-timeout: 1h0.5h}\n", `limits.idle-timeout: invalid duration "1h0.5h": the unit "h" appears twice`},
	{"duration units smallest first", "limits: {shutdown-grace: 30s1m}\n", `limits.shutdown-grace: invalid duration "30s1m": "m" comes after the smaller unit "s"`},
	{"duration ms before s", "limits: {shutdown-grace: 500ms2s}\n", `invalid duration "500ms2s": "s" comes after the smaller unit "ms"`},
	{"duration units largest first", "limits: {shutdown-grace: 1h30m15s500ms}\n", ""},
	{"duration in days", "limits: {idle-timeout: 1d}\n", `limits.idle-timeout: invalid duration "1d": Go durations have no day or week unit: write hours, such as "24h" for a day`},
	{"duration in weeks", "listeners: [{tls: {crl-grace-period: 1w}}]\n", `listeners[0].tls.crl-grace-period: invalid duration "1w": Go durations have no day or week unit`},
	{"duration in hours", "listeners: [{tls: {crl-grace-period: 168h}}]\n", ""},
	{"duration negative", "limits: {idle-timeout: -5s}\n", `limits.idle-timeout: invalid duration "-5s": must not be negative`},
	// Edges: the largest duration there is, and one past it (time.Duration
	// overflows: ParseDuration's error reads like a syntax error); under
	// a nanosecond, read as 0, which means the default or, for
	// read-timeout and write-timeout, no limit at all; a number without a
	// unit.
	{"duration largest", "limits: {read-timeout: 2562047h}\n", ""},
	{"duration overflow", "limits: {read-timeout: 2562048h}\n", `c.yaml:1: limits.read-timeout: invalid duration "2562048h": too large: at most 2562047h (about 292 years)`},
	{"duration far overflow", "listeners: [{proxy-protocol: {header-timeout: 9999999h}}]\n", `listeners[0].proxy-protocol.header-timeout: invalid duration "9999999h": too large`},
	{"duration negative overflow", "limits: {write-timeout: -9999999h}\n", `limits.write-timeout: invalid duration "-9999999h": must not be negative`},
	{"duration one nanosecond", "limits: {write-timeout: 1ns}\n", ""},
	{"duration under a nanosecond", "limits: {write-timeout: 0.5ns}\n", `c.yaml:1: limits.write-timeout: invalid duration "0.5ns": under 1ns, which would read as 0 (the default, or no limit); write 0 or at least 1ns`},
	{"duration tiny fraction", "limits: {read-timeout: 0.0000000001s}\n", `limits.read-timeout: invalid duration "0.0000000001s": under 1ns`},
	{"duration zero with a unit", "limits: {read-timeout: 0.0s}\n", ""},
	{"duration negative zero", "limits: {read-timeout: -0s}\n", ""},
	{"duration without a unit", "limits: {stall-timeout: 10}\n", `limits.stall-timeout: invalid duration "10": a duration needs a unit, such as "10s" (seconds) or "10ms"`},
	{"duration with a unit", "limits: {stall-timeout: 10s}\n", ""},
	// Only what ParseDuration reads but for its size is "too large"; an
	// empty value has no number to add a unit to.
	{"duration two signs", "limits: {read-timeout: +-1s}\n", `limits.read-timeout: invalid duration "+-1s": want a non-negative Go duration`},
	{"duration two dots", "limits: {read-timeout: 1..5s}\n", `limits.read-timeout: invalid duration "1..5s": want a non-negative Go duration`},
	{"duration dot without digits", "limits: {read-timeout: .s}\n", `limits.read-timeout: invalid duration ".s": want a non-negative Go duration`},
	{"duration empty", "limits: {read-timeout: \"\"}\n", `limits.read-timeout: invalid duration "": want a non-negative Go duration`},
	{"duration sign and leading dot", "limits: {read-timeout: +.5s}\n", ""},
	{"duration trailing dot", "limits: {read-timeout: 5.s}\n", ""},
	{"duration in microseconds (micro sign)", "limits: {read-timeout: 1\u00b5s}\n", ""},
	{"duration in microseconds (Greek mu)", "limits: {read-timeout: 1\u03bcs}\n", ""},
	{"duration zero units", "limits: {read-timeout: 0h0m0s}\n", ""},
	{"duration exponent", "limits: {read-timeout: 1e3s}\n", `limits.read-timeout: invalid duration "1e3s": want a non-negative Go duration`},
	{"duration float without a unit", "limits: {stall-timeout: 1.5}\n", `limits.stall-timeout: invalid duration "1.5": want a non-negative Go duration`},
	{"duration fraction", "limits: {idle-timeout: 1.5h}\n", ""},
	{"duration zero", "limits: {idle-timeout: 0}\n", ""},
	{"duration no value", "limits:\n  idle-timeout:\n", `c.yaml:2: limits.idle-timeout: has no value: write a duration such as "30s", or leave the key out for the default`},
	{"duration null", "limits: {idle-timeout: ~}\n", `limits.idle-timeout: has no value`},
	{"duration quoted", "limits: {idle-timeout: \"30s\"}\n", ""},
	{"number with a leading zero", "limits: {max-body-bytes: 010}\n", `c.yaml:1: limits.max-body-bytes: invalid number "010": a leading 0 reads as octal in some YAML readers and decimal in others; write it without the 0 ("10")`},
	{"number zero zero", "limits: {max-header-bytes: 00}\n", `limits.max-header-bytes: invalid number "00": a leading 0`},
	{"number zero", "limits: {max-body-bytes: 0}\n", ""},
	{"number ten", "limits: {max-body-bytes: 10}\n", ""},
	{"number largest int64", "limits: {max-body-bytes: 9223372036854775807}\n", ""},
	{"number past int64", "limits: {max-body-bytes: 9223372036854775808}\n", `c.yaml:1: limits.max-body-bytes: number 9223372036854775808 is too large: at most 9223372036854775807`},
	{"number largest int", "limits: {upstream-max-conns-per-host: 2147483647}\n", ""},
	{"number past int32", "limits: {upstream-max-conns-per-host: 2147483648}\n", `limits.upstream-max-conns-per-host: number 2147483648 is too large: at most 2147483647`},
	{"number float", "limits: {max-header-bytes: 65536.0}\n", `limits.max-header-bytes: invalid number "65536.0": want a non-negative integer`},
	{"number exponent", "limits: {max-body-bytes: 1e18}\n", `limits.max-body-bytes: invalid number "1e18": want a non-negative integer`},
	{"number with a duration unit", "limits: {max-body-bytes: 10s}\n", `limits.max-body-bytes: invalid number "10s"`},
	{"number quoted", "limits: {max-body-bytes: \"1048576\"}\n", ""},
	{"number hex", "limits: {max-body-bytes: 0x10}\n", `limits.max-body-bytes: invalid number "0x10": want a non-negative integer`},
	{"number with a unit", "limits: {max-body-bytes: 10MB}\n", `limits.max-body-bytes: invalid number "10MB": want a non-negative integer`},
	{"number with underscores", "limits: {max-body-bytes: 1_000}\n", `invalid number "1_000"`},
	{"number negative", "limits: {upstream-max-idle-conns-per-host: -1}\n", `limits.upstream-max-idle-conns-per-host: invalid number "-1": want a non-negative integer`},
	{"number no value", "limits: {max-body-bytes: }\n", `limits.max-body-bytes: has no value: write a number, or leave the key out for the default`},
	{"number null", "limits: {http2-max-concurrent-streams: null}\n", `limits.http2-max-concurrent-streams: has no value`},
	{"boolean no value", "listeners: [{tls: {check-host: }}]\n", `listeners[0].tls.check-host: has no value: write true or false, or leave the key out for the default`},
	{"boolean capitalised", "routes: [{csrf: {spa: True}}]\n", `routes[0].csrf.spa: must be true or false, not "True"`},
	{"boolean one", "routes: [{csrf: {spa: 1}}]\n", `routes[0].csrf.spa: must be true or false, not "1"`},
	{"boolean on", "routes: [{allow-underscore-headers: on}]\n", `routes[0].allow-underscore-headers: must be true or false, not "on"`},
	{"boolean quoted", "routes: [{csrf: {spa: \"true\"}}]\n", ""},
	{"null list item", "routes: [{allow: {common-names: [alice, ~]}}]\n", `c.yaml:1: routes[0].allow.common-names[1]: has no value: YAML reads ~ as null; write the entry (quoted, "~", if that is the name) or remove the item`},
	{"null word list item", "strip-request-headers:\n  - X-A\n  - null\n", `c.yaml:3: strip-request-headers[1]: has no value: YAML reads null as null`},
	{"empty list item", "trusted-proxies:\n  - 10.0.0.1\n  -\n", `c.yaml:3: trusted-proxies[1]: has no value: write the entry or remove the item`},
	{"quoted tilde list item", "routes: [{allow: {common-names: [alice, \"~\"]}}]\n", ""},
	{"comma-separated scalar for a list", "trusted-proxies: 10.0.0.0/8, 192.168.0.0/16\n", `c.yaml:1: trusted-proxies: "10.0.0.0/8, 192.168.0.0/16" is one value with a comma: for a list write [10.0.0.0/8, 192.168.0.0/16]; for one entry with a comma write ["10.0.0.0/8, 192.168.0.0/16"]`},
	{"comma-separated common names", "routes:\n  - allow:\n      common-names: alice, bob\n", `c.yaml:3: routes[0].allow.common-names: "alice, bob" is one value with a comma`},
	{"list of two for commas", "trusted-proxies: [10.0.0.0/8, 192.168.0.0/16]\n", ""},
	{"quoted scalar with a comma", "routes: [{allow: {common-names: \"Acme, Inc.\"}}]\n", ""},
	{"single scalar for a list", "trusted-proxies: 10.0.0.0/8\n", ""},
	{"UTF-16 without a byte-order mark", "l\x00o\x00g\x00:\x00 \x00{\x00}\x00\n\x00", "c.yaml:1: control characters are not allowed: the file has NUL bytes (UTF-16 without a byte-order mark, or not text); save it as UTF-8"},
	{"UTF-16 with a byte-order mark", "\xff\xfel\x00o\x00g\x00:\x00 \x00{\x00}\x00\n\x00", ""},
}

// spellingCases are hand-written values ParseConfig accepts, and what
// they must read as: the value a reader of docs/gateway.md expects.
var spellingCases = []struct {
	name string
	yaml string
	get  func(*gateway.Config) any
	want any
}{
	{"fractional hours", "limits: {idle-timeout: 1.5h}", func(c *gateway.Config) any { return c.Limits.IdleTimeout }, 90 * time.Minute},
	{"hours and minutes", "limits: {idle-timeout: 1h30m}", func(c *gateway.Config) any { return c.Limits.IdleTimeout }, 90 * time.Minute},
	{"quoted number", "limits: {max-body-bytes: \"1048576\"}", func(c *gateway.Config) any { return c.Limits.MaxBodyBytes }, int64(1 << 20)},
	{"str-tagged number", "limits: {max-body-bytes: !!str 1048576}", func(c *gateway.Config) any { return c.Limits.MaxBodyBytes }, int64(1 << 20)},
	{"plus sign", "limits: {max-header-bytes: +8192}", func(c *gateway.Config) any { return c.Limits.MaxHeaderBytes }, 8192},
	{"quoted boolean", "routes: [{browsers: \"false\"}]", func(c *gateway.Config) any { return *c.Routes[0].Browsers }, false},
	{"scalar for a list", "trusted-proxies: 10.0.0.0/8", func(c *gateway.Config) any { return c.TrustedProxies }, []string{"10.0.0.0/8"}},
	{"quoted value with a comma", "routes: [{allow: {common-names: \"Acme, Inc.\"}}]", func(c *gateway.Config) any { return c.Routes[0].Allow.CommonNames }, []string{"Acme, Inc."}},
	{"quoted tilde", "routes: [{allow: {common-names: [\"~\"]}}]", func(c *gateway.Config) any { return c.Routes[0].Allow.CommonNames }, []string{"~"}},
	{"version as a float", "listeners: [{tls: {min-version: 1.2}}]", func(c *gateway.Config) any { return c.Listeners[0].TLS.MinVersion }, gateway.TLSVersion(tls.VersionTLS12)},
	{"port with a leading zero is decimal", "listeners: [{address: \":0443\"}]", func(c *gateway.Config) any { return c.Listeners[0].Address }, ":0443"},
	{"name that looks octal stays text", "routes: [{name: 0777}]", func(c *gateway.Config) any { return c.Routes[0].Name }, "0777"},
	{"trust-domain-cas", "listeners: [{tls: {trust-domain-cas: [{trust-domain: partner.example, ca-files: p.pem}]}}]", func(c *gateway.Config) any { return c.Listeners[0].TLS.TrustDomainCAs },
		[]gateway.TrustDomainCAs{{TrustDomain: "partner.example", CAFiles: []string{"p.pem"}}}},
	{"authz trust-domain-cas", "authz: {client-certificates: {trust-domain-cas: [{trust-domain: partner.example, ca-files: [p.pem]}]}}", func(c *gateway.Config) any { return c.Authz.ClientCertificates.TrustDomainCAs },
		[]gateway.TrustDomainCAs{{TrustDomain: "partner.example", CAFiles: []string{"p.pem"}}}},
}

func TestParseConfigSpellings(t *testing.T) {
	t.Parallel()
	for _, tt := range spellingCases {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := gateway.ParseConfig("c.yaml", []byte(tt.yaml+"\n"))
			if err != nil {
				t.Fatalf("got error %v, want none", err)
			}
			if got := tt.get(cfg); !equal(got, tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	for _, tt := range configCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gateway.ParseConfig("c.yaml", []byte(tt.yaml))
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
			var errs gateway.ConfigErrors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("got error of type %T, want gateway.ConfigErrors", err)
			}
		})
	}
}

func TestParseConfigValues(t *testing.T) {
	t.Parallel()
	cfg, err := gateway.ParseConfig("c.yaml", []byte(`
listeners:
  - address: ":8443"
    tls: {cert-file: s.pem, key-file: k.pem, client-ca-files: ca.pem, client-auth: verify-if-given, crl-files: [a.crl, b.crl], min-version: "1.2", crl-grace-period: 1h}
routes:
  - name: api
    host: API.example.com
    path-prefix: /api
    upstream: http://127.0.0.1:9000
    browsers: false
    allow: {spiffe-ids: ["spiffe://a/b"], trust-domains: [a], dns-names: ["*.svc"], common-names: [x], organizational-units: [y], spki-pins: [z], any-verified: true, unauthenticated: false}
    csrf: {mode: origin-and-token, report-only: true, trusted-origins: ["https://a.example"], allow-same-site: true, spa: true}
    cookies: {secure: true, host-prefix: sid}
  - upstream: http://127.0.0.1:9001
trusted-proxies: [10.0.0.0/8]
trusted-forwarders: [{addresses: [10.1.0.1], spiffe-ids: ["spiffe://a/lb"], header: xfcc}]
tokens: {key-file: keys, session-cookie: sid}
identity-forwarding: both
admin: {address: "127.0.0.1:9999", insecure-allow-non-loopback: false}
log: {format: text, level: debug}
limits: {read-header-timeout: 1s, read-timeout: 2s, write-timeout: 3s, idle-timeout: 4s, max-header-bytes: 8192, max-body-bytes: 1000, upstream-dial-timeout: 5s, upstream-tls-handshake-timeout: 6s, upstream-response-header-timeout: 7s, upstream-idle-conn-timeout: 8s, upstream-max-idle-conns-per-host: 9, upstream-max-conns-per-host: 12, shutdown-grace: 10s, shutdown-delay: 11s}
`))
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Routes[0]
	tests := []struct {
		name      string
		got, want any
	}{
		{"client-ca-files as one string", cfg.Listeners[0].TLS.ClientCAFiles, []string{"ca.pem"}},
		{"crl-grace-period", cfg.Listeners[0].TLS.CRLGracePeriod, time.Hour},
		{"host", r.Host, "API.example.com"},
		{"browsers", *r.Browsers, false},
		{"csrf mode", r.CSRF.Mode, csrf.ModeOriginAndToken},
		{"client-auth", cfg.Listeners[0].TLS.ClientAuth, mtls.VerifyClientCertIfGiven},
		{"min-version", cfg.Listeners[0].TLS.MinVersion, gateway.TLSVersion(tls.VersionTLS12)},
		{"identity-forwarding", *cfg.IdentityForwarding, forwarded.Both},
		{"spa", r.CSRF.SPA, true},
		{"forwarder header", *cfg.TrustedForwarders[0].Header, forwarded.XFCC},
		{"session cookie", cfg.Tokens.SessionCookie, "sid"},
		{"max-body-bytes", cfg.Limits.MaxBodyBytes, int64(1000)},
		{"shutdown-grace", cfg.Limits.ShutdownGrace, 10 * time.Second},
		{"shutdown-delay", cfg.Limits.ShutdownDelay, 11 * time.Second},
		{"upstream-max-idle-conns-per-host", cfg.Limits.UpstreamMaxIdleConnsPerHost, 9},
		{"upstream-max-conns-per-host", cfg.Limits.UpstreamMaxConnsPerHost, 12},
		{"cookies secure", r.Cookies.Secure, true},
		{"cookies same-site defaults to lax", r.Cookies.SameSite, gateway.SameSiteLax},
		{"cookies host-prefix", r.Cookies.HostPrefix, "sid"},
		{"no cookies mapping, no same-site", cfg.Routes[1].Cookies.SameSite, gateway.SameSite(0)},
		{"log format", cfg.Log.Format, gateway.LogText},
		{"log level", cfg.Log.Level, gateway.LogLevel(slog.LevelDebug)},
	}
	for _, tt := range tests {
		if !equal(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func equal(a, b any) bool {
	as, ok1 := a.([]string)
	bs, ok2 := b.([]string)
	if ok1 && ok2 {
		return strings.Join(as, "\x00") == strings.Join(bs, "\x00")
	}
	if _, ok := a.([]gateway.TrustDomainCAs); ok {
		return reflect.DeepEqual(a, b)
	}
	return a == b
}

// TestValidate checks the semantic errors, each with its twin that
// passes, on configs built in Go around real certificate files.
func TestValidate(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	// A route's host must be covered by a listener's certificate
	// (certcheck.go): the cases with hosts add this one.
	hosts := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"api.example.com"}, IPAddresses: []net.IP{net.IPv6loopback}})
	if err := hosts.Save(w.dir, "hosts.pem", "hosts-key.pem"); err != nil {
		t.Fatal(err)
	}
	hostsCert := []gateway.ServerCertificate{{CertFile: w.path("hosts.pem"), KeyFile: w.path("hosts-key.pem")}}
	upCert, upKey := w.save("gw-client", w.web)
	partnerCA := w.write("partner-ca.pem", pki.EncodeCertsPEM(pkitest.CA(t).Cert))
	bind := func(td string, files ...string) []gateway.TrustDomainCAs {
		return []gateway.TrustDomainCAs{{TrustDomain: td, CAFiles: files}}
	}
	authzTLS := func(keyFile, caFile string) *gateway.AuthzTLS {
		return &gateway.AuthzTLS{
			CertFile: w.path("server.pem"), KeyFile: keyFile, ClientCAFiles: []string{caFile},
			Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/web"}},
		}
	}
	tests := []struct {
		name   string
		change func(*gateway.Config)
		want   string // "" means valid
	}{
		{"the base config is valid", func(*gateway.Config) {}, ""},
		{"no listeners", func(c *gateway.Config) { c.Listeners = nil }, "listeners: at least one listener is required"},
		{"no address", func(c *gateway.Config) { c.Listeners[0].Address = "" }, "listeners[0].address: is required"},
		{"address without port", func(c *gateway.Config) { c.Listeners[0].Address = "localhost" }, `listeners[0].address: invalid address "localhost"`},
		{"no CA", func(c *gateway.Config) { c.Listeners[0].TLS.ClientCAFiles = nil }, "listeners[0].tls.client-ca-files: at least one CA file is required"},
		{"a partner's CA bound to its trust domain", func(c *gateway.Config) { c.Listeners[0].TLS.TrustDomainCAs = bind("partner.example", partnerCA) }, ""},
		{"only CAs bound to trust domains", func(c *gateway.Config) {
			c.Listeners[0].TLS.ClientCAFiles = nil
			c.Listeners[0].TLS.TrustDomainCAs = bind("test.example", w.path("ca.pem"))
		}, ""},
		{"trust-domain-cas without trust domain", func(c *gateway.Config) { c.Listeners[0].TLS.TrustDomainCAs = bind("", partnerCA) }, "listeners[0].tls.trust-domain-cas[0].trust-domain: is required"},
		{"trust-domain-cas without CA files", func(c *gateway.Config) { c.Listeners[0].TLS.TrustDomainCAs = bind("partner.example") }, "listeners[0].tls.trust-domain-cas[0].ca-files: at least one CA file is required"},
		{"trust-domain-cas with a SPIFFE ID", func(c *gateway.Config) {
			c.Listeners[0].TLS.TrustDomainCAs = bind("spiffe://partner.example/billing", partnerCA, partnerCA)
		}, `listeners[0].tls.trust-domain-cas[0].trust-domain: invalid trust domain "spiffe://partner.example/billing": want "partner.example" or "spiffe://partner.example" (a SPIFFE ID with a path names workloads: write the trust domain alone)`},
		{"trust-domain-cas naming a client-ca-files CA", func(c *gateway.Config) {
			c.Listeners[0].TLS.TrustDomainCAs = bind("test.example", partnerCA, w.path("ca.pem"))
		},
			`listeners[0].tls.trust-domain-cas[0].ca-files[1]: "` + w.path("ca.pem") + `": client CA "` + w.ca.Cert.Subject.String() + `" is bound to trust domain "test.example" here, and its key is also in listeners[0].tls.client-ca-files[0], which binds it to none`},
		{"trust-domain-cas file missing", func(c *gateway.Config) {
			c.Listeners[0].TLS.TrustDomainCAs = bind("partner.example", w.path("nope.pem"))
		},
			`listeners[0].tls.trust-domain-cas[0].ca-files[0]: cannot read "` + w.path("nope.pem") + `"`},
		{"authz trust-domain-cas with verified-by-proxy", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			c.Authz.ClientCertificates = gateway.ClientCertificates{VerifiedByProxy: true, TrustDomainCAs: bind("partner.example", partnerCA)}
		}, "authz.client-certificates.verified-by-proxy: is true, so ca-files, trust-domain-cas and crl-files would not be used"},
		{"authz trust-domain-cas alone", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			c.Authz.ClientCertificates = gateway.ClientCertificates{TrustDomainCAs: bind("test.example", w.path("ca.pem"))}
		}, ""},
		{"authz trust-domain-cas without trust domain", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			c.Authz.ClientCertificates.TrustDomainCAs = bind("", partnerCA)
		}, "authz.client-certificates.trust-domain-cas[0].trust-domain: is required"},
		{"TLS 1.2 allowed", func(c *gateway.Config) { c.Listeners[0].TLS.MinVersion = tls.VersionTLS12 }, ""},
		{"TLS 1.1 refused", func(c *gateway.Config) { c.Listeners[0].TLS.MinVersion = tls.VersionTLS11 }, `listeners[0].tls.min-version: unsupported TLS version 0x0302: want 1.2 or 1.3`},
		{"require mode", func(c *gateway.Config) { c.Listeners[0].TLS.ClientAuth = mtls.RequireClientCert }, ""},
		{"unknown client-auth", func(c *gateway.Config) { c.Listeners[0].TLS.ClientAuth = 7 }, `listeners[0].tls.client-auth: invalid client auth mode 7`},
		{"no routes", func(c *gateway.Config) { c.Routes = nil }, "routes: at least one route is required"},
		{"upstream missing", func(c *gateway.Config) { c.Routes[0].Upstream = "" }, "routes[0].upstream: is required"},
		{"upstream without scheme", func(c *gateway.Config) { c.Routes[0].Upstream = "127.0.0.1:9000" }, `routes[0].upstream: invalid upstream "127.0.0.1:9000": no scheme: want a URL such as "http://127.0.0.1:9000"`},
		{"upstream host:port", func(c *gateway.Config) { c.Routes[0].Upstream = "localhost:9000" }, `no scheme: want a URL such as "http://localhost:9000"`},
		{"upstream with credentials", func(c *gateway.Config) { c.Routes[0].Upstream = "http://u:p@127.0.0.1" }, "credentials in the URL are not supported"},
		{"https upstream", func(c *gateway.Config) { c.Routes[0].Upstream = "https://backend.internal:8443/base" }, ""},
		{"https upstream with a CA", func(c *gateway.Config) {
			c.Routes[0].Upstream = "https://backend.internal:8443"
			c.Routes[0].UpstreamCAFile = w.path("ca.pem")
		}, ""},
		{"upstream CA for an http upstream", func(c *gateway.Config) { c.Routes[0].UpstreamCAFile = w.path("ca.pem") }, "routes[0].upstream-ca-file: is only for https upstreams"},
		{"upstream CA file missing", func(c *gateway.Config) {
			c.Routes[0].Upstream = "https://backend.internal:8443"
			c.Routes[0].UpstreamCAFile = w.path("nope.pem")
		}, "routes[0].upstream-ca-file: cannot read"},
		{"relative path prefix", func(c *gateway.Config) { c.Routes[0].PathPrefix = "api" }, `invalid path prefix "api": must start with "/"`},
		{"unclean path prefix", func(c *gateway.Config) { c.Routes[0].PathPrefix = "/a/../b" }, `must be a clean path (did you mean "/b"?)`},
		{"trailing slash is fine", func(c *gateway.Config) { c.Routes[0].PathPrefix = "/api/" }, ""},
		{"host with port", func(c *gateway.Config) { c.Routes[0].Host = "api.example.com:443" }, "leave the port out"},
		{"host as URL", func(c *gateway.Config) { c.Routes[0].Host = "https://api.example.com" }, "not a URL"},
		{"host ending in a number", func(c *gateway.Config) { c.Routes[0].Host = "127.1" }, `routes[0].host: invalid host "127.1": it would match no request`},
		{"host with a trailing dot", func(c *gateway.Config) {
			c.Routes[0].Host = "api.example.com."
			c.Listeners[0].TLS.Certificates = hostsCert
		}, ""},
		{"IPv6 host not in canonical form", func(c *gateway.Config) {
			c.Routes[0].Host = "[::0001]"
			c.Listeners[0].TLS.Certificates = hostsCert
		}, ""},
		{"same host and prefix twice", func(c *gateway.Config) { c.Routes[1].PathPrefix = "/api" }, "it would never match"},
		{"same name twice", func(c *gateway.Config) { c.Routes[1].Name = "api" }, `route name "api" is also used`},
		{"allows nobody", func(c *gateway.Config) { c.Routes[0].Allow = gateway.Allow{} }, "routes[0].allow: allows nobody"},
		{"bad SPIFFE pattern", func(c *gateway.Config) { c.Routes[0].Allow.SPIFFEIDs = []string{"spiffe://*/x"} }, "routes[0].allow.spiffe-ids[0]"},
		{"bad DNS pattern", func(c *gateway.Config) { c.Routes[0].Allow.DNSNames = []string{"a.*.example"} }, "routes[0].allow.dns-names[0]"},
		{"IP address as a DNS pattern", func(c *gateway.Config) { c.Routes[0].Allow.DNSNames = []string{"10.0.0.1"} },
			`routes[0].allow.dns-names[0]: invalid DNS name pattern "10.0.0.1": an IP address is not a DNS name`},
		{"DNS pattern with digits in a label", func(c *gateway.Config) { c.Routes[0].Allow.DNSNames = []string{"node10.example"} }, ""},
		{"bad SPKI pin", func(c *gateway.Config) { c.Routes[0].Allow.SPKIPins = []string{"abc"} }, "routes[0].allow.spki-pins[0]"},
		{"CORS preflights on a browser route", func(c *gateway.Config) { c.Routes[0].Allow.CORSPreflights = true }, ""},
		{"CORS preflights on a route without browsers", func(c *gateway.Config) {
			c.Routes[0].Allow.CORSPreflights = true
			c.Routes[0].Browsers = new(false)
		}, "routes[0].allow.cors-preflights: needs a route that serves browsers"},
		{"CORS preflights alone allow nobody", func(c *gateway.Config) { c.Routes[0].Allow = gateway.Allow{CORSPreflights: true} }, "routes[0].allow: allows nobody"},
		{"unknown csrf mode", func(c *gateway.Config) { c.Routes[0].CSRF.Mode = 7 }, `routes[0].csrf.mode: invalid mode 7`},
		{"unknown csrf mode, off", func(c *gateway.Config) { c.Routes[0].CSRF = gateway.RouteCSRF{Mode: 7, InsecureOff: true} }, ""},
		{"csrf off spelled insecurely", func(c *gateway.Config) { c.Routes[0].CSRF.InsecureOff = true }, ""},
		{"host-only trusted origin", func(c *gateway.Config) { c.Routes[0].CSRF.TrustedOrigins = []string{"example.com"} }, "routes[0].csrf.trusted-origins[0]"},
		{"trusted origin with scheme", func(c *gateway.Config) { c.Routes[0].CSRF.TrustedOrigins = []string{"https://*.example.com"} }, ""},
		{"SPA without tokens", func(c *gateway.Config) { c.Routes[0].CSRF.SPA = true }, "routes[0].csrf.spa: needs a token mode"},
		{"token mode without key", func(c *gateway.Config) { c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken }, "tokens.key-file: is required"},
		{"key file readable by others", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = w.write("open.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
			chmod(t, c.Tokens.KeyFile, 0o644)
		}, "is readable by others (mode 0644)"},
		{"key file readable by group", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = w.write("group.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
			chmod(t, c.Tokens.KeyFile, 0o440)
		}, "is readable by its group (mode 0440): chmod 600 it, or, for a Kubernetes fsGroup mount, set tokens.insecure-allow-group-readable-key-file"},
		{"key file readable by group, allowed (Kubernetes fsGroup)", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = w.write("group-ok.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
			chmod(t, c.Tokens.KeyFile, 0o440)
			c.Tokens.InsecureAllowGroupReadableKeyFile = true
		}, ""},
		{"key file readable by others, group allowed", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = w.write("others.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
			chmod(t, c.Tokens.KeyFile, 0o444)
			c.Tokens.InsecureAllowGroupReadableKeyFile = true
		}, "is readable by others (mode 0444)"},
		{"key file writable by group", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = w.write("gw.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
			chmod(t, c.Tokens.KeyFile, 0o460)
			c.Tokens.InsecureAllowGroupReadableKeyFile = true
		}, "is writable by its group (mode 0460)"},
		// Refused for what is wrong with them, not "readable by others":
		// the group may write 0620 (no one else may read it), others may
		// write 0602.
		{"key file writable by group, group not allowed", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = w.write("gw2.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
			chmod(t, c.Tokens.KeyFile, 0o620)
		}, "is writable by its group (mode 0620)"},
		{"key file writable by others", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = w.write("ow.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
			chmod(t, c.Tokens.KeyFile, 0o602)
		}, "is writable or executable by others (mode 0602)"},
		// A key others may replace is as good as a key they may read.
		{"key file in a folder others may write", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = keyIn(t, w.path("open-dir"), 0o777, "k.key")
		}, "which others may write (mode 0777)"},
		{"key file through a symlink into a folder others may write", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			key := keyIn(t, w.path("open-dir2"), 0o777, "k.key")
			c.Tokens.KeyFile = w.path("linked.key")
			if err := os.Symlink(key, c.Tokens.KeyFile); err != nil {
				t.Fatal(err)
			}
		}, "which others may write (mode 0777)"},
		{"key file in a sticky folder others may write", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = keyIn(t, w.path("sticky-dir"), 0o777|os.ModeSticky, "k.key")
		}, ""},
		// A CA bundle others may replace trusts their CA: anyone's
		// certificate with any identity.
		{"client CA file in a folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.ClientCAFiles = []string{copyIn(t, w.path("ca.pem"), w.path("open-ca"), 0o777)}
		}, `listeners[0].tls.client-ca-files[0]: "` + w.path("open-ca/ca.pem") + `" is in ` + w.path("open-ca") + `, which others may write (mode 0777)`},
		{"client CA file in a sticky folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.ClientCAFiles = []string{copyIn(t, w.path("ca.pem"), w.path("sticky-ca"), 0o777|os.ModeSticky)}
		}, ""},
		{"server key in a folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.CertFile = copyIn(t, w.path("server.pem"), w.path("open-srv"), 0o700)
			c.Listeners[0].TLS.KeyFile = copyIn(t, w.path("server-key.pem"), w.path("open-srv"), 0o777)
		}, "listeners[0].tls.key-file"},
		{"key file in a folder only its owner may write", func(c *gateway.Config) {
			c.Routes[0].CSRF.Mode = csrf.ModeOriginAndToken
			c.Tokens.KeyFile = keyIn(t, w.path("own-dir"), 0o755, "k.key")
		}, ""},
		// The rule holds for every file that decides trust or holds a
		// key, each at its own key; each refusal has a sticky or an
		// owner-only twin that is taken.
		{"CRL in a folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.CRLFiles = []string{copyIn(t, w.path("crl.pem"), w.path("open-crl"), 0o777)}
		}, `listeners[0].tls.crl-files[0]: "` + w.path("open-crl/crl.pem") + `" is in ` + w.path("open-crl") + `, which others may write (mode 0777): anyone can replace the file there; run "chmod o-w ` + w.path("open-crl") + `"`},
		{"CRL in a sticky folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.CRLFiles = []string{copyIn(t, w.path("crl.pem"), w.path("sticky-crl"), 0o777|os.ModeSticky)}
		}, ""},
		// Whoever may write a folder above may rename the file's folder
		// away and put their own in its place.
		{"client CA file below a folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.ClientCAFiles = []string{copyIn(t, w.path("ca.pem"), w.path("open-above/ca"), 0o700)}
			chmod(t, w.path("open-above"), 0o777)
		}, `listeners[0].tls.client-ca-files[0]: "` + w.path("open-above/ca/ca.pem") + `" is in ` + w.path("open-above") + `, which others may write (mode 0777)`},
		{"client CA file below a folder only its owner may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.ClientCAFiles = []string{copyIn(t, w.path("ca.pem"), w.path("own-above/ca"), 0o700)}
			chmod(t, w.path("own-above"), 0o755)
		}, ""},
		{"more server keys in a folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.Certificates = []gateway.ServerCertificate{{
				CertFile: w.path("hosts.pem"),
				KeyFile:  copyIn(t, w.path("hosts-key.pem"), w.path("open-hosts"), 0o777),
			}}
		}, "listeners[0].tls.certificates[0].key-file: "},
		{"more server keys in a sticky folder others may write", func(c *gateway.Config) {
			c.Listeners[0].TLS.Certificates = []gateway.ServerCertificate{{
				CertFile: w.path("hosts.pem"),
				KeyFile:  copyIn(t, w.path("hosts-key.pem"), w.path("sticky-hosts"), 0o777|os.ModeSticky),
			}}
		}, ""},
		// The upstream CA decides whom requests (and the identity
		// headers) go to; the upstream key is the gateway's identity.
		{"upstream CA file in a folder others may write", func(c *gateway.Config) {
			c.Routes[0].Upstream = "https://backend.internal:8443"
			c.Routes[0].UpstreamCAFile = copyIn(t, w.path("ca.pem"), w.path("open-up-ca"), 0o777)
		}, `routes[0].upstream-ca-file: "` + w.path("open-up-ca/ca.pem") + `" is in ` + w.path("open-up-ca") + `, which others may write (mode 0777)`},
		{"upstream CA file in a folder only its owner may write", func(c *gateway.Config) {
			c.Routes[0].Upstream = "https://backend.internal:8443"
			c.Routes[0].UpstreamCAFile = copyIn(t, w.path("ca.pem"), w.path("own-up-ca"), 0o755)
		}, ""},
		{"upstream key file in a folder others may write", func(c *gateway.Config) {
			c.Routes[0].Upstream = "https://backend.internal:8443"
			c.Routes[0].UpstreamCertFile = upCert
			c.Routes[0].UpstreamKeyFile = copyIn(t, upKey, w.path("open-up-key"), 0o777)
		}, `routes[0].upstream-key-file: "` + w.path("open-up-key/gw-client-key.pem") + `" is in ` + w.path("open-up-key")},
		{"upstream key file in a sticky folder others may write", func(c *gateway.Config) {
			c.Routes[0].Upstream = "https://backend.internal:8443"
			c.Routes[0].UpstreamCertFile = upCert
			c.Routes[0].UpstreamKeyFile = copyIn(t, upKey, w.path("sticky-up-key"), 0o777|os.ModeSticky)
		}, ""},
		// A certificate others swap for another fails without its key.
		{"upstream certificate file in a folder others may write", func(c *gateway.Config) {
			c.Routes[0].Upstream = "https://backend.internal:8443"
			c.Routes[0].UpstreamCertFile = copyIn(t, upCert, w.path("open-up-cert"), 0o777)
			c.Routes[0].UpstreamKeyFile = upKey
		}, ""},
		{"authz CA file in a folder others may write", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			c.Authz.ClientCertificates.CAFiles = []string{copyIn(t, w.path("ca.pem"), w.path("open-authz-ca"), 0o777)}
		}, `authz.client-certificates.ca-files[0]: "` + w.path("open-authz-ca/ca.pem") + `" is in ` + w.path("open-authz-ca")},
		{"authz CA file in a sticky folder others may write", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			c.Authz.ClientCertificates.CAFiles = []string{copyIn(t, w.path("ca.pem"), w.path("sticky-authz-ca"), 0o777|os.ModeSticky)}
		}, ""},
		{"authz CRL in a folder others may write", func(c *gateway.Config) {
			*c = *w.authzConfig(copyIn(t, w.path("crl.pem"), w.path("open-authz-crl"), 0o777))
		}, `authz.client-certificates.crl-files[0]: "` + w.path("open-authz-crl/crl.pem") + `" is in ` + w.path("open-authz-crl")},
		{"authz CRL in a folder only its owner may write", func(c *gateway.Config) {
			*c = *w.authzConfig(copyIn(t, w.path("crl.pem"), w.path("own-authz-crl"), 0o755))
		}, ""},
		{"authz TLS key in a folder others may write", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			c.Authz.TLS = authzTLS(copyIn(t, w.path("server-key.pem"), w.path("open-authz-key"), 0o777), w.path("ca.pem"))
		}, `authz.tls.key-file: "` + w.path("open-authz-key/server-key.pem") + `" is in ` + w.path("open-authz-key")},
		{"authz TLS client CA in a folder others may write", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			c.Authz.TLS = authzTLS(w.path("server-key.pem"), copyIn(t, w.path("ca.pem"), w.path("open-authz-callers"), 0o777))
		}, `authz.tls.client-ca-files[0]: "` + w.path("open-authz-callers/ca.pem") + `" is in ` + w.path("open-authz-callers")},
		{"authz TLS key and client CA in a folder only its owner may write", func(c *gateway.Config) {
			*c = *w.authzConfig("")
			dir := w.path("own-authz-tls")
			c.Authz.TLS = authzTLS(copyIn(t, w.path("server-key.pem"), dir, 0o755), copyIn(t, w.path("ca.pem"), dir, 0o755))
		}, ""},
		{"trusted proxy with host bits", func(c *gateway.Config) { c.TrustedProxies = []string{"10.1.2.3/8"} }, `trusted-proxies[0]: invalid IP address or CIDR prefix "10.1.2.3/8": host bits are set (did you mean 10.1.2.3 or 10.0.0.0/8?)`},
		{"trusted proxy /0", func(c *gateway.Config) { c.TrustedProxies = []string{"0.0.0.0/0"} }, `trusted-proxies[0]: invalid IP address or CIDR prefix "0.0.0.0/0": a /0 prefix would trust every peer`},
		{"trusted proxies", func(c *gateway.Config) { c.TrustedProxies = []string{"10.0.0.0/8", "::1"} }, ""},
		{"forwarder naming nobody", func(c *gateway.Config) { c.TrustedForwarders = []gateway.Forwarder{{Header: new(forwarded.XFCC)}} }, "trusted-forwarders[0]: names no forwarder"},
		{"forwarder without header", func(c *gateway.Config) { c.TrustedForwarders = []gateway.Forwarder{{Addresses: []string{"10.0.0.1"}}} }, "trusted-forwarders[0].header: is required"},
		{"forwarder SPIFFE ID without path", func(c *gateway.Config) {
			c.TrustedForwarders = []gateway.Forwarder{{SPIFFEIDs: []string{"spiffe://prod.example"}, Header: new(forwarded.XFCC)}}
		}, `trusted-forwarders[0].spiffe-ids: invalid SPIFFE ID pattern "spiffe://prod.example": it has no path`},
		{"forwarder SPIFFE ID", func(c *gateway.Config) {
			c.TrustedForwarders = []gateway.Forwarder{{SPIFFEIDs: []string{"spiffe://prod.example/envoy"}, Header: new(forwarded.XFCC)}}
		}, ""},
		{"forwarder trusting everyone", func(c *gateway.Config) {
			c.TrustedForwarders = []gateway.Forwarder{{Addresses: []string{"0.0.0.0/0"}, Header: new(forwarded.XFCC)}}
		}, "trusted-forwarders[0].addresses"},
		{"identity forwarding unknown", func(c *gateway.Config) { c.IdentityForwarding = new(forwarded.Format(9)) }, `identity-forwarding: invalid format 9`},
		{"identity forwarding xfcc", func(c *gateway.Config) { c.IdentityForwarding = new(forwarded.XFCC) }, ""},
		{"public admin", func(c *gateway.Config) { c.Admin.Address = ":9090" }, "admin.address: \":9090\" is not a loopback address"},
		{"public admin, insecurely allowed", func(c *gateway.Config) {
			c.Admin = gateway.Admin{Address: ":9090", InsecureAllowNonLoopback: true}
		}, ""},
		{"admin off", func(c *gateway.Config) { c.Admin.Address = "off" }, ""},
		// Addresses that bind one socket, however spelled: serve would
		// fail with "address already in use", so check-config must too.
		{"two listeners on one socket, localhost and 127.0.0.1", func(c *gateway.Config) {
			c.Listeners[0].Address = "localhost:8443"
			c.Listeners = append(c.Listeners, c.Listeners[0])
			c.Listeners[1].Address = "127.0.0.1:8443"
		}, `listeners[1].address: "127.0.0.1:8443" is the same address as listeners[0].address ("localhost:8443")`},
		{"two listeners on one socket, every interface and 127.0.0.1", func(c *gateway.Config) {
			c.Listeners[0].Address = ":8443"
			c.Listeners = append(c.Listeners, c.Listeners[0])
			c.Listeners[1].Address = "127.0.0.1:8443"
		}, `listeners[1].address: "127.0.0.1:8443" is the same address as listeners[0].address (":8443")`},
		{"two listeners on one socket, IPv4-mapped", func(c *gateway.Config) {
			c.Listeners[0].Address = "[::ffff:127.0.0.1]:8443"
			c.Listeners = append(c.Listeners, c.Listeners[0])
			c.Listeners[1].Address = "127.0.0.1:8443"
		}, `listeners[1].address: "127.0.0.1:8443" is the same address as listeners[0].address`},
		{"two listeners on one port, other addresses", func(c *gateway.Config) {
			c.Listeners[0].Address = "127.0.0.1:8443"
			c.Listeners = append(c.Listeners, c.Listeners[0])
			c.Listeners[1].Address = "[::1]:8443"
		}, ""},
		{"two listeners on port 0", func(c *gateway.Config) {
			c.Listeners = append(c.Listeners, c.Listeners[0])
		}, ""},
		{"listener on the admin address", func(c *gateway.Config) {
			c.Admin.Address = "127.0.0.1:9443"
			c.Listeners[0].Address = "127.0.0.1:9443"
		}, `listeners[0].address: "127.0.0.1:9443" is also the address of admin.address`},
		{"listener on the default admin address", func(c *gateway.Config) {
			c.Admin.Address = ""
			c.Listeners[0].Address = ":9090"
		}, `listeners[0].address: ":9090" is the same address as the default admin.address ("127.0.0.1:9090")`},
		{"listener beside the admin address", func(c *gateway.Config) {
			c.Admin.Address = "127.0.0.1:9443"
			c.Listeners[0].Address = "127.0.0.1:9444"
		}, ""},
		{"log format that is no constant", func(c *gateway.Config) { c.Log.Format = 7 }, `log.format: invalid format 7`},
		{"log level that is none of the four", func(c *gateway.Config) { c.Log.Level = 2 }, `log.level: invalid level 2`},
		{"log text, debug", func(c *gateway.Config) {
			c.Log = gateway.Log{Format: gateway.LogText, Level: gateway.LogLevel(slog.LevelDebug)}
		}, ""},
		{"tiny header limit", func(c *gateway.Config) { c.Limits.MaxHeaderBytes = 100 }, "limits.max-header-bytes: 100 is too small"},
		{"negative grace", func(c *gateway.Config) { c.Limits.ShutdownGrace = -time.Second }, "limits.shutdown-grace: must not be negative"},
		{"cookie hardening", func(c *gateway.Config) {
			c.Routes[0].Cookies = gateway.Cookies{Secure: true, HTTPOnly: true, SameSite: gateway.SameSiteStrict, OverrideSameSite: true, HostPrefix: "sid"}
		}, ""},
		{"cookies same-site that is no constant", func(c *gateway.Config) { c.Routes[0].Cookies.SameSite = 9 }, `routes[0].cookies.same-site: invalid SameSite value 9`},
		{"cookies override without a value", func(c *gateway.Config) { c.Routes[0].Cookies.OverrideSameSite = true }, "routes[0].cookies.override-same-site: needs same-site"},
		{"cookies host prefix not a name", func(c *gateway.Config) { c.Routes[0].Cookies.HostPrefix = "a b" }, `routes[0].cookies.host-prefix: invalid cookie name "a b"`},
		{"cookies host prefix already prefixed", func(c *gateway.Config) { c.Routes[0].Cookies.HostPrefix = "__Host-sid" }, "already has a prefix"},
		// tokens.session-cookie under the name the client holds: the
		// gateway renames it before the CSRF check, so tokens bound to
		// nothing (TestHostPrefixSessionBinding). The allowed twins: the
		// upstream's name, and another cookie.
		{"session cookie under the host prefix", func(c *gateway.Config) {
			c.Tokens.SessionCookie = "__Host-sid"
			c.Routes[0].Cookies.HostPrefix = "sid"
		}, `routes[0].cookies.host-prefix: tokens.session-cookie "__Host-sid" never reaches the CSRF check on this route: the gateway passes the client's __Host-sid on as "sid" and drops other spellings, so tokens would be bound to no session (set tokens.session-cookie: sid)`},
		{"session cookie, another spelling the gateway drops", func(c *gateway.Config) {
			c.Tokens.SessionCookie = "SID"
			c.Routes[0].Cookies.HostPrefix = "sid"
		}, `tokens.session-cookie "SID" never reaches the CSRF check`},
		{"session cookie as the upstream names it", func(c *gateway.Config) {
			c.Tokens.SessionCookie = "sid"
			c.Routes[0].Cookies.HostPrefix = "sid"
		}, ""},
		{"session cookie, another host prefix", func(c *gateway.Config) {
			c.Tokens.SessionCookie = "__Host-sid"
			c.Routes[0].Cookies.HostPrefix = "other"
		}, ""},
		{"negative delay", func(c *gateway.Config) { c.Limits.ShutdownDelay = -time.Second }, "limits.shutdown-delay: must not be negative"},
		{"negative upstream connection cap", func(c *gateway.Config) { c.Limits.UpstreamMaxConnsPerHost = -1 }, "limits.upstream-max-conns-per-host: must not be negative (0 means the default, 4096)"},
		{"upstream connection cap 0: the default", func(c *gateway.Config) { c.Limits.UpstreamMaxConnsPerHost = 0 }, ""},
		{"upstream connection cap 1", func(c *gateway.Config) { c.Limits.UpstreamMaxConnsPerHost = 1 }, ""},
		// An empty name matches no certificate; as an entry it hid
		// "allows nobody".
		{"empty common name", func(c *gateway.Config) { c.Routes[0].Allow = gateway.Allow{CommonNames: []string{""}} }, `routes[0].allow.common-names[0]: empty entry "" matches no certificate`},
		{"blank organizational unit", func(c *gateway.Config) {
			c.Routes[0].Allow = gateway.Allow{OrganizationalUnits: []string{"ops", " "}}
		}, `routes[0].allow.organizational-units[1]: empty entry " " matches no certificate`},
		{"common name and unit", func(c *gateway.Config) {
			c.Routes[0].Allow = gateway.Allow{CommonNames: []string{"alice"}, OrganizationalUnits: []string{"ops"}}
		}, ""},
		{"negative proxy header timeout", func(c *gateway.Config) {
			c.Listeners[0].ProxyProtocol = &gateway.ProxyProtocol{Trusted: []string{"10.0.0.1"}, HeaderTimeout: -time.Second}
		}, "listeners[0].proxy-protocol.header-timeout: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := w.config()
			tt.change(cfg)
			err := cfg.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// TestValidateTrustedProxyOnce: a bad trusted-proxies entry is one
// problem, not one more per route with a CSRF guard.
func TestValidateTrustedProxyOnce(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.1", "bogus"}
	err := cfg.Validate()
	var errs gateway.ConfigErrors
	if !errors.As(err, &errs) || len(errs) != 1 || !strings.Contains(errs[0].Error(), "trusted-proxies[1]") {
		t.Fatalf("got %v, want one problem at trusted-proxies[1]", err)
	}
}

// FuzzParseConfig feeds arbitrary YAML to the parser and the validator:
// they may refuse it, never panic, and every error must say something.
func FuzzParseConfig(f *testing.F) {
	for _, c := range configCases {
		f.Add(c.yaml)
	}
	f.Fuzz(func(t *testing.T, data string) {
		cfg, err := gateway.ParseConfig("f.yaml", []byte(data))
		if err == nil {
			err = cfg.Validate()
		}
		if err == nil {
			return
		}
		var errs gateway.ConfigErrors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("got error of type %T, want gateway.ConfigErrors", err)
		}
		for _, e := range errs {
			if e.Msg == "" || e.Line < 0 {
				t.Fatalf("malformed error %#v", e)
			}
		}
	})
}

// TestExampleConfig keeps examples/forgeproof.yaml in step with the
// parser and the validator (its files are made here).
func TestExampleConfig(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../examples/forgeproof.yaml")
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(t)
	if err := os.Mkdir(w.path("pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(w.path("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	w.write("pki/ca.pem", b)
	// The example's route host must be covered by the listener's
	// certificate (check-config checks what clients will check).
	srv := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"bank.example.com", "localhost"}})
	if err := srv.Save(w.path("pki"), "server.pem", "server-key.pem"); err != nil {
		t.Fatal(err)
	}
	w.crl("pki/crl.pem")
	w.write("pki/csrf.key", []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"))
	path := w.write("forgeproof.yaml", data)
	if _, err := gateway.LoadConfig(path); err != nil {
		t.Fatalf("examples/forgeproof.yaml: %v", err)
	}
}

// TestLoadConfigListsEveryProblem: keys that cannot be decoded and the
// problems validation finds in the rest come in one error, in file order,
// and a key in error is not reported again by validation ("header: is
// required" after "header: unknown format").
func TestLoadConfigListsEveryProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	yaml := `listeners:
  - address: ":8443"
    tls: {cert-file: s.pem, key-file: k.pem, client-ca-files: [ca.pem], client-auth: sometimes}
routes:
  - upstream: http://127.0.0.1:9000
    allow: {any-verified: true}
    csrf: {mode: tokens, trusted-origins: [example.com]}
trusted-forwarders: [{addresses: [10.0.0.1], header: envoy}]
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.LoadConfig(path)
	var errs gateway.ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want ConfigErrors", err)
	}
	count := map[string]int{}
	for _, e := range errs {
		count[e.Key]++
	}
	for _, key := range []string{
		"listeners[0].tls.client-auth",        // decoding
		"listeners[0].tls.client-ca-files[0]", // validation: no such file
		"routes[0].csrf.mode",                 // decoding
		"routes[0].csrf.trusted-origins[0]",   // validation
		"trusted-forwarders[0].header",        // decoding, not "is required" too
	} {
		if count[key] != 1 {
			t.Errorf("%s: got %d errors, want 1; all: %v", key, count[key], err)
		}
	}
	for i := 1; i < len(errs); i++ {
		if errs[i].Line < errs[i-1].Line {
			t.Errorf("errors not in file order: %v", err)
		}
	}
}

// keyIn writes a key ring of mode 0600 into a new folder dir of mode
// mode and returns its path.
func keyIn(t *testing.T, dir string, mode os.FileMode, name string) string {
	t.Helper()
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(dir, name)
	if err := os.WriteFile(key, []byte("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE=\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return key
}

// copyIn copies file into dir (created when missing), then sets dir's
// mode, and returns the copy's path.
func copyIn(t *testing.T, file, dir string, mode os.FileMode) string {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, filepath.Base(file))
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestReloadConfigInOpenFolder: a config whose folder others came to
// may write is refused at reload as at load, naming the folder and the
// chmod, and the previous configuration keeps serving; the sticky twin
// reloads.
func TestReloadConfigInOpenFolder(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(false, gateway.WatchOptions{})
	config := w.path("gw.yaml")
	chmod(t, w.dir, 0o777)
	err := gw.g.ReloadFile(config)
	want := config + `: "` + config + `" is in ` + w.dir + `, which others may write (mode 0777): anyone can replace the file there; run "chmod o-w ` + w.dir + `"`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("got %v, want an error containing %q", err, want)
	}
	if _, err := gateway.LoadConfig(config); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("LoadConfig: got %v, want an error containing %q", err, want)
	}
	gw.wantSerial(w.srv)
	if status, err := gw.get(w.web, "/api/x"); err != nil || status != 200 {
		t.Fatalf("after the refused reload: got %d, %v, want 200", status, err)
	}
	chmod(t, w.dir, 0o777|os.ModeSticky)
	if err := gw.g.ReloadFile(config); err != nil {
		t.Fatalf("sticky folder: got %v, want no error", err)
	}
	chmod(t, w.dir, 0o700)
}
