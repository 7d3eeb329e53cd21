package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// A CheckResult is the outcome of one request SelfCheck sent.
type CheckResult struct {
	// Name says what the request imitates.
	Name string
	// Status is the HTTP status of the response, Reason the refusal's
	// reason code ("" when not refused by the gateway).
	Status int
	Reason string
	// Moved says the request moved money (the bank's balances changed).
	Moved bool
	// Want says whether money should have moved, and OK whether it did
	// exactly that.
	Want, OK bool
}

func (c CheckResult) String() string {
	verdict := "ok"
	if !c.OK {
		verdict = "UNEXPECTED"
	}
	outcome := "refused"
	if c.Moved {
		outcome = "moved money"
	} else if c.Reason == "" {
		outcome = "did not move money"
	}
	s := fmt.Sprintf("%-4s %-46s %d %s", verdict, c.Name, c.Status, outcome)
	if c.Reason != "" {
		s += " (reason: " + c.Reason + ")"
	}
	return s
}

// SelfCheck sends, with alice's certificate, one legitimate service
// request and the forgeries a browser can be made to send (with exactly
// the headers Chromium sends), and reports which moved money. The service
// request must succeed; the forgeries must fail unless the demo runs with
// InsecureNoCSRF, where they must succeed. It pays small amounts (1) so a
// demo stays usable afterwards.
func (r *Running) SelfCheck(ctx context.Context) ([]CheckResult, error) {
	client := &http.Client{
		Transport:     &http.Transport{TLSClientConfig: r.TLSConfig(true)},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	defer client.CloseIdleConnections()
	type probe struct {
		name, path, contentType, body string
		headers                       map[string]string
		want                          bool
	}
	// navigate is what Chromium sends with a form that a page on origin
	// submits.
	navigate := func(origin, site string) map[string]string {
		return map[string]string{"Origin": origin, "Sec-Fetch-Site": site, "Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "document"}
	}
	forgeriesWork := r.InsecureNoCSRF
	probes := []probe{
		{"service client: JSON transfer to bob", "/api/transfers", "application/json", `{"to":"bob","amount":1}`, nil, true},
		{"forged cross-site form to /transfer", "/transfer", "application/x-www-form-urlencoded", "to=mallory&amount=1",
			navigate(r.AttackerURL, "cross-site"), forgeriesWork},
		{"forged cross-site text/plain JSON form", "/api/transfers", "text/plain", `{"to":"mallory","amount":1,"x":"="}` + "\r\n",
			navigate(r.AttackerURL, "cross-site"), forgeriesWork},
		{"forged cross-site no-cors fetch", "/api/transfers", "text/plain;charset=UTF-8", `{"to":"mallory","amount":1}`,
			map[string]string{"Origin": r.AttackerURL, "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors", "Sec-Fetch-Dest": "empty"}, forgeriesWork},
		{"forged same-site form from another port", "/transfer", "application/x-www-form-urlencoded", "to=mallory&amount=1",
			navigate(r.SiblingURL, "same-site"), forgeriesWork},
		{"forged form, browser without Fetch Metadata", "/transfer", "application/x-www-form-urlencoded", "to=mallory&amount=1",
			map[string]string{"Origin": r.AttackerURL}, forgeriesWork},
	}
	var out []CheckResult
	for _, p := range probes {
		req, err := http.NewRequestWithContext(ctx, "POST", r.URL+p.path, strings.NewReader(p.body))
		if err != nil {
			return out, err
		}
		req.Header.Set("Content-Type", p.contentType)
		req.Header.Set("Accept", "application/json")
		for k, v := range p.headers {
			req.Header.Set(k, v)
		}
		before := r.Bank.Balances()
		resp, err := client.Do(req)
		if err != nil {
			return out, fmt.Errorf("demo: %s: %w", p.name, err)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		resp.Body.Close()
		after := r.Bank.Balances()
		res := CheckResult{Name: p.name, Status: resp.StatusCode, Want: p.want}
		for k, v := range after {
			if before[k] != v {
				res.Moved = true
			}
		}
		if resp.StatusCode >= 400 {
			var pd struct{ Reason string }
			if json.Unmarshal(body, &pd) == nil {
				res.Reason = pd.Reason
			}
		}
		res.OK = res.Moved == res.Want
		out = append(out, res)
	}
	return out, nil
}
