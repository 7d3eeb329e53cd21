package gateway_test

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
)

// keyRing is a key file holding keys, the first one active.
func keyRing(keys ...[]byte) []byte {
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	}
	return []byte(b.String())
}

// spaReplicas starts two gateways (replicas a and b) with a token route
// /forms with SPA support, each with its own copy of the key file
// ("a.key", "b.key"), as two pods get theirs from one Secret.
func spaReplicas(t *testing.T, k1 []byte) (w *world, reps [2]*running, cfgs [2]*gateway.Config) {
	w = newWorld(t)
	for i, name := range []string{"a.key", "b.key"} {
		cfg := w.config()
		cfg.Tokens = gateway.Tokens{KeyFile: w.write(name, keyRing(k1))}
		cfg.Routes = append(cfg.Routes, gateway.Route{
			Name: "forms", PathPrefix: "/forms", Upstream: w.upstream.URL,
			Allow: gateway.Allow{AnyVerified: true},
			CSRF:  gateway.RouteCSRF{Mode: csrf.ModeOriginAndToken, SPA: true},
		})
		cfgs[i], reps[i] = cfg, w.start(cfg)
	}
	return w, reps, cfgs
}

// spaRequest sends a request as an SPA's script does: the XSRF-TOKEN
// cookie it holds, and on unsafe methods its value in X-XSRF-TOKEN. It
// returns the status and the XSRF-TOKEN cookie to keep (the new one when
// the gateway set one).
func spaRequest(t *testing.T, c *http.Client, method, url, spa string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	req.Header.Set("Cookie", csrf.SPACookie+"="+spa)
	if method != "GET" {
		req.Header.Set(csrf.SPAHeader, spa)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	for _, ck := range resp.Cookies() {
		if ck.Name == csrf.SPACookie {
			spa = ck.Value
		}
	}
	return resp.StatusCode, spa
}

// The documented two-step roll (docs/scale-out.md) retires the old key
// "once tokens it signed are out of use". An SPA's XSRF-TOKEN cookie was
// only replaced when it stopped verifying, so a cookie minted under the
// old key stayed in use (its value sent back on every request) however
// long the operator waited: the first unsafe request after the old key
// was removed was refused token-invalid, on every SPA client. A request
// made while the new key signs must replace a cookie an older key signed,
// so that the cookie, like a form, goes out of use once pages are
// reloaded. The twin: a client that never came back during the overlap
// is refused after the retirement, as with any retired token.
func TestKeyRotationRenewsSPACookie(t *testing.T) {
	t.Parallel()
	k1, k2 := csrf.GenerateKey(), csrf.GenerateKey()
	w, reps, cfgs := spaReplicas(t, k1)
	c0, c1 := reps[0].client(w.web), reps[1].client(w.web)
	roll := func(keys ...[]byte) {
		t.Helper()
		for i, name := range []string{"a.key", "b.key"} {
			w.write(name, keyRing(keys...))
			if err := reps[i].g.Reload(cfgs[i]); err != nil {
				t.Fatalf("reload %s: %v", name, err)
			}
		}
	}

	// Two SPA clients (the same certificate, two browser profiles) load
	// the app while K1 signs.
	_, active := spaRequest(t, c0, "GET", reps[0].base+"/forms/app", "")
	_, idle := spaRequest(t, c0, "GET", reps[0].base+"/forms/app", "")
	if active == "" || idle == "" {
		t.Fatal("no XSRF-TOKEN cookie set")
	}

	roll(k1, k2) // step 1: K2 verify-only
	roll(k2, k1) // step 2: K2 signs

	// The active client keeps using the app, through replica b.
	if status, _ := spaRequest(t, c1, "POST", reps[1].base+"/forms/x", active); status != 200 {
		t.Fatalf("step 2: POST with the K1 cookie: got %d, want 200", status)
	}
	var renewed string
	if _, renewed = spaRequest(t, c1, "GET", reps[1].base+"/forms/data", active); renewed == active {
		t.Errorf("step 2: a request while K2 signs kept the XSRF-TOKEN cookie K1 signed, want a new one")
	}
	// The new cookie is not replaced again while the key that signed it
	// is active.
	if _, again := spaRequest(t, c0, "GET", reps[0].base+"/forms/data", renewed); again != renewed {
		t.Errorf("step 2: a cookie the active key signed was replaced")
	}

	roll(k2) // step 3: K1 retired

	for i, rep := range reps {
		if status, _ := spaRequest(t, c0, "POST", rep.base+"/forms/x", renewed); status != 200 {
			t.Errorf("step 3, replica %d: the active client's POST: got %d, want 200", i, status)
		}
		if status, _ := spaRequest(t, c0, "POST", rep.base+"/forms/x", idle); status != 403 {
			t.Errorf("step 3, replica %d: a K1 cookie not seen since step 1: got %d, want 403", i, status)
		}
	}
}

// keyWatchConfig is watchConfig with a token route and the key ring
// csrf.key.
const keyWatchConfig = `listeners:
  - address: "127.0.0.1:0"
    tls: {cert-file: server.pem, key-file: server-key.pem, client-ca-files: [ca.pem], client-auth: verify-if-given}
tokens: {key-file: csrf.key}
routes:
  - {name: forms, path-prefix: /forms, upstream: "UP", allow: {any-verified: true}, csrf: {mode: origin-and-token}}
admin: {address: "off"}
limits: {shutdown-grace: 5s}
`

// A key ring made readable by others (chmod 644, an umask-022 copy over
// it, a Secret remounted with another defaultMode) is refused at start-up
// and at a reload, but the watcher compared contents only: a mode change
// reloaded nothing, so the replica went on using the exposed keys with
// no log line, healthz 200 and last_reload_successful 1, until a later,
// unrelated change (a CRL update) was refused for it, and a restart then
// failed. The change of mode alone must reload, and be refused with the
// reason; the allowed twin: chmod 600 again is accepted (the retry).
func TestWatchFileKeyRingMadeReadable(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	key := w.write("csrf.key", keyRing(csrf.GenerateKey()))
	w.writeConfig(keyWatchConfig)
	gw := w.start(true, gateway.WatchOptions{Interval: 100 * time.Millisecond})

	chmod(t, key, 0o644)
	lines := gw.waitReloads(1)
	last := lines[len(lines)-1]
	if msg, _ := last["msg"].(string); !strings.HasPrefix(msg, "reload refused") {
		t.Fatalf("chmod 644: got %v, want a refused reload", last)
	}
	if e, _ := last["error"].(string); !strings.Contains(e, "tokens.key-file") || !strings.Contains(e, "readable by others (mode 0644)") {
		t.Errorf("chmod 644: got error %q, want one naming tokens.key-file and the mode", e)
	}

	chmod(t, key, 0o600)
	eventually(t, "a successful reload after chmod 600", func() (bool, string) {
		lines := gw.log.reloads()
		return lines[len(lines)-1]["msg"] == "reloaded", fmt.Sprint(lines)
	})
}

// keySeries returns a replica's forgeproof_gateway_csrf_key_info series
// (their labels as /metrics prints them), sorted.
func keySeries(t *testing.T, r *running) []string {
	t.Helper()
	resp, err := http.Get(r.admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(line, "forgeproof_gateway_csrf_key_info"); ok && !strings.HasPrefix(line, "#") {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return out
}

// Each step of the two-step roll says "wait until every replica has
// loaded it", and the docs named the last-reload timestamp or the
// reloaded log line as the sign. Both move for any reload (a CRL update
// that reached the replica before the key file did), so an operator
// could take the next step while a replica lacked the key: its users'
// tokens minted elsewhere refused. Each replica must show which keys it
// has, comparable across replicas without revealing them: equal on two
// replicas with the same ring; different (the blocked twin) while one
// has not loaded the step yet, though its reload timestamp moved.
func TestKeyRingMetricShowsLoadedKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := csrf.GenerateKey(), csrf.GenerateKey()
	ring1, err := csrf.NewKeyRing(k1)
	must(t, err)
	ring21, err := csrf.NewKeyRing(k2, k1)
	must(t, err)
	w, reps, cfgs := spaReplicas(t, k1)

	want := []string{fmt.Sprintf(`{key_id="%s",role="active"} 1`, ring1.KeyIDs()[0])}
	for i, r := range reps {
		if got := keySeries(t, r); !slices.Equal(got, want) {
			t.Errorf("replica %d at start: got %q, want %q", i, got, want)
		}
	}

	// Replica a loads the new ring (K2 active, K1 verify-only); b
	// reloads too, but its key file has not changed yet.
	w.write("a.key", keyRing(k2, k1))
	for i := range reps {
		must(t, reps[i].g.Reload(cfgs[i]))
	}
	wantNew := []string{
		fmt.Sprintf(`{key_id="%s",role="active"} 1`, ring21.KeyIDs()[0]),
		fmt.Sprintf(`{key_id="%s",role="verify"} 1`, ring21.KeyIDs()[1]),
	}
	slices.Sort(wantNew)
	if got := keySeries(t, reps[0]); !slices.Equal(got, wantNew) {
		t.Errorf("replica a after its reload: got %q, want %q", got, wantNew)
	}
	if got := keySeries(t, reps[1]); !slices.Equal(got, want) {
		t.Errorf("replica b, reloaded with the old key file: got %q, want %q", got, want)
	}
	w.write("b.key", keyRing(k2, k1))
	must(t, reps[1].g.Reload(cfgs[1]))
	if a, b := keySeries(t, reps[0]), keySeries(t, reps[1]); !slices.Equal(a, b) {
		t.Errorf("same ring: replica a %q, replica b %q, want equal", a, b)
	}
	for _, s := range keySeries(t, reps[0]) {
		for _, k := range [][]byte{k1, k2} {
			if strings.Contains(s, base64.StdEncoding.EncodeToString(k)[:8]) || strings.Contains(s, fmt.Sprintf("%x", k[:4])) {
				t.Errorf("series %q shows key material", s)
			}
		}
	}
}

// A key file caught broken at a reload (half-written: its last key cut
// mid-line; hex; not base64; made readable by others) is refused with a
// message naming tokens.key-file, the file and the line, and the ring
// loaded before keeps verifying: a token minted under it still passes,
// and the metric still shows it. The allowed twin: the complete file
// loads and the token passes; the negative control: a complete file
// without the old key loads and the token is refused, so the test would
// see a ring that lost the old key.
func TestKeyRingBrokenAtReloadKeepsOldKeys(t *testing.T) {
	t.Parallel()
	k1, k2 := csrf.GenerateKey(), csrf.GenerateKey()
	w, reps, cfgs := spaReplicas(t, k1)
	gw, cfg := reps[0], cfgs[0]
	c := gw.client(w.web)
	_, tok := spaRequest(t, c, "GET", gw.base+"/forms/app", "")
	if tok == "" {
		t.Fatal("no XSRF-TOKEN cookie set")
	}
	before := keySeries(t, gw)
	full := keyRing(k2, k1)
	b64 := base64.StdEncoding.EncodeToString(k1)

	for _, tc := range []struct {
		name string
		data []byte
		mode os.FileMode
		want string
	}{
		{"half-written", full[:len(full)-21], 0o600, `line 2: key is 18 bytes, want at least 32`},
		{"hex", []byte(b64 + "\n" + fmt.Sprintf("%x", k2) + "\n"), 0o600, `line 2: looks like hex`},
		{"not base64", []byte("# active\n" + b64 + "\n" + b64[:20] + "!" + b64[21:] + "\n"), 0o600, `line 3: not base64`},
		{"readable by others", full, 0o644, `readable by others (mode 0644)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := w.write("a.key", tc.data)
			chmod(t, path, tc.mode)
			err := gw.g.Reload(cfg)
			if err == nil || !strings.Contains(err.Error(), "tokens.key-file") || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("reload: got %v, want tokens.key-file, %q and %q", err, path, tc.want)
			}
			if status, _ := spaRequest(t, c, "POST", gw.base+"/forms/x", tok); status != 200 {
				t.Errorf("the K1 token after the refused reload: got %d, want 200", status)
			}
			if got := keySeries(t, gw); !slices.Equal(got, before) {
				t.Errorf("key_info after the refused reload: got %q, want %q", got, before)
			}
		})
	}

	w.write("a.key", full)
	chmod(t, w.path("a.key"), 0o600)
	must(t, gw.g.Reload(cfg))
	if status, _ := spaRequest(t, c, "POST", gw.base+"/forms/x", tok); status != 200 {
		t.Errorf("complete file: the K1 token: got %d, want 200", status)
	}
	w.write("a.key", keyRing(k2))
	must(t, gw.g.Reload(cfg))
	if status, _ := spaRequest(t, c, "POST", gw.base+"/forms/x", tok); status != 403 {
		t.Errorf("K1 retired (negative control): the K1 token: got %d, want 403", status)
	}
}
