package browser_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"

	"github.com/forgeproof/forgeproof/internal/browser"
)

// A Recorder in front of a handler keeps what each request carried and
// the status answered, never cookie values.
func ExampleRecorder() {
	rec := browser.NewRecorder(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	r := httptest.NewRequest("POST", "https://localhost:8443/transfer", nil)
	r.Header.Set("Origin", "http://127.0.0.2:8080")
	r.Header.Set("Sec-Fetch-Site", "cross-site")
	r.Header.Set("Cookie", "session=s3cret")
	rec.ServeHTTP(httptest.NewRecorder(), r)

	got := rec.Requests()[0]
	fmt.Println(got.Method, got.Path, got.Origin, got.SecFetchSite, got.Cookies, got.Status)
	// Output: POST /transfer http://127.0.0.2:8080 cross-site [session] 403
}

// Start a Chromium that trusts a CA and presents a client certificate to
// https://localhost:8443 without asking, then open an attacker's page.
func ExampleStart() {
	tools, err := browser.FindTools(os.Getenv(browser.BrowserEnv))
	if err != nil {
		log.Fatalf("%v; %s", err, browser.InstallHint)
	}
	caPEM, _ := os.ReadFile("ca.pem")
	p12, _ := os.ReadFile("client.p12") // PKCS#12, empty password
	b, err := browser.Start(context.Background(), browser.Options{
		Tools: tools,
		Profile: browser.Profile{
			CACertsPEM: caPEM,
			ClientP12:  p12,
			AutoSelect: []string{"https://localhost:8443"},
			IssuerCN:   "forgeproof development CA",
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer b.Close()

	mark := b.Mark()
	if err := b.Open(context.Background(), "http://127.0.0.2:8080/form"); err != nil {
		log.Fatal(err)
	}
	sent, err := b.WaitSent(context.Background(), mark, browser.SentTo("POST", "https://localhost:8443/transfer"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(sent.Status, sent.Header.Get("Sec-Fetch-Site"), sent.Cookies())
}
