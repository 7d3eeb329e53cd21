package csrf_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/csrf"
)

// A bypass pattern in front of a Go reverse proxy (httputil.ReverseProxy
// to Tomcat, Spring or IIS): the upstream reads segments that ServeMux and
// path.Clean leave alone as dot segments, so "/hooks/..;/admin" is
// Tomcat's /admin and "/hooks/..\admin" IIS's. Such a path is not exempt;
// its twin with a plain segment of the same letters is.
func TestBypassOtherDotSegments(t *testing.T) {
	post := func(target string) func() *http.Request {
		return func() *http.Request { return request("POST", target, "Sec-Fetch-Site", "cross-site") }
	}
	hooks := func(t *testing.T, p *csrf.Protection) { must(t, p.AddInsecureBypassPattern("/hooks/")) }
	runChecks(t, []checkCase{
		{name: "plain segment exempt", setup: hooks, req: post(app + "/hooks/x")},
		{name: "..;/ refused (Tomcat, Jetty, Spring drop ;params)", setup: hooks, req: post(app + "/hooks/..;/admin"), want: csrf.ReasonCrossSite},
		{name: "..;jsessionid=1/ refused", setup: hooks, req: post(app + "/hooks/..;jsessionid=1/admin"), want: csrf.ReasonCrossSite},
		{name: "..%3B/ refused (decodes to ..;)", setup: hooks, req: post(app + "/hooks/..%3B/admin"), want: csrf.ReasonCrossSite},
		{name: "segment with ;params exempt", setup: hooks, req: post(app + "/hooks/x;v=1/y")},
		{name: `..\ refused (IIS reads '\' as '/')`, setup: hooks, req: post(app + `/hooks/..\admin`), want: csrf.ReasonCrossSite},
		{name: "..%5C refused", setup: hooks, req: post(app + "/hooks/..%5Cadmin"), want: csrf.ReasonCrossSite},
		{name: `x\y exempt (no dot segment)`, setup: hooks, req: post(app + `/hooks/x\y`)},
		{name: "'...' refused (Windows trims trailing dots)", setup: hooks, req: post(app + "/hooks/.../admin"), want: csrf.ReasonCrossSite},
		{name: "'.. ' refused (Windows trims trailing spaces)", setup: hooks, req: post(app + "/hooks/..%20/admin"), want: csrf.ReasonCrossSite},
		{name: "'v1.' exempt (letters left after trimming)", setup: hooks, req: post(app + "/hooks/v1./x")},
	})
}

// A key buffer never filled (make([]byte, 32), a key file of "AAAA…=")
// signs tokens anyone can mint: refused with ErrKeyZero; a key with one
// byte set, its twin, is taken.
func TestKeyRingRefusesZeroKey(t *testing.T) {
	zero := make([]byte, csrf.MinKeySize)
	if _, err := csrf.NewKeyRing(zero); !errors.Is(err, csrf.ErrKeyZero) {
		t.Errorf("NewKeyRing(zero key): got %v, want ErrKeyZero", err)
	}
	if _, err := csrf.NewKeyRing(csrf.GenerateKey(), zero); !errors.Is(err, csrf.ErrKeyZero) {
		t.Errorf("NewKeyRing(key, zero key): got %v, want ErrKeyZero", err)
	}
	if _, err := csrf.ParseKeyRing([]byte(base64.StdEncoding.EncodeToString(zero) + "\n")); !errors.Is(err, csrf.ErrKeyZero) {
		t.Errorf("ParseKeyRing(AAAA…=): got %v, want ErrKeyZero", err)
	}
	one := bytes.Clone(zero)
	one[csrf.MinKeySize-1] = 1
	if _, err := csrf.NewKeyRing(one); err != nil {
		t.Errorf("NewKeyRing(key with one byte set): got %v, want nil", err)
	}
	if _, err := csrf.ParseKeyRing([]byte(base64.StdEncoding.EncodeToString(one) + "\n")); err != nil {
		t.Errorf("ParseKeyRing(key with one byte set): got %v, want nil", err)
	}
}
