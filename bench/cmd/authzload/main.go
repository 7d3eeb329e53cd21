// Command authzload measures what one question costs "forgeproof authz"
// as a separate process, per transport: the HTTP question nginx, Caddy
// and Traefik send (here Caddy's, over keep-alive connections), and
// Envoy's ext_authz gRPC Check (over one HTTP/2 connection, as Envoy
// keeps one). It mints a development PKI, starts forgeproof authz for
// each transport in turn (rounds alternate), sends the same allowed
// same-origin POST with a client certificate from -conns workers, and
// prints questions per second and the server's CPU per question (user
// plus system time of the process, from /proc/PID/stat).
//
//	authzload -bin DIR [-conns 16] [-duration 4s] [-rounds 3]
//
// DIR holds the forgeproof binary (bench/run.sh builds it there).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/forgeproof/forgeproof/bench/internal/proc"
	"github.com/forgeproof/forgeproof/bench/internal/summary"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/pki"
)

const configTmpl = `authz:
  address: 127.0.0.1:%d
  proxy: %s
  trusted-callers: [127.0.0.1]
  client-certificates:
    ca-files: [ca.pem]
routes:
  - name: bench
    allow:
      common-names: [bench client]
identity-forwarding: both
admin:
  address: "off"
log:
  level: warn
`

// The client's request, as both transports describe it.
var clientHeaders = [][2]string{
	{"Origin", "https://bank.example"}, {"Sec-Fetch-Site", "same-origin"}, {"Sec-Fetch-Mode", "navigate"},
	{"Content-Type", "application/x-www-form-urlencoded"}, {"Cookie", "session=abc"}, {"Accept", "text/html"},
	{"User-Agent", "Mozilla/5.0"},
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "authzload:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("bin", "", "folder holding the forgeproof binary (required)")
	conns := flag.Int("conns", 16, "concurrent questions")
	dur := flag.Duration("duration", 4*time.Second, "measured window of each run")
	rounds := flag.Int("rounds", 3, "rounds; each runs every transport once")
	flag.Parse()
	if *bin == "" {
		return errors.New("-bin is required")
	}
	dir, err := os.MkdirTemp("", "forgeproof-authzload-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ca, err := pki.NewCA(pki.CAOptions{})
	if err != nil {
		return err
	}
	cl, err := ca.IssueClient(pki.ClientOptions{CommonName: "bench client"})
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertsPEM(ca.Cert), 0o600); err != nil {
		return err
	}
	escaped := url.PathEscape(string(pki.EncodeCertsPEM(cl.Cert)))

	results := map[string][]float64{} // CPU µs per question
	rates := map[string][]float64{}
	for r := 0; r < *rounds; r++ {
		for _, transport := range []string{"http", "grpc"} {
			rate, cpu, err := measure(*bin, dir, transport, escaped, *conns, *dur)
			if err != nil {
				return fmt.Errorf("%s: %w", transport, err)
			}
			fmt.Fprintf(os.Stderr, "authzload: round %d %s: %.0f questions/s, server CPU %.0f µs a question\n", r+1, transport, rate, cpu)
			results[transport] = append(results[transport], cpu)
			rates[transport] = append(rates[transport], rate)
		}
	}
	fmt.Printf("| transport | questions/s | server CPU µs a question |\n|---|--:|--:|\n")
	for _, t := range []string{"http", "grpc"} {
		fmt.Printf("| %s | %.0f | %.0f |\n", t, summary.Of(rates[t]).Median, summary.Of(results[t]).Median)
	}
	fmt.Printf("\nMedians of %d rounds; %d concurrent questions; windows of %v; load average after: %s\n", *rounds, *conns, *dur, proc.LoadAvg())
	return nil
}

// measure starts forgeproof authz for transport, loads it for d after a
// second of warm-up, and returns questions per second and CPU µs per
// question of the server process.
func measure(bin, dir, transport, escaped string, conns int, d time.Duration) (float64, float64, error) {
	port, err := freeport.Loopback()
	if err != nil {
		return 0, 0, err
	}
	proxy := map[string]string{"http": "caddy", "grpc": "envoy"}[transport]
	cfg := filepath.Join(dir, transport+".yaml")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, configTmpl, port, proxy), 0o600); err != nil {
		return 0, 0, err
	}
	p, err := proc.Start(dir, "forgeproof-authz-"+transport, nil, filepath.Join(bin, "forgeproof"), "authz", "--config", cfg, "--watch=false")
	if err != nil {
		return 0, 0, err
	}
	defer p.Stop()
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	if err := p.WaitTCP(context.Background(), addr); err != nil {
		return 0, 0, err
	}
	var ask func() error
	switch transport {
	case "http":
		client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
		ask = func() error {
			q, _ := http.NewRequest("GET", "http://"+addr+"/caddy", nil)
			for _, kv := range clientHeaders {
				q.Header.Set(kv[0], kv[1])
			}
			for k, v := range map[string]string{"X-Forwarded-Method": "POST", "X-Forwarded-Uri": "/transfer",
				"X-Forwarded-Host": "bank.example", "X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.7",
				"X-Forwarded-Tls-Client-Cert": escaped} {
				q.Header.Set(k, v)
			}
			resp, err := client.Do(q)
			if err != nil {
				return err
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("answer %s, want 200", resp.Status)
			}
			return nil
		}
	case "grpc":
		h := map[string]string{":method": "POST", ":path": "/transfer", ":authority": "bank.example", ":scheme": "https"}
		for _, kv := range clientHeaders {
			h[strings.ToLower(kv[0])] = kv[1]
		}
		cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
			Source: &authv3.AttributeContext_Peer{Certificate: escaped},
			Request: &authv3.AttributeContext_Request{Http: &authv3.AttributeContext_HttpRequest{
				Method: "POST", Path: "/transfer", Host: "bank.example", Scheme: "https", Headers: h}},
		}}
		cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return 0, 0, err
		}
		defer cc.Close()
		client := authv3.NewAuthorizationClient(cc)
		ask = func() error {
			resp, err := client.Check(context.Background(), cr)
			if err != nil {
				return err
			}
			if resp.GetOkResponse() == nil {
				return fmt.Errorf("answer %v, want OK", resp.GetStatus())
			}
			return nil
		}
	}
	// forgeproof's log (its refusals, at level warn) explains a failed
	// question.
	withLog := func(err error) error {
		return fmt.Errorf("%w; %s's log: %s", err, p.Name, proc.Tail(p.Log, 600))
	}
	if err := ask(); err != nil {
		return 0, 0, withLog(err)
	}
	if _, err := load(ask, conns, time.Second); err != nil {
		return 0, 0, withLog(err)
	}
	t0 := p.CPUTime()
	start := time.Now()
	n, err := load(ask, conns, d)
	if err != nil {
		return 0, 0, withLog(err)
	}
	el := time.Since(start)
	cpu := float64((p.CPUTime() - t0).Microseconds())
	return float64(n) / el.Seconds(), cpu / float64(n), nil
}

// load asks from conns workers for d and returns how many answers came.
func load(ask func() error, conns int, d time.Duration) (int64, error) {
	var n atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	end := time.Now().Add(d)
	for range conns {
		wg.Go(func() {
			for time.Now().Before(end) {
				if err := ask(); err != nil {
					once.Do(func() { first = err })
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return n.Load(), first
}
