package gateway_test

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// kubeVolume is a Kubernetes secret, config-map or projected volume as
// the kubelet's AtomicWriter (pkg/volume/util/atomic_writer.go) writes
// it: the real files are in a timestamped folder "..2026_12_04_20_00_00.N",
// "..data" is a symlink to it, and each top-level item is a symlink
// through "..data" ("tls" -> "..data/tls" for the item "tls/server.pem").
// The files have the volume's defaultMode.
type kubeVolume struct {
	t     *testing.T
	dir   string
	mode  os.FileMode
	files map[string][]byte // item path → contents, as last projected
}

func newKubeVolume(t *testing.T, mode os.FileMode) *kubeVolume {
	return &kubeVolume{t: t, dir: t.TempDir(), mode: mode, files: map[string][]byte{}}
}

func (v *kubeVolume) path(item string) string { return filepath.Join(v.dir, item) }

// project writes the volume's items with the changes made by edit, in
// the AtomicWriter's steps: a new timestamped folder holding every item,
// a "..data_tmp" symlink to it renamed over "..data", the user-visible
// symlinks of new items, then the previous timestamped folder removed.
func (v *kubeVolume) project(edit func(files map[string][]byte)) {
	v.t.Helper()
	next := maps.Clone(v.files)
	edit(next)
	old, err := os.Readlink(v.path("..data"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		v.t.Fatal(err)
	}
	ts, err := os.MkdirTemp(v.dir, time.Now().UTC().Format("..2006_01_02_15_04_05."))
	must(v.t, err)
	must(v.t, os.Chmod(ts, 0o755))
	for item, data := range next {
		full := filepath.Join(ts, item)
		must(v.t, os.MkdirAll(filepath.Dir(full), 0o755))
		must(v.t, os.WriteFile(full, data, v.mode))
		must(v.t, os.Chmod(full, v.mode))
	}
	must(v.t, os.Symlink(filepath.Base(ts), v.path("..data_tmp")))
	must(v.t, os.Rename(v.path("..data_tmp"), v.path("..data")))
	for item := range next {
		top := strings.SplitN(filepath.ToSlash(item), "/", 2)[0]
		if _, err := os.Readlink(v.path(top)); errors.Is(err, os.ErrNotExist) {
			must(v.t, os.Symlink(filepath.Join("..data", top), v.path(top)))
		}
	}
	if old != "" {
		must(v.t, os.RemoveAll(v.path(old)))
	}
	v.files = next
}

// kubeConfig is deploy/kubernetes/configmap.yaml's config, reduced to
// what a test serves: every file in sub-folders of the volume, named
// relatively to the config file. UP is the upstream's URL.
const kubeConfig = `listeners:
  - address: "127.0.0.1:0"
    tls:
      cert-file: tls/server.pem
      key-file: tls/server-key.pem
      client-ca-files: [tls/ca.pem]
      crl-files: [crl/crl.pem]
      client-auth: verify-if-given
routes:
  - {name: api, path-prefix: /api, upstream: "UP", allow: {any-verified: true}}
  - {name: forms, path-prefix: /forms, upstream: "UP", allow: {any-verified: true}, csrf: {mode: origin-and-token}}
tokens:
  key-file: keys/csrf.key
  insecure-allow-group-readable-key-file: true
admin: {address: "off"}
limits: {shutdown-grace: 5s}
`

// kubeWorld is a gateway serving from a kubeVolume laid out as
// deploy/kubernetes/deployment.yaml mounts it (defaultMode 0440).
type kubeWorld struct {
	*fileWorld
	vol *kubeVolume
	gw  *watching
}

func newKubeWorld(t *testing.T) *kubeWorld {
	t.Helper()
	return newKubeWorldWith(t, gateway.WatchOptions{})
}

func newKubeWorldWith(t *testing.T, opts gateway.WatchOptions) *kubeWorld {
	t.Helper()
	w := newFileWorld(t)
	vol := newKubeVolume(t, 0o440)
	k := &kubeWorld{fileWorld: w, vol: vol}
	vol.project(func(f map[string][]byte) {
		f["forgeproof.yaml"] = []byte(strings.ReplaceAll(kubeConfig, "UP", w.upstream.URL))
		f["tls/server.pem"] = pki.EncodeCertsPEM(w.srv.Cert)
		f["tls/server-key.pem"] = keyPEM(t, w.srv)
		f["tls/ca.pem"] = pki.EncodeCertsPEM(w.ca.Cert)
		f["crl/crl.pem"] = k.crlPEM(1)
		f["keys/csrf.key"] = []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey()) + "\n")
	})
	w.config = vol.path("forgeproof.yaml")
	k.gw = w.start(true, opts)
	return k
}

func (k *kubeWorld) crlPEM(number int64, revoked ...*pki.Cert) []byte {
	k.t.Helper()
	name := fmt.Sprintf("crl-%d.pem", number)
	k.crlNumbered(name, number, revoked...)
	data, err := os.ReadFile(k.path(name))
	must(k.t, err)
	return data
}

// waitReload waits for the reload after n earlier ones and returns its
// log line.
func (k *kubeWorld) waitReload(n int) map[string]any {
	k.t.Helper()
	return k.gw.waitReloads(n + 1)[n]
}

// client is an HTTP client with cert that keeps no connection: every
// request is a new handshake.
func (k *kubeWorld) client(cert *pki.Cert) *http.Client {
	cfg := &tls.Config{RootCAs: k.ca.Pool(), ServerName: "localhost"}
	if cert != nil {
		tc := cert.TLSCertificate()
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 5 * time.Second}
}

// traffic sends requests with client on new connections until stop is
// called, which returns the failures seen.
func (k *kubeWorld) traffic(client *pki.Cert) (stop func() []string) {
	c := k.client(client)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failures []string
	var sent int
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			resp, err := c.Get("https://" + k.gw.addr + "/api/x")
			mu.Lock()
			sent++
			if err != nil {
				failures = append(failures, err.Error())
			} else {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failures = append(failures, resp.Status)
				}
			}
			mu.Unlock()
		}
	}()
	return func() []string {
		close(done)
		wg.Wait()
		if sent == 0 {
			k.t.Error("the traffic sent no request")
		}
		return failures
	}
}

// TestKubernetesVolumeRotations rotates every file of a volume laid out
// and swapped as the kubelet does, three times for the server pair (so a
// watch that survives only one swap fails), while a client connects
// again and again: each swap is one reload that succeeds (the pair is
// never read half old, half new), no request fails, and deleting the old
// timestamped folder loses nothing.
func TestKubernetesVolumeRotations(t *testing.T) {
	t.Parallel()
	testKubernetesRotations(t, newKubeWorld(t))
}

// TestKubernetesVolumeRotationsPolled is TestKubernetesVolumeRotations
// without file events (the system's watch limit reached, say): the poll
// alone follows the symlinks to each new timestamped folder.
func TestKubernetesVolumeRotationsPolled(t *testing.T) {
	t.Parallel()
	testKubernetesRotations(t, newKubeWorldWith(t, gateway.WatchOptions{NoEvents: true, Interval: 100 * time.Millisecond}))
}

func testKubernetesRotations(t *testing.T, k *kubeWorld) {
	k.gw.wantSerial(k.srv)
	stop := k.traffic(k.web)
	reloads := 0
	for i := range 3 {
		next := k.newServerCert()
		k.vol.project(func(f map[string][]byte) {
			f["tls/server.pem"] = pki.EncodeCertsPEM(next.Cert)
			f["tls/server-key.pem"] = keyPEM(t, next)
		})
		k.gw.waitSerial(next)
		line := k.waitReload(reloads)
		reloads++
		if line["msg"] != "reloaded" {
			t.Fatalf("rotation %d: got %v, want one reload that succeeds", i+1, line)
		}
		want := []string{k.vol.path("tls/server-key.pem"), k.vol.path("tls/server.pem")}
		if got := changed(line); !slices.Equal(got, want) {
			t.Errorf("rotation %d: changed %v, want %v", i+1, got, want)
		}
	}
	if failures := stop(); len(failures) > 0 {
		t.Errorf("%d requests failed during the swaps, first: %s", len(failures), failures[0])
	}
	if got := k.gw.log.reloads(); len(got) != reloads {
		t.Errorf("got %d reload lines, want %d: %v", len(got), reloads, got)
	}
}

// TestKubernetesVolumeTrust changes the client CA bundle and the CRL
// through the volume: a CA added is trusted, a revocation is enforced;
// an empty CA bundle or CRL (a tool that wrote nothing into the Secret or
// ConfigMap) is refused and the previous trust stays: nothing is
// accepted that was refused before, nothing refused that was accepted.
func TestKubernetesVolumeTrust(t *testing.T) {
	t.Parallel()
	k := newKubeWorld(t)
	other := pkitest.CA(t)
	theirs := pkitest.SPIFFE(t, other, "spiffe://test.example/web")
	victim := pkitest.SPIFFE(t, k.ca, "spiffe://test.example/victim")
	status := func(c *pki.Cert) string {
		resp, err := k.client(c).Get("https://" + k.gw.addr + "/api/x")
		if err != nil {
			return "refused"
		}
		resp.Body.Close()
		return resp.Status
	}
	want := func(step string, c *pki.Cert, wantStatus string) {
		t.Helper()
		if got := status(c); got != wantStatus {
			t.Errorf("%s: got %s, want %s", step, got, wantStatus)
		}
	}
	want("before", theirs, "refused")
	want("before", victim, "200 OK")

	// A CA comes with its CRL: with any CRL, a client whose issuer has
	// none is refused (crl-missing).
	otherCRL, err := other.CreateCRL(pki.CRLOptions{Number: big.NewInt(1)})
	must(t, err)
	crls := func(number int64, revoked ...*pki.Cert) []byte {
		return append(k.crlPEM(number, revoked...), pki.EncodeCRLPEM(otherCRL)...)
	}
	k.vol.project(func(f map[string][]byte) {
		f["tls/ca.pem"] = pki.EncodeCertsPEM(k.ca.Cert, other.Cert)
		f["crl/crl.pem"] = crls(1)
	})
	if line := k.waitReload(0); line["msg"] != "reloaded" {
		t.Fatalf("CA added: %v", line)
	}
	want("CA added", theirs, "200 OK")

	k.vol.project(func(f map[string][]byte) { f["crl/crl.pem"] = crls(2, victim) })
	if line := k.waitReload(1); line["msg"] != "reloaded" {
		t.Fatalf("CRL refreshed: %v", line)
	}
	want("victim revoked", victim, "refused")
	want("victim revoked", k.web, "200 OK")

	k.vol.project(func(f map[string][]byte) { f["crl/crl.pem"] = nil })
	if line := k.waitReload(2); line["msg"] == "reloaded" {
		t.Fatalf("empty CRL: got %v, want a refusal", line)
	}
	want("empty CRL", victim, "refused")
	want("empty CRL", k.web, "200 OK")

	k.vol.project(func(f map[string][]byte) {
		f["crl/crl.pem"] = crls(2, victim)
		f["tls/ca.pem"] = nil
	})
	if line := k.waitReload(3); line["msg"] == "reloaded" {
		t.Fatalf("empty CA bundle: got %v, want a refusal", line)
	}
	want("empty CA bundle", theirs, "200 OK")
	want("empty CA bundle", victim, "refused")
	want("empty CA bundle", pkitest.SPIFFE(t, pkitest.CA(t), "spiffe://test.example/web"), "refused")
}

// TestKubernetesVolumeConfigAndTokenKey edits the ConfigMap's config
// (a new route) and rotates the Secret's CSRF key ring: both reload, and
// a token of the removed key is refused while one of the new key passes.
func TestKubernetesVolumeConfigAndTokenKey(t *testing.T) {
	t.Parallel()
	k := newKubeWorld(t)
	wantStatus(t, k.gw, k.web, "/new/x", 404)
	k.vol.project(func(f map[string][]byte) {
		f["forgeproof.yaml"] = []byte(strings.ReplaceAll(strings.Replace(kubeConfig, "tokens:", `  - {name: new, path-prefix: /new, upstream: "UP", allow: {any-verified: true}}
tokens:`, 1), "UP", k.upstream.URL))
	})
	if line := k.waitReload(0); line["msg"] != "reloaded" {
		t.Fatalf("config edited: %v", line)
	}
	wantStatus(t, k.gw, k.web, "/new/x", 200)

	c := k.client(k.web)
	token := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+k.gw.addr+"/forms/page", nil)
		req.Header.Set("Sec-Fetch-Site", "none")
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		tok := strings.Join(mustJSON(t, string(body)).Header[gateway.HeaderCSRFToken], ",")
		if tok == "" {
			t.Fatalf("upstream got no %s header", gateway.HeaderCSRFToken)
		}
		return tok
	}
	post := func(tok string) int {
		t.Helper()
		status, _ := do(t, c, "POST", "https://"+k.gw.addr+"/forms/submit", http.Header{
			"Sec-Fetch-Site": {"same-origin"}, "X-Csrf-Token": {tok}, "Content-Type": {"application/x-www-form-urlencoded"},
		}, "amount=10")
		return status
	}
	old := token()
	if got := post(old); got != 200 {
		t.Fatalf("token of the key in use: got %d, want 200", got)
	}
	k.vol.project(func(f map[string][]byte) {
		f["keys/csrf.key"] = []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey()) + "\n")
	})
	if line := k.waitReload(1); line["msg"] != "reloaded" {
		t.Fatalf("key rotated: %v", line)
	}
	if got := post(old); got != 403 {
		t.Errorf("token of the removed key: got %d, want 403", got)
	}
	if got := post(token()); got != 200 {
		t.Errorf("token of the new key: got %d, want 200", got)
	}
}
