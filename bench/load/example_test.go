package load_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/forgeproof/forgeproof/bench/load"
	"github.com/forgeproof/forgeproof/pki"
)

func ExampleSummarise() {
	ms := time.Millisecond
	fmt.Println(load.Summarise([]time.Duration{3 * ms, 1 * ms, 2 * ms, 4 * ms}))
	// Output: p50 2ms p99 4ms p99.9 4ms max 4ms (n=4)
}

// A server that requires a client certificate, measured for a moment over
// keep-alive connections.
func ExampleKeepAlive() {
	ca, _ := pki.NewCA(pki.CAOptions{})
	srvCert, _ := ca.IssueServer(pki.ServerOptions{IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	client, _ := ca.IssueClient(pki.ClientOptions{CommonName: "load"})

	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	}))
	srv.TLS = srvCert.ServerTLSConfig(ca) // requires and verifies client certificates
	srv.StartTLS()
	defer srv.Close()

	cfg := client.ClientTLSConfig(ca)
	cfg.MinVersion = tls.VersionTLS13
	cfg.ServerName = "127.0.0.1" // also the Host header
	res, err := load.KeepAlive(context.Background(),
		load.Target{Addr: srv.Listener.Addr().String(), TLS: cfg},
		load.Options{Conns: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("answered: %v, errors: %d\n", res.OK > 0, res.Errors)
	// Output: answered: true, errors: 0
}
