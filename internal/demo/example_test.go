package demo_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"

	"github.com/forgeproof/forgeproof/internal/demo"
)

// Start runs the bank behind the gateway, with its attacker sites, on
// free loopback ports; SelfCheck sends a service request and forged
// browser requests with alice's certificate.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "forgeproof-demo")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	r, err := demo.Start(context.Background(), demo.Options{
		Dir:          dir,
		Listen:       "localhost:0",
		AttackerAddr: "127.0.0.2:0",
		SiblingAddr:  "localhost:0",
	})
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()

	results, err := r.SelfCheck(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, res := range results {
		fmt.Printf("%d %-12s %s\n", res.Status, res.Reason, res.Name)
	}
	fmt.Println("mallory:", r.Bank.Balances()["mallory"])
	// Output:
	// 201              service client: JSON transfer to bob
	// 403 cross-site   forged cross-site form to /transfer
	// 403 cross-site   forged cross-site text/plain JSON form
	// 403 cross-site   forged cross-site no-cors fetch
	// 403 same-site    forged same-site form from another port
	// 403 origin-mismatch forged form, browser without Fetch Metadata
	// mallory: 10
}

// The bank on its own trusts whoever is in front of it: here a middleware
// that says the client certificate is alice's. A forged form therefore
// moves money unless something like the forgeproof gateway stops it.
func ExampleNewBank() {
	bank := demo.NewBank(demo.BankOptions{
		CertificateHolder: func(*http.Request) (string, bool) { return "alice", true },
	})
	form := url.Values{"to": {"mallory"}, "amount": {"100"}}
	req := httptest.NewRequest("POST", "/transfer", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://127.0.0.2:8444")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	bank.ServeHTTP(rec, req)

	fmt.Println(rec.Code, bank.Balances())
	// Output: 200 map[alice:900 bob:1000 mallory:110]
}
