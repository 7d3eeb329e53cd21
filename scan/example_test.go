package scan_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/forgeproof/forgeproof/scan"
)

// A service with no CSRF defence: the transfer goes through whoever
// posts it.
func ExampleRun() {
	balance := 100
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "__Host-sid", Value: "s1", Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteNoneMode})
		fmt.Fprint(w, `<form method="post" action="/transfer"><input name="amount" value="1"></form>`)
	})
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		balance--
		http.Redirect(w, r, "/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /balance", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"balance": %d}`, balance)
	})
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	report, err := scan.Run(context.Background(), scan.Config{
		Target:   srv.URL,
		TLS:      srv.Client().Transport.(*http.Transport).TLSClientConfig,
		Discover: true,
		Verify:   &scan.Verification{Path: "/balance", Pointer: "/balance"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range report.Findings {
		fmt.Println(f.Severity, f.Rule, f.Confidence)
	}
	// Output:
	// high cross-site-forgery confirmed
	// medium cookie-samesite-none confirmed
}

func ExampleParseEndpoint() {
	e, err := scan.ParseEndpoint("POST /transfer to=mallory&amount=1")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(e.Method, e.Path, e.Form["to"], e.Form["amount"])

	_, err = scan.ParseEndpoint("TRACE /x")
	fmt.Println(err)
	// Output:
	// POST /transfer mallory 1
	// invalid endpoint "TRACE /x": invalid method "TRACE": want GET, POST, PUT, PATCH, DELETE or WS
}

// Plan prints what a scan would send, and sends nothing.
func ExamplePlan() {
	plan, err := scan.Plan(scan.Config{
		Target:      "https://bank.example/",
		Endpoints:   []scan.Endpoint{{Method: "POST", Path: "/transfer", Form: map[string]string{"amount": "1"}}},
		CurlTLSArgs: []string{"--cert", "client.pem", "--key", "client-key.pem"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(plan[2].Purpose)
	fmt.Println(plan[2].Curl)
	// Output:
	// probe cross-site-forgery: cross-site form POST, urlencoded
	// curl -sS -i -X POST --cert client.pem --key client-key.pem -H 'Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' -H 'Content-Type: application/x-www-form-urlencoded' -H 'Origin: https://attacker.invalid' -H 'Referer: https://attacker.invalid/' -H 'Sec-Fetch-Dest: document' -H 'Sec-Fetch-Mode: navigate' -H 'Sec-Fetch-Site: cross-site' -H 'User-Agent: Mozilla/5.0 (compatible; forgeproof-scan)' --data-binary amount=1 https://bank.example/transfer
}

// Advice is the fix a finding carries: the rule's own, then the setting
// of the framework the scan recognised.
func ExampleAdvice() {
	fmt.Println(scan.Advice(scan.RuleMethodDowngrade, scan.FrameworkDjango))
	// Output:
	// Accept state changes on POST (or PUT, PATCH, DELETE) only; answer 405 to a GET. In Django, decorate the view with @require_POST (django.views.decorators.http) and change state only under request.method == "POST".
}
