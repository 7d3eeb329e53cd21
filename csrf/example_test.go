package csrf_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/forgeproof/forgeproof/csrf"
)

func Example() {
	p := csrf.New()
	if err := p.AddTrustedOrigin("https://admin.example.com"); err != nil {
		fmt.Println(err)
	}
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "transferred")
	}))

	for _, origin := range []string{"https://bank.example.com", "https://admin.example.com", "https://evil.example"} {
		r := httptest.NewRequest("POST", "https://bank.example.com/transfer", nil)
		r.Header.Set("Origin", origin)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		fmt.Printf("%s: %d %s", origin, w.Code, w.Body)
	}
	// Output:
	// https://bank.example.com: 200 transferred
	// https://admin.example.com: 200 transferred
	// https://evil.example: 403 403 refused as a possible cross-site request forgery: the Origin header is not this service's origin nor a trusted one (reason: origin-mismatch)
}

func ExampleProtection_Check() {
	p := csrf.New()
	for _, h := range [][2]string{
		{"Sec-Fetch-Site", "same-origin"},
		{"Sec-Fetch-Site", "cross-site"},
		{"Origin", "http://bank.example.com"}, // plain-HTTP twin of an HTTPS site
		{"Origin", "null"},
	} {
		r := httptest.NewRequest("POST", "https://bank.example.com/transfer", nil)
		r.Header.Set(h[0], h[1])
		reason, _ := csrf.ReasonOf(p.Check(r))
		fmt.Printf("%s: %s -> %q\n", h[0], h[1], reason)
	}
	// Output:
	// Sec-Fetch-Site: same-origin -> ""
	// Sec-Fetch-Site: cross-site -> "cross-site"
	// Origin: http://bank.example.com -> "origin-mismatch"
	// Origin: null -> "origin-null"
}

func ExampleProtection_Token() {
	ring, err := csrf.NewKeyRing(bytes.Repeat([]byte{42}, 32)) // use csrf.GenerateKey or a key file
	if err != nil {
		fmt.Println(err)
		return
	}
	p := csrf.New()
	p.SetKeyRing(ring)
	p.SetMode(csrf.ModeOriginAndToken)
	// Bind tokens to the client certificate. The header is a stand-in
	// to keep the example short: bind to a value the client cannot set,
	// such as mtls.Identity.SPKISHA256 (see ExampleProtection_SetBinding).
	p.SetBinding(func(r *http.Request) ([]byte, error) {
		return []byte(r.Header.Get("X-Demo-Cert-Hash")), nil
	})

	page := httptest.NewRequest("GET", "https://bank.example.com/form", nil)
	page.Header.Set("X-Demo-Cert-Hash", "alice")
	tok, _ := p.Token(page)

	for _, who := range []string{"alice", "mallory"} {
		r := httptest.NewRequest("POST", "https://bank.example.com/transfer", nil)
		r.Header.Set("Sec-Fetch-Site", "same-origin")
		r.Header.Set("X-Demo-Cert-Hash", who)
		r.Header.Set(csrf.HeaderName, tok)
		fmt.Printf("%s: %v\n", who, p.Check(r))
	}
	// Output:
	// alice: <nil>
	// mallory: csrf: token-invalid: in X-CSRF-Token: token signature does not match: minted for another session, certificate or pre-session cookie, or forged
}

func ExampleProtection_TemplateField() {
	ring, _ := csrf.NewKeyRing(bytes.Repeat([]byte{42}, 32))
	p := csrf.New()
	p.SetKeyRing(ring)
	h := p.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		field, err := p.TemplateField(r) // bound to the pre-session cookie Handler set
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		fmt.Println(strings.HasPrefix(string(field), `<input type="hidden" name="csrf_token" value="`))
	}))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", "https://bank.example.com/login", nil))
	fmt.Println(strings.SplitN(w.Header().Get("Set-Cookie"), "=", 2)[0])
	// Output:
	// true
	// __Host-forgeproof-csrf
}

func ExampleParseKeyRing() {
	active := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{1}, 32))
	old := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{2}, 32))
	_, err := csrf.ParseKeyRing([]byte("# signs\n" + active + "\n# verifies until removed\n" + old + "\n"))
	fmt.Println(err)
	_, err = csrf.ParseKeyRing([]byte(base64.StdEncoding.EncodeToString([]byte("sixteen byte key")) + "\n"))
	fmt.Println(err)
	// Output:
	// <nil>
	// csrf: key file line 1: key is 16 bytes, want at least 32: key too short
}

func ExampleReasonOf() {
	r := httptest.NewRequest("POST", "https://bank.example.com/transfer", nil)
	r.Header.Set("Sec-Fetch-Site", "same-site")
	err := csrf.New().Check(r)
	reason, ok := csrf.ReasonOf(err)
	fmt.Println(reason, ok, reason == csrf.ReasonSameSite)
	// Output:
	// same-site true true
}

// A WebSocket handshake is a GET, which Handler lets through as safe; a
// proxy checks it as the unsafe request it is, and answers a refusal as
// Handler would.
func ExampleProtection_Refuse() {
	p := csrf.New()
	upgrade := func(w http.ResponseWriter, r *http.Request) {
		asUnsafe := *r
		asUnsafe.Method = http.MethodPost
		if err := p.Check(&asUnsafe); err != nil {
			e, _ := err.(*csrf.Error) // Check returns an *Error; Refuse refuses a nil one too
			p.Refuse(w, r, e)
			return
		}
		fmt.Fprintln(w, "upgraded")
	}
	for _, site := range []string{"same-origin", "cross-site"} {
		r := httptest.NewRequest("GET", "https://chat.example.com/ws", nil)
		r.Header.Set("Upgrade", "websocket")
		r.Header.Set("Sec-Fetch-Site", site)
		w := httptest.NewRecorder()
		upgrade(w, r)
		fmt.Printf("%s: %d %q %s", site, w.Code, w.Header().Values("Vary"), w.Body)
	}
	// Output:
	// same-origin: 200 [] upgraded
	// cross-site: 403 ["Origin, Sec-Fetch-Site" "Accept"] 403 refused as a possible cross-site request forgery: the browser reports that this request comes from another site (reason: cross-site)
}
