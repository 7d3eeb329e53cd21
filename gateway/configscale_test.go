package gateway_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/gateway"
)

// manyRoutes is a config of n routes, each written by route(i).
func manyRoutes(n int, route func(i int) string) []byte {
	var b strings.Builder
	b.WriteString("routes:\n")
	for i := range n {
		b.WriteString("  - " + route(i) + "\n")
	}
	return []byte(b.String())
}

// TestValidateManyDuplicateRoutes: a config that repeats one route n
// times gets one "would never match" error per repeat, against the first
// route, not one per pair: n(n-1)/2 errors made a 4 MiB file of 80,000
// routes take 24 GB and minutes at check-config or at a reload.
func TestValidateManyDuplicateRoutes(t *testing.T) {
	t.Parallel()
	const n = 700
	cfg, err := gateway.ParseConfig("c.yaml", manyRoutes(n, func(int) string {
		return `{upstream: "http://127.0.0.1:9000", allow: {any-verified: true}}`
	}))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate()
	var errs gateway.ConfigErrors
	if !errors.As(err, &errs) {
		t.Fatalf("got %v, want ConfigErrors", err)
	}
	never := 0
	for _, e := range errs {
		if strings.Contains(e.Msg, "would never match") {
			never++
			if !strings.Contains(e.Msg, `as route "routes[0]"`) {
				t.Fatalf("got %v, want it against routes[0], the route that matches", e)
			}
		}
	}
	if never != n-1 {
		t.Fatalf("got %d \"would never match\" errors, want %d (one per repeated route)", never, n-1)
	}
}

// TestValidateManyDistinctRoutes: 5,000 routes, each with its own path
// prefix and policy (another DNS name), pass the checks keyed by host and
// prefix and by policy without a false "would never match" (comparing
// each route with every earlier one took 10s for 5,000 routes, minutes
// for the 40,000 a 4 MiB config holds; not timed here: a unit test has
// no wall-clock threshold).
func TestValidateManyDistinctRoutes(t *testing.T) {
	t.Parallel()
	const n = 5000
	cfg, err := gateway.ParseConfig("c.yaml", manyRoutes(n, func(i int) string {
		return fmt.Sprintf(`{upstream: "http://127.0.0.1:9000", path-prefix: /p%d, allow: {dns-names: [a%d.example]}}`, i, i)
	}))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.Validate() // no listeners: an error, after every route is compiled
	if err == nil {
		t.Fatal("got no error, want the missing listener reported")
	}
	if strings.Contains(err.Error(), "would never match") || strings.Count(err.Error(), "\n") > 2 {
		t.Fatalf("got %v, want only the missing listener", err)
	}
}

// TestReloadRefusesManyDuplicateRoutes: a reload with a file that repeats
// a route is refused with one error per repeat, and the previous
// configuration keeps serving.
func TestReloadRefusesManyDuplicateRoutes(t *testing.T) {
	t.Parallel()
	w := newFileWorld(t)
	gw := w.start(false, gateway.WatchOptions{})
	const n = 1000
	more := manyRoutes(n, func(int) string {
		return `{path-prefix: /x, upstream: "UP", allow: {any-verified: true}}`
	})
	w.writeConfig(strings.Replace(watchConfig, "routes:\n", string(more), 1))
	err := gw.g.ReloadFile(w.path("gw.yaml"))
	if err == nil {
		t.Fatal("got no error, want the repeated routes refused")
	}
	if got := strings.Count(err.Error(), "would never match"); got != n-1 {
		t.Fatalf("got %d \"would never match\" errors, want %d", got, n-1)
	}
	if status, err := gw.get(w.web, "/api/x"); err != nil || status != 200 {
		t.Fatalf("after the refused reload: got %d, %v, want 200", status, err)
	}
}

// FuzzDecodeConfig feeds arbitrary bytes to the decoder alone: it must
// not panic, and every error must say where: "f.yaml:LINE: ", the line
// within the input. (A hang shows as the fuzzer's own timeout.)
func FuzzDecodeConfig(f *testing.F) {
	for _, c := range configCases {
		f.Add([]byte(c.yaml))
	}
	for _, s := range []string{
		"\ufefflog: {level: info}\n",
		"log: {level: info}\r\nadmin: {bogus: 1}\r\n",
		"\xff\xfel\x00o\x00g\x00:\x00 \x00{\x00}\x00\n\x00",
		"log:\n  level: info\x00\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nlog: *b\n",
		"log: " + strings.Repeat("[", 200) + strings.Repeat("]", 200) + "\n",
		"routes:\n  - {upstream: http://x}\n  - {upstream: http://x}\n",
		"limits: {idle-timeout: 1h1h, max-body-bytes: 0777}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := gateway.ParseConfig("f.yaml", data)
		if err == nil {
			return
		}
		var errs gateway.ConfigErrors
		if !errors.As(err, &errs) || len(errs) == 0 {
			t.Fatalf("got error of type %T, want gateway.ConfigErrors", err)
		}
		lines := strings.Count(string(data), "\n") + 1
		for _, e := range errs {
			if e.Msg == "" || e.Line < 1 || e.Line > lines || !strings.HasPrefix(e.Error(), fmt.Sprintf("f.yaml:%d: ", e.Line)) {
				t.Fatalf("error %q (line %d of %d): want \"f.yaml:LINE: \" and a message", e.Error(), e.Line, lines)
			}
		}
	})
}

// TestLoadConfigManyBadRoutes: the validation errors of a file whose
// keys could not all be decoded are matched against those keys by lookup
// (comparing each with each took 11s for 10,000 bad routes), and each
// route's two problems are reported once.
func TestLoadConfigManyBadRoutes(t *testing.T) {
	t.Parallel()
	const n = 5000
	path := filepath.Join(t.TempDir(), "c.yaml")
	data := manyRoutes(n, func(i int) string {
		return fmt.Sprintf(`{upstream: "ftp://x", path-prefix: /p%d, csrf: {mode: tokens}}`, i)
	})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := gateway.LoadConfig(path)
	if err == nil {
		t.Fatal("got no error")
	}
	if got := strings.Count(err.Error(), "unknown mode"); got != n {
		t.Fatalf("got %d \"unknown mode\" errors, want %d", got, n)
	}
	if got := strings.Count(err.Error(), "scheme must be http or https"); got != n {
		t.Fatalf("got %d upstream errors, want %d", got, n)
	}
}
