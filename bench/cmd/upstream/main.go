// Command upstream is the tiny service every gateway under test forwards
// to: plain HTTP/1.1 on loopback, answering every request with 200 and
// "ok\n". It is as cheap as a server can be, so that what the benchmarks
// measure is the gateway in front of it.
//
// Usage:
//
//	upstream -listen 127.0.0.1:8080
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "loopback address to listen on")
	flag.Parse()
	if err := run(*listen); err != nil {
		fmt.Fprintf(os.Stderr, "upstream: error: %v\n", err)
		os.Exit(1)
	}
}

var body = []byte("ok\n")

func run(listen string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if !ln.Addr().(*net.TCPAddr).IP.IsLoopback() {
		return fmt.Errorf("refusing non-loopback address %q", listen)
	}
	fmt.Println(ln.Addr())
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			h["Content-Type"] = []string{"text/plain; charset=utf-8"}
			h["Content-Length"] = []string{"3"}
			w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(os.Stderr, "upstream: ", 0),
	}
	return srv.Serve(ln)
}
