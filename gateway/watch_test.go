package gateway_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestWatchFileRotatesServerCertificate rewrites the server certificate
// and key in place: new connections see the new certificate with no
// signal and no call, and the log names the trigger and the files.
func TestWatchFileRotatesServerCertificate(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(true, gateway.WatchOptions{})
	gw.wantSerial(w.srv)

	next := w.newServerCert()
	w.writeInPlace("server.pem", pki.EncodeCertsPEM(next.Cert))
	w.writeInPlace("server-key.pem", keyPEM(t, next))
	gw.waitSerial(next)

	// Usually one reload sees both files. On a loaded machine the key may
	// be written more than the settle time after the certificate: then
	// the watcher looks in between, and a second reload names the key.
	// The first attempt is refused (a half pair) or, when the key was
	// written after the watcher hashed it but before the reload read it,
	// succeeds; either way the lines name both files once the watcher
	// has seen the key, which may be after the new pair serves.
	want := []string{w.path("server.pem"), w.path("server-key.pem")}
	var lines []map[string]any
	eventually(t, "reload lines naming both files", func() (bool, string) {
		lines = gw.log.reloads()
		var files []string
		for _, l := range lines {
			files = append(files, changed(l)...)
		}
		return len(lines) > 0 && lines[len(lines)-1]["msg"] == "reloaded" &&
			!slices.ContainsFunc(want, func(f string) bool { return !slices.Contains(files, f) }), fmt.Sprint(lines)
	})
	for _, l := range lines {
		if got, want := l["trigger"], "file"; got != want {
			t.Errorf("log trigger: got %v, want %v", got, want)
		}
	}
}

// TestWatchFileHalfRotatedPair writes a new certificate without its key:
// the reload is refused (the key does not match) and the old pair keeps
// serving; writing the key completes the rotation.
func TestWatchFileHalfRotatedPair(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(true, gateway.WatchOptions{})

	next := w.newServerCert()
	w.write("server.pem", pki.EncodeCertsPEM(next.Cert))
	lines := gw.waitReloads(1)
	if got, want := lines[0]["msg"], "reload refused, the previous configuration keeps serving"; got != want {
		t.Fatalf("after the certificate alone, log msg: got %v, want %v", got, want)
	}
	if got, _ := lines[0]["error"].(string); !strings.Contains(got, "listeners[0].tls.key-file") || !strings.Contains(got, "private key does not match") {
		t.Errorf("refusal error: got %q, want the key mismatch of listeners[0].tls.key-file", got)
	}
	gw.wantSerial(w.srv)

	w.write("server-key.pem", keyPEM(t, next))
	gw.waitSerial(next)
	lines = gw.waitReloads(2)
	if got, want := lines[1]["msg"], "reloaded"; got != want {
		t.Errorf("after the key, log msg: got %v, want %v", got, want)
	}
	if got, want := changed(lines[1]), []string{w.path("server-key.pem")}; !slices.Equal(got, want) {
		t.Errorf("after the key, log changed: got %v, want %v", got, want)
	}
}

// TestWatchFileBrokenConfig writes a broken config: it is
// refused and logged, the old one keeps serving, and fixing the file
// reloads it.
func TestWatchFileBrokenConfig(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(true, gateway.WatchOptions{})
	web := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/web")
	wantStatus(t, gw, web, "/new/x", 404)

	w.write("gw.yaml", []byte("routes: [\n"))
	lines := gw.waitReloads(1)
	if got, want := lines[0]["msg"], "reload refused, the previous configuration keeps serving"; got != want {
		t.Fatalf("broken config, log msg: got %v, want %v", got, want)
	}
	if got, _ := lines[0]["error"].(string); !strings.Contains(got, "gw.yaml") {
		t.Errorf("refusal error: got %q, want it to name gw.yaml", got)
	}
	wantStatus(t, gw, web, "/api/x", 200)

	w.writeConfig(withNewRoute)
	eventually(t, "the route /new", func() (bool, string) {
		code, err := gw.get(web, "/new/x")
		if err != nil {
			return false, err.Error()
		}
		return code == 200, "status " + strconv.Itoa(code)
	})
	if got := gw.waitReloads(2)[1]["msg"]; got != "reloaded" {
		t.Errorf("fixed config, log msg: got %v, want reloaded", got)
	}
}

// TestWatchFileCABundle removes a CA from the client CA bundle: a client
// of that CA fails on a new connection, a client of the CA that stays
// keeps working.
func TestWatchFileCABundle(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	other := pkitest.CA(t)
	w.write("ca.pem", pki.EncodeCertsPEM(w.ca.Cert, other.Cert))
	gw := w.start(true, gateway.WatchOptions{})
	mine := pkitest.SPIFFE(t, w.ca, "spiffe://test.example/web")
	theirs := pkitest.SPIFFE(t, other, "spiffe://test.example/web")
	wantStatus(t, gw, theirs, "/api/x", 200) // trusted before

	w.write("ca.pem", pki.EncodeCertsPEM(w.ca.Cert))
	eventually(t, "a client of the removed CA to fail", func() (bool, string) {
		code, err := gw.get(theirs, "/api/x")
		if err != nil {
			return true, ""
		}
		return false, "status " + strconv.Itoa(code)
	})
	wantStatus(t, gw, mine, "/api/x", 200)
}

// TestWatchFileSymlinkSwap rotates the certificate as a Kubernetes secret
// volume does: the files are symlinks through "..data", which is swapped
// to a new folder by rename, and the old folder is deleted.
func TestWatchFileSymlinkSwap(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	secret := func(version string, c *pki.Cert) {
		t.Helper()
		must(t, os.Mkdir(w.path(version), 0o700))
		w.write(version+"/server.pem", pki.EncodeCertsPEM(c.Cert))
		w.write(version+"/server-key.pem", keyPEM(t, c))
		must(t, os.Symlink(version, w.path("..data_tmp")))
		must(t, os.Rename(w.path("..data_tmp"), w.path("..data")))
	}
	secret("..2026_11_27_first", w.srv)
	for _, f := range []string{"server.pem", "server-key.pem"} {
		must(t, os.Remove(w.path(f)))
		must(t, os.Symlink("..data/"+f, w.path(f)))
	}
	gw := w.start(true, gateway.WatchOptions{})
	gw.wantSerial(w.srv)

	next := w.newServerCert()
	secret("..2026_11_27_second", next)
	must(t, os.RemoveAll(w.path("..2026_11_27_first")))
	gw.waitSerial(next)
}

// TestWatchFileOffNeedsReload is the negative control: beside a watching
// gateway, one whose watcher has file events and polling off (serve
// --watch=false) does not pick up the same rotation until it is asked to
// (SIGHUP in serve).
func TestWatchFileOffNeedsReload(t *testing.T) {
	w := newFileWorld(t)
	watching := w.start(true, gateway.WatchOptions{})
	still := w.start(true, gateway.WatchOptions{NoEvents: true})

	next := w.newServerCert()
	w.write("server.pem", pki.EncodeCertsPEM(next.Cert))
	w.write("server-key.pem", keyPEM(t, next))
	watching.waitSerial(next)
	still.wantSerial(w.srv)
	if got := still.log.reloads(); len(got) != 0 {
		t.Fatalf("reloads without a request: got %v, want none", got)
	}

	still.reload <- "SIGHUP"
	still.waitSerial(next)
	if got, want := still.waitReloads(1)[0]["trigger"], "SIGHUP"; got != want {
		t.Errorf("log trigger: got %v, want %v", got, want)
	}
}

// TestWatchFilePollOnly turns file events off: the poll alone picks up a
// rotation.
func TestWatchFilePollOnly(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(true, gateway.WatchOptions{NoEvents: true, Interval: 100 * time.Millisecond})

	next := w.newServerCert()
	w.write("server.pem", pki.EncodeCertsPEM(next.Cert))
	w.write("server-key.pem", keyPEM(t, next))
	gw.waitSerial(next)
	lines := gw.waitReloads(1)
	if got, want := lines[len(lines)-1]["trigger"], "poll"; got != want {
		t.Errorf("log trigger: got %v, want %v", got, want)
	}
}

// TestWatchFileFollowsNewFiles points the config at other certificate
// files: after that reload, the new files are the ones watched.
func TestWatchFileFollowsNewFiles(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(true, gateway.WatchOptions{})

	second := w.newServerCert()
	must(t, second.Save(w.dir, "second.pem", "second-key.pem"))
	w.writeConfig(strings.ReplaceAll(watchConfig, "server", "second"))
	gw.waitSerial(second)

	third := w.newServerCert()
	w.write("second.pem", pki.EncodeCertsPEM(third.Cert))
	w.write("second-key.pem", keyPEM(t, third))
	gw.waitSerial(third)
}

// TestWatchFileRefusedConfigNamesMissingFile reloads a config whose
// certificate file does not exist yet: it is refused, and the file's
// arrival (which only the refused config names) reloads it.
func TestWatchFileRefusedConfigNamesMissingFile(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(true, gateway.WatchOptions{})

	w.writeConfig(strings.ReplaceAll(watchConfig, "server", "later"))
	if got := gw.waitReloads(1)[0]["msg"]; got == "reloaded" {
		t.Fatalf("config naming missing files: got %v, want a refusal", got)
	}
	gw.wantSerial(w.srv)

	later := w.newServerCert()
	must(t, later.Save(w.dir, "later.pem", "later-key.pem"))
	gw.waitSerial(later)
}

func TestWatchFileNegativeInterval(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	g, err := gateway.NewFromFile(w.path("gw.yaml"), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	err = g.WatchFile(context.Background(), w.path("gw.yaml"), gateway.WatchOptions{Interval: -time.Second})
	if err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("negative interval: got %v, want an error", err)
	}
}

var withNewRoute = strings.Replace(watchConfig, "admin:", `  - {name: new, path-prefix: /new, upstream: "UP", allow: {any-verified: true}}
admin:`, 1)

func wantStatus(t *testing.T, gw *watching, client *pki.Cert, path string, want int) {
	t.Helper()
	got, err := gw.get(client, path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	if got != want {
		t.Fatalf("GET %s: got %v, want %v", path, got, want)
	}
}

// changed returns a reload log line's "changed" files.
func changed(line map[string]any) []string {
	var out []string
	list, _ := line["changed"].([]any)
	for _, f := range list {
		s, _ := f.(string)
		out = append(out, s)
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestWatchFileRetriesNotYetValid writes a certificate that is valid only
// from 5s on, as an issuer whose clock runs ahead of this replica's does
// (cert-manager's CA issuer does not backdate NotBefore): the reload is
// refused, naming the file and why, and the old pair keeps serving; once
// the certificate is valid, a poll tries again ("retry"), though no file
// changed since, and serves it. Before, the refusal was final until the
// next change of a file. The twin is TestWatchFileRotatesServerCertificate.
func TestWatchFileRetriesNotYetValid(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(true, gateway.WatchOptions{Interval: 200 * time.Millisecond})

	opts := serverOptions()
	// Far enough ahead that the refusal and the check of the old serial
	// come before it on a loaded machine (a settle, two file writes, a
	// reload): the clock is the real one (checkServerCerts).
	opts.NotBefore = time.Now().Add(5 * time.Second)
	next := pkitest.ServerWith(t, w.ca, opts)
	w.write("server.pem", pki.EncodeCertsPEM(next.Cert))
	w.write("server-key.pem", keyPEM(t, next))
	eventually(t, "a refusal of the certificate not valid yet", func() (bool, string) {
		lines := gw.log.reloads()
		for _, l := range lines {
			if e, _ := l["error"].(string); strings.Contains(e, "listeners[0].tls.cert-file") && strings.Contains(e, w.path("server.pem")) && strings.Contains(e, "not valid until") {
				return true, ""
			}
		}
		return false, fmt.Sprint(lines)
	})
	gw.wantSerial(w.srv)
	gw.waitSerial(next)
	eventually(t, "a reload line with trigger retry", func() (bool, string) {
		lines := gw.log.reloads()
		last := lines[len(lines)-1]
		return last["msg"] == "reloaded" && last["trigger"] == "retry", fmt.Sprint(last)
	})
}
