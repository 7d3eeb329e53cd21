// Command goproxy is the floor for any Go gateway in the benchmarks: a bare
// net/http/httputil.ReverseProxy behind a TLS listener that requires and
// verifies a client certificate (tls.RequireAndVerifyClientCert), and does
// nothing else: no authorization, no CSRF checks, no logging, no metrics.
// With -loop-rp the same proxy is served without net/http's server, and
// with -loop without the ReverseProxy either (loop.go).
//
// Usage:
//
//	goproxy -listen 127.0.0.1:8443 -cert server.pem -key server-key.pem \
//	    -client-ca ca.pem -upstream http://127.0.0.1:8080
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	certFile := flag.String("cert", "", "server certificate (PEM)")
	keyFile := flag.String("key", "", "server key (PEM)")
	caFile := flag.String("client-ca", "", "CA bundle client certificates must chain to (PEM)")
	upstream := flag.String("upstream", "", "upstream URL")
	noClientAuth := flag.Bool("insecure-no-client-auth", false, "do not ask for client certificates (only to test that the harness notices)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file, until SIGTERM or SIGINT")
	loopRP := flag.Bool("loop-rp", false, "serve the ReverseProxy (with the buffer pool) from a loop over http.ReadRequest and a minimal ResponseWriter instead of net/http's server")
	loop := flag.Bool("loop", false, "no net/http server and no ReverseProxy: relay with http.ReadRequest, Request.Write, http.ReadResponse and Response.Write (a floor, not a proxy)")
	bufferPool := flag.Bool("buffer-pool", false, "reuse the proxy's copy buffers (httputil.ReverseProxy.BufferPool) instead of allocating 32 KiB per response")
	flag.Parse()
	if *cpuProfile != "" {
		stop, err := profile(*cpuProfile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "goproxy: error: %v\n", err)
			os.Exit(1)
		}
		defer stop()
	}
	if err := run(*listen, *certFile, *keyFile, *caFile, *upstream, *noClientAuth, *bufferPool, *loop, *loopRP); err != nil {
		fmt.Fprintf(os.Stderr, "goproxy: error: %v\n", err)
		os.Exit(1)
	}
}

// profile starts a CPU profile and, on SIGTERM or SIGINT, writes it and
// exits; the returned function stops it early.
func profile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		return nil, err
	}
	stop = func() { pprof.StopCPUProfile(); f.Close() }
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	go func() {
		<-sig
		stop()
		os.Exit(0)
	}()
	return stop, nil
}

func run(listen, certFile, keyFile, caFile, upstream string, noClientAuth, bufferPool, loop, loopRP bool) error {
	if certFile == "" || keyFile == "" || caFile == "" || upstream == "" {
		return errors.New("-cert, -key, -client-ca and -upstream are required")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return err
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return fmt.Errorf("no certificate in %q", caFile)
	}
	up, err := url.Parse(upstream)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		return fmt.Errorf("refusing non-loopback address %q", listen)
	}
	fmt.Println(ln.Addr())

	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(up) },
		// The default transport keeps only two idle connections per host,
		// which under load would open a new upstream connection for most
		// requests; every proxy in the comparison pools 64.
		Transport: &http.Transport{
			MaxIdleConns:        64,
			MaxIdleConnsPerHost: 64,
			IdleConnTimeout:     90 * time.Second,
		},
		ErrorLog: log.New(os.Stderr, "goproxy: ", 0),
	}
	tlsCfg := &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	if noClientAuth {
		tlsCfg.ClientAuth = tls.NoClientCert
	}
	if loop {
		return serveLoop(ln, tlsCfg, up.Host)
	}
	if bufferPool || loopRP {
		proxy.BufferPool = &bufferPool32K{}
	}
	if loopRP {
		return serveLoopHandler(ln, tlsCfg, proxy)
	}
	srv := &http.Server{
		Handler:           proxy,
		TLSConfig:         tlsCfg, // ServeTLS clones it and adds h2
		ReadHeaderTimeout: 10 * time.Second,
		// TLS handshake errors (the load generator resets connections) are
		// noise here.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	return srv.ServeTLS(ln, "", "")
}

// bufferPool32K is an httputil.BufferPool over a sync.Pool of 32 KiB buffers, the
// size ReverseProxy allocates when it has no pool.
type bufferPool32K struct{ p sync.Pool }

func (b *bufferPool32K) Get() []byte {
	if v, ok := b.p.Get().(*[]byte); ok {
		return *v
	}
	return make([]byte, 32*1024)
}

func (b *bufferPool32K) Put(buf []byte) { b.p.Put(&buf) }
