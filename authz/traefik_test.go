package authz_test

// Traefik (ForwardAuth) in front of "forgeproof authz", with the static
// and dynamic configuration of docs/integrations/traefik.md, as
// proxies_test.go runs nginx and Caddy. Traefik is not a Debian package
// and .ci/run does not install it: these tests run when a traefik binary
// is on PATH (docs/integrations/traefik.md says which version was run)
// and skip otherwise, under CI too.

import (
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/mdtest"
)

const traefikDoc = "../docs/integrations/traefik.md"

// docBlockWith is docBlock for a page with several blocks of lang: the
// one that contains marker (exactly one must).
func docBlockWith(t *testing.T, path, lang, marker string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var found []string
	for _, blk := range mdtest.Blocks(string(b)) {
		if blk.Lang == lang && strings.Contains(blk.Text(), marker) {
			found = append(found, blk.Text())
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d ```%s blocks with %q, want 1", path, len(found), lang, marker)
	}
	return found[0]
}

// startTraefik runs Traefik with the docs' static and dynamic
// configuration; without auth, the forgeproof middleware is left out of
// the router's chain (the negative control); edits are more fill pairs
// for the dynamic configuration.
func (r *rig) startTraefik(withAuth bool, edits ...string) {
	t := r.t
	bin, err := exec.LookPath("traefik")
	if err != nil {
		t.Skip("traefik is not installed (not a Debian package; .ci/run does not install it): put a traefik binary on PATH to run the Traefik guide")
	}
	addr := freePort(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	dir := t.TempDir()
	dynamic := mdtest.Fill(t, docBlockWith(t, traefikDoc, "yaml", "routers:"),
		"bank.example.com", "localhost",
		"/etc/forgeproof/", r.pki.Path+"/",
		"127.0.0.1:9191", r.authz,
		"127.0.0.1:8080", r.upstreamAddr())
	if !withAuth {
		dynamic = mdtest.Fill(t, dynamic, "forgeproof-cert, forgeproof, forgeproof-strip]", "forgeproof-cert, forgeproof-strip]")
	}
	dynamic = mdtest.Fill(t, dynamic, edits...)
	static := mdtest.Fill(t, docBlockWith(t, traefikDoc, "yaml", "providers:"),
		`address: ":443"`, `address: "`+addr+`"`,
		"/etc/traefik/dynamic.yaml", filepath.Join(dir, "dynamic.yaml"))
	static += "\nlog: {level: WARN}\n"
	for name, text := range map[string]string{"dynamic.yaml": dynamic, "traefik.yaml": static} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("HOME", dir)
	run(t, addr, bin, "--configFile="+filepath.Join(dir, "traefik.yaml"))
	r.base = "https://localhost:" + port
	// The entry point listens before the file provider's routers are
	// in: wait until the public route answers through them.
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		req, _ := http.NewRequest("GET", r.base+"/public/rates", nil)
		resp, err := r.httpClient(nil).Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Traefik does not route /public/rates: %v %v", resp, err)
		}
	}
	r.up.mu.Lock()
	r.up.seen, r.up.lines = nil, nil // the wait's requests
	r.up.mu.Unlock()
}

// traefikForwarding is what Traefik's entry point sets on every request
// for the upstream, besides X-Forwarded-For, -Host and -Proto: the
// client's copies are deleted (no forwardedHeaders.trustedIPs), Traefik's
// own are the client's address, the port and Traefik's host name.
func (r *rig) traefikForwarding() map[string]string {
	host, err := os.Hostname()
	if err != nil {
		r.t.Fatal(err)
	}
	return map[string]string{
		"X-Real-IP":          "127.0.0.1",
		"X-Forwarded-Port":   r.base[strings.LastIndexByte(r.base, ':')+1:],
		"X-Forwarded-Server": host,
	}
}

// TestTraefik: the guide's configuration, as for nginx and Caddy. With
// the guide's former trustForwardHeader: false, Traefik 3.6.14 and later
// delete the certificate passTLSClientCert put in
// X-Forwarded-Tls-Client-Cert from the question: forgeproof saw no
// certificate and refused every client identity-missing
// (TestTraefikUntrustedForwardHeader).
func TestTraefik(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md", "proxy: nginx", "proxy: traefik")
	r.startTraefik(true)
	r.upgradesUnseen = "Traefik's ForwardAuth drops Upgrade from the question and forwards any upgrade: a limit of docs/integrations/traefik.md"
	r.checkForgeries()
	r.checkSpoofedIdentity()
	r.checkNotForwarded()
	r.checkForwardingHeadersWith(r.traefikForwarding())
	r.checkCallers("/traefik")
}

// TestTraefikUntrustedForwardHeader is the guide's former
// trustForwardHeader: false: the client's certificate never reaches
// forgeproof (refused identity-missing); the twin, the same request on
// a public route, passes.
func TestTraefikUntrustedForwardHeader(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md", "proxy: nginx", "proxy: traefik")
	r.startTraefik(true, "trustForwardHeader: true", "trustForwardHeader: false")
	if got := r.send(r.client, "GET", "/api/balance", hdr(), ""); got.status != 403 || got.reason != "identity-missing" {
		t.Fatalf("got %d %q, want 403 identity-missing (Traefik deleting the certificate)", got.status, got.reason)
	}
	if got := r.send(r.client, "GET", "/public/rates", hdr(), ""); got.status != 200 {
		t.Fatalf("public twin: got %d %q, want 200", got.status, got.body)
	}
}

// TestTraefikWithoutAuthz is the negative control: the same router
// without the forgeproof middleware lets the forgeries through.
func TestTraefikWithoutAuthz(t *testing.T) {
	r := newRig(t)
	r.startTraefik(false)
	r.checkForgeriesThrough("without forwardAuth")
	r.checkHeadersThrough("without forwardAuth", "Client_Cert", "X_Http_Method_Override", "Remote-User", "X-Original-Url")
}

// TestTraefikCertificateUpstream is the negative control of the second
// forgeproof-strip: without it, the upstream receives
// X-Forwarded-Tls-Client-Cert, which passTLSClientCert set for
// forgeproof, beside the identity headers of forgeproof's answer; the
// twin, the guide's chain, is TestTraefik's checkSpoofedIdentity.
func TestTraefikCertificateUpstream(t *testing.T) {
	r := newRig(t)
	r.startAuthz("../docs/integrations/nginx.md", "proxy: nginx", "proxy: traefik")
	r.startTraefik(true, "forgeproof, forgeproof-strip]", "forgeproof]")
	if got := r.send(r.client, "GET", "/api/balance", hdr(), ""); got.status != 200 {
		t.Fatalf("got %d %q, want 200", got.status, got.body)
	}
	if v := r.up.received("X-Forwarded-Tls-Client-Cert"); len(v) != 1 {
		t.Fatalf("the upstream received X-Forwarded-Tls-Client-Cert %q, want the certificate", v)
	}
}

// TestTraefikBodyOnGET shows the limit traefik.md documents: a request
// hidden in a public GET's body reaches an upstream that leaves such
// bodies unread, with its forged Client-Cert, and no Traefik setting
// (maxIdleConnsPerHost: -1 included, here) prevents it. Were it
// refused one day, the page's limit would be wrong: the test fails.
func TestTraefikBodyOnGET(t *testing.T) {
	r := newRig(t)
	u := newLazyUpstream(t)
	r.upstream = u.ln.Addr().String()
	r.startAuthz("../docs/integrations/nginx.md", "proxy: nginx", "proxy: traefik")
	r.startTraefik(true, "      loadBalancer:\n", "      loadBalancer:\n        serversTransport: no-reuse\n",
		"  services:\n", "  serversTransports:\n    no-reuse:\n      maxIdleConnsPerHost: -1\n  services:\n")
	if !slices.Contains(r.sendBodyOnGET(u), smuggledLine) {
		t.Fatalf("the hidden request did not reach the upstream (%q): update traefik.md's limits", u.received())
	}
}
