package gateway_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestForwardedHostSelectsAnotherRoute: a trusted proxy's forwarded host
// (X-Forwarded-Host, or Forwarded's host=) goes on to the upstream, and
// Rack, Django (USE_X_FORWARDED_HOST), Express ("trust proxy") and
// Spring read the request's host from it, not from Host. A proxy that
// passes the client's X-Forwarded-Host on (nginx with only
// "proxy_set_header Host $http_host", as in docs/scale-out.md) lets a
// client routed by its Host to a public route name a host whose route
// it may not use: the upstream serves admin.example to a request the
// gateway authorized for the public route. Refused (400
// forwarded-conflict) when the forwarded host selects another route for
// the path than Host does; twins: the forwarded host that selects the
// same route (a proxy that rewrites Host, as the gateway's own tests'
// app.example), and the admin route's own request.
func TestForwardedHostSelectsAnotherRoute(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	adminCert := pkitest.ServerWith(t, w.ca, pki.ServerOptions{DNSNames: []string{"admin.example"}})
	if err := adminCert.Save(w.dir, "admin-host.pem", "admin-host-key.pem"); err != nil {
		t.Fatal(err)
	}
	cfg.Listeners[0].TLS.Certificates = []gateway.ServerCertificate{{CertFile: w.path("admin-host.pem"), KeyFile: w.path("admin-host-key.pem")}}
	cfg.Routes = append([]gateway.Route{{Name: "admin-host", Host: "admin.example", Upstream: w.upstream.URL,
		Allow: gateway.Allow{SPIFFEIDs: []string{"spiffe://test.example/admin"}}}}, cfg.Routes...)
	gw := w.start(cfg)
	tests := []struct {
		name   string
		header http.Header
		refuse bool
	}{
		{name: "X-Forwarded-Host names the admin host", header: http.Header{"X-Forwarded-Host": {"admin.example"}}, refuse: true},
		{name: "X-Forwarded-Host, the proxy's value last", header: http.Header{"X-Forwarded-Host": {"localhost, ADMIN.example.:443"}}, refuse: true},
		{name: "Forwarded host= names the admin host", header: http.Header{"Forwarded": {"for=192.0.2.1;host=admin.example"}}, refuse: true},
		{name: "twin: a forwarded host of the same route", header: http.Header{"X-Forwarded-Host": {"app.example"}}},
		{name: "twin: Forwarded naming a host of the same route", header: http.Header{"Forwarded": {"for=192.0.2.1;host=app.example"}}},
	}
	c := gw.client(w.web)
	for _, tt := range tests {
		before := w.upstream.count()
		status, body := do(t, c, "GET", gw.base+"/public/x", tt.header, "")
		if tt.refuse {
			if status != http.StatusBadRequest || !strings.Contains(body, string(gateway.ReasonForwardedConflict)) {
				t.Errorf("%s: got %d %s, want 400 %s", tt.name, status, body, gateway.ReasonForwardedConflict)
			}
			if w.upstream.count() != before {
				t.Errorf("%s: the upstream got the request", tt.name)
			}
			continue
		}
		if status != http.StatusOK {
			t.Errorf("%s: got %d %s, want 200", tt.name, status, body)
		}
	}
	// Twin: the admin route's own request, Host and X-Forwarded-Host
	// agreeing, reaches it with the admin's certificate.
	req, _ := http.NewRequest("GET", gw.base+"/x", nil)
	req.Host = "admin.example"
	req.Header.Set("X-Forwarded-Host", "admin.example")
	resp, err := gw.client(w.admin).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("admin's own request: got %d, want 200", resp.StatusCode)
	}
}

// TestForwardedValuesNaiveParsers: the last Forwarded element goes on to
// the upstream as sent, and common upstreams do not parse it as RFC 7239
// does. Spring's ForwardedHeaderUtils (and Reactor Netty, Undertow's
// recipes) find "host=" and "proto=" anywhere in the element with an
// unanchored pattern, inside a quoted-string and at the end of another
// parameter's name ("xhost="); Rack 3.0 splits at every ',' and ';',
// quoted or not, and takes the last host. So an element the gateway reads
// as naming no host (the origin then comes from Host, agreeing with the
// proxy's X-Forwarded-Host) names admin.example to them. Refused
// (forwarded-invalid); twins: the same values without the separators.
func TestForwardedValuesNaiveParsers(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cfg := w.config()
	cfg.TrustedProxies = []string{"127.0.0.0/8"}
	gw := w.start(cfg)
	host := strings.TrimPrefix(gw.base, "https://")
	tests := []struct {
		name, forwarded string
		refuse          bool
	}{
		{name: "';' and host= inside a quoted for (Spring)", forwarded: `for="_x;host=admin.example"`, refuse: true},
		{name: "',' and host= inside a quoted for (Rack 3.0)", forwarded: `for="_x,host=admin.example"`, refuse: true},
		{name: "proto= inside a quoted for (Spring)", forwarded: `for="_x;proto=http"`, refuse: true},
		{name: "an extension parameter ending in host (Spring)", forwarded: `for=192.0.2.1;xhost=admin.example`, refuse: true},
		{name: "a quoted-pair (read unescaped by no naive parser)", forwarded: `for=192.0.2.1;host="` + strings.Replace(host, "1", `\1`, 1) + `"`, refuse: true},
		{name: "twin: an obfuscated for", forwarded: `for="_x"`},
		{name: "twin: a quoted IPv6 for with port", forwarded: `for="[2001:db8::1]:4711";proto=https`},
		{name: "twin: the Host, quoted", forwarded: `for=192.0.2.1;host="` + host + `"`},
		{name: "twin: by and for", forwarded: `by=_proxy;for=192.0.2.1`},
		// Apache Traffic Server with insert_forwarded "for|proto|connection=compact".
		{name: "twin: an extension no naive parser misreads (ATS)", forwarded: `for=192.0.2.1;proto=https;connection=https`},
	}
	c := gw.client(w.web)
	for _, tt := range tests {
		before := w.upstream.count()
		status, body := do(t, c, "GET", gw.base+"/public/x", http.Header{"Forwarded": {tt.forwarded}, "X-Forwarded-Proto": {"https"}}, "")
		if tt.refuse {
			if status != http.StatusBadRequest || !strings.Contains(body, string(gateway.ReasonForwardedInvalid)) {
				t.Errorf("%s: got %d %s, want 400 %s", tt.name, status, body, gateway.ReasonForwardedInvalid)
			}
			if w.upstream.count() != before {
				t.Errorf("%s: the upstream got the request", tt.name)
			}
			continue
		}
		if status != http.StatusOK {
			t.Errorf("%s: got %d %s, want 200", tt.name, status, body)
		}
	}
}
