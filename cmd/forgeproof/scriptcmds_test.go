package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/internal/freeport"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/rogpeppe/go-internal/testscript"
)

// scriptCommands are the custom commands the scripts may use, beyond the
// forgeproof command itself:
//
//	mkpki DIR               CA, server (localhost) and client certificates,
//	                        a CRL revoking "revoked", a token key: see mkpki
//	freeport NAME...        set each NAME to a free loopback TCP port
//	expand FILE             replace $NAME in FILE with the environment's
//	upstream NAME           start an echo upstream on loopback; NAME=its URL
//	fetch [flags] URL       send a request; print "STATUS\nBODY" to stdout
//	perm FILE MODE          fail unless FILE's permissions are MODE (octal)
//	rsaca FILE BITS         a self-signed CA certificate with an RSA key of
//	                        BITS (no key file): pki makes none under 2048
//	cutkey FILE KEY         delete the YAML key KEY (and what is indented
//	                        under it) wherever it is in FILE
//	mkfifo FILE             make a named pipe (unix: guard with [unix])
//	pem2der IN OUT          write the first PEM block of IN as DER to OUT
//	extauthz [flags] ADDR METHOD PATH HOST ['K: V'...]
//	                        ask an Envoy ext_authz gRPC service, as Envoy
//	                        does; print "OK" and the headers it sets and
//	                        removes, or "DENIED STATUS REASON"
func scriptCommands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){
		"mkpki":    cmdMkpki,
		"freeport": cmdFreeport,
		"expand":   cmdExpand,
		"upstream": cmdUpstream,
		"fetch":    cmdFetch,
		"perm":     cmdPerm,
		"rsaca":    cmdRSACA,
		"cutkey":   cmdCutKey,
		"extauthz": cmdExtAuthz,
		"mkfifo":   cmdMkfifo,
		"pem2der":  cmdPEM2DER,
	}
}

// cmdMkpki writes, in DIR: ca.pem, server.pem and server-key.pem (for
// localhost and 127.0.0.1), client.pem/client-key.pem
// (spiffe://test.example/web), admin.pem/admin-key.pem
// (spiffe://test.example/admin), revoked.pem/revoked-key.pem (revoked in
// crl.pem), csrf.key (mode 0600) and csrf-open.key (mode 0644).
func cmdMkpki(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkpki DIR")
	}
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o700))
	ca, err := pki.NewCA(pki.CAOptions{})
	ts.Check(err)
	ts.Check(os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertsPEM(ca.Cert), 0o644))
	srv, err := ca.IssueServer(pki.ServerOptions{DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}})
	ts.Check(err)
	ts.Check(srv.Save(dir, "server.pem", "server-key.pem"))
	for _, c := range []struct{ name, id string }{
		{"client", "spiffe://test.example/web"},
		{"admin", "spiffe://test.example/admin"},
		{"revoked", "spiffe://test.example/revoked"},
	} {
		cert, err := ca.IssueClient(pki.ClientOptions{SPIFFEID: c.id})
		ts.Check(err)
		ts.Check(cert.Save(dir, c.name+".pem", c.name+"-key.pem"))
		if c.name == "revoked" {
			der, err := ca.Revoke(nil, cert.Cert.SerialNumber)
			ts.Check(err)
			ts.Check(os.WriteFile(filepath.Join(dir, "crl.pem"), pki.EncodeCRLPEM(der), 0o644))
		}
	}
	key := []byte(base64.StdEncoding.EncodeToString(csrf.GenerateKey()) + "\n")
	ts.Check(os.WriteFile(filepath.Join(dir, "csrf.key"), key, 0o600))
	ts.Check(os.WriteFile(filepath.Join(dir, "csrf-open.key"), key, 0o600))
	ts.Check(os.Chmod(filepath.Join(dir, "csrf-open.key"), 0o644))
}

func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) == 0 {
		ts.Fatalf("usage: freeport NAME...")
	}
	for _, name := range args {
		port, err := freeport.Loopback()
		ts.Check(err)
		ts.Setenv(name, fmt.Sprint(port))
	}
}

func cmdExpand(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: expand FILE")
	}
	path := ts.MkAbs(args[0])
	data := os.Expand(ts.ReadFile(args[0]), ts.Getenv)
	ts.Check(os.WriteFile(path, []byte(data), 0o600))
}

// cmdUpstream starts a plain-HTTP upstream that answers with the method,
// path and headers it received, as JSON. With --set-cookie VALUE, every
// answer also sets that cookie (a session cookie as a plain app sets it).
func cmdUpstream(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	setCookie := fs.String("set-cookie", "", "")
	if err := fs.Parse(args); neg || err != nil || fs.NArg() != 1 {
		ts.Fatalf("usage: upstream [--set-cookie VALUE] NAME")
	}
	args = fs.Args()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if *setCookie != "" {
			w.Header().Add("Set-Cookie", *setCookie)
		}
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"method": r.Method, "path": r.URL.Path, "header": r.Header})
	}))
	ts.Defer(srv.Close)
	ts.Setenv(args[0], srv.URL)
}

// cmdFetch sends one request and prints the status code and the body.
// Flags: --cert NAME (uses NAME.pem and NAME-key.pem), --ca FILE,
// -X METHOD, -H "Name: value" (repeatable), --data BODY, --wait (retry
// for up to 20s until the server answers), --wait-status CODE (retry for
// up to 20s until it answers CODE: after a reload). Set-Cookie headers
// are printed after the status, one "Set-Cookie: VALUE" line each.
func cmdFetch(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("fetch", flag.ContinueOnError)
	certName := fs.String("cert", "", "")
	caFile := fs.String("ca", "", "")
	method := fs.String("X", "GET", "")
	data := fs.String("data", "", "")
	wait := fs.Bool("wait", false, "")
	waitStatus := fs.Int("wait-status", 0, "")
	var headers []string
	fs.Func("H", "", func(s string) error { headers = append(headers, s); return nil })
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		ts.Fatalf("usage: fetch [--cert NAME] [--ca FILE] [-X METHOD] [-H 'K: V'] [--data BODY] [--wait] URL")
	}
	tlsCfg := &tls.Config{}
	if *caFile != "" {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM([]byte(ts.ReadFile(*caFile)))
		tlsCfg.RootCAs = pool
	}
	if *certName != "" {
		cert, err := tls.LoadX509KeyPair(ts.MkAbs(*certName+".pem"), ts.MkAbs(*certName+"-key.pem"))
		ts.Check(err)
		tlsCfg.Certificates = []tls.Certificate{cert}
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: tlsCfg, DisableKeepAlives: true}, Timeout: 10 * time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		req, err := http.NewRequest(*method, fs.Arg(0), strings.NewReader(*data))
		ts.Check(err)
		for _, h := range headers {
			k, v, _ := strings.Cut(h, ":")
			req.Header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
		}
		resp, err := client.Do(req)
		if err != nil {
			if *wait && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			if neg {
				fmt.Fprintf(ts.Stdout(), "error: %v\n", err)
				return
			}
			ts.Fatalf("fetch %s: %v", fs.Arg(0), err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if *waitStatus != 0 && resp.StatusCode != *waitStatus && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		fmt.Fprintf(ts.Stdout(), "%d\n", resp.StatusCode)
		for _, c := range resp.Header.Values("Set-Cookie") {
			fmt.Fprintf(ts.Stdout(), "Set-Cookie: %s\n", c)
		}
		fmt.Fprintf(ts.Stdout(), "%s\n", body)
		if neg {
			ts.Fatalf("fetch %s: succeeded with status %d, want a connection error", fs.Arg(0), resp.StatusCode)
		}
		return
	}
}

func cmdPerm(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: perm FILE MODE")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := fi.Mode().Perm(); (uint64(got) == want) == neg {
		ts.Fatalf("%s: mode %04o, want %s%04o", args[0], got, map[bool]string{true: "not ", false: ""}[neg], want)
	}
}

func cmdRSACA(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: rsaca FILE BITS")
	}
	bits, err := strconv.Atoi(args[1])
	ts.Check(err)
	key, err := rsa.GenerateKey(rand.Reader, bits)
	ts.Check(err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: fmt.Sprintf("RSA %d CA", bits)},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	ts.Check(err)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
}

func cmdCutKey(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: cutkey FILE KEY")
	}
	var out []string
	cutIndent := -1
	found := false
	for _, line := range strings.Split(ts.ReadFile(args[0]), "\n") {
		indent := len(line) - len(strings.TrimLeft(line, " "))
		if cutIndent >= 0 {
			if strings.TrimSpace(line) == "" || indent > cutIndent {
				continue
			}
			cutIndent = -1
		}
		if strings.HasPrefix(strings.TrimSpace(line), args[1]+":") {
			cutIndent, found = indent, true
			continue
		}
		out = append(out, line)
	}
	if !found {
		ts.Fatalf("%s: no key %q", args[0], args[1])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), []byte(strings.Join(out, "\n")), 0o600))
}

func cmdMkfifo(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: mkfifo FILE")
	}
	ts.Check(mkfifo(ts.MkAbs(args[0])))
}

func cmdPEM2DER(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: pem2der IN OUT")
	}
	b, _ := pem.Decode([]byte(ts.ReadFile(args[0])))
	if b == nil {
		ts.Fatalf("%s: no PEM block", args[0])
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), b.Bytes, 0o600))
}

// cmdExtAuthz sends one CheckRequest over plaintext gRPC, as Envoy's
// ext_authz filter builds it for a request over TLS. Flags: --cert NAME
// (the client certificate Envoy verified: NAME.pem, sent as
// attributes.source.certificate), --wait (retry for up to 20s until the
// service answers).
func cmdExtAuthz(ts *testscript.TestScript, neg bool, args []string) {
	fs := flag.NewFlagSet("extauthz", flag.ContinueOnError)
	certName := fs.String("cert", "", "")
	wait := fs.Bool("wait", false, "")
	if err := fs.Parse(args); err != nil || fs.NArg() < 4 || neg {
		ts.Fatalf("usage: extauthz [--cert NAME] [--wait] ADDR METHOD PATH HOST ['K: V'...]")
	}
	addr, method, path, host := fs.Arg(0), fs.Arg(1), fs.Arg(2), fs.Arg(3)
	headers := map[string]string{":method": method, ":path": path, ":authority": host, ":scheme": "https"}
	for _, h := range fs.Args()[4:] {
		k, v, _ := strings.Cut(h, ":")
		headers[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
	}
	src := &authv3.AttributeContext_Peer{}
	if *certName != "" {
		src.Certificate = url.PathEscape(ts.ReadFile(*certName + ".pem"))
	}
	cr := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Source: src, Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: host, Scheme: "https", Headers: headers},
	}}}
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	ts.Check(err)
	defer cc.Close()
	client := authv3.NewAuthorizationClient(cc)
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		resp, err := client.Check(ctx, cr)
		cancel()
		if err != nil {
			if *wait && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			ts.Fatalf("extauthz %s: %v", addr, err)
		}
		switch r := resp.GetHttpResponse().(type) {
		case *authv3.CheckResponse_OkResponse:
			fmt.Fprintln(ts.Stdout(), "OK")
			for _, h := range r.OkResponse.GetHeaders() {
				fmt.Fprintf(ts.Stdout(), "set %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
			}
			for _, k := range r.OkResponse.GetHeadersToRemove() {
				fmt.Fprintf(ts.Stdout(), "remove %s\n", k)
			}
		case *authv3.CheckResponse_DeniedResponse:
			reason := ""
			for _, h := range r.DeniedResponse.GetHeaders() {
				if h.GetHeader().GetKey() == "forgeproof-reason" {
					reason = h.GetHeader().GetValue()
				}
			}
			fmt.Fprintf(ts.Stdout(), "DENIED %d %s\n%s", r.DeniedResponse.GetStatus().GetCode(), reason, r.DeniedResponse.GetBody())
		default:
			ts.Fatalf("extauthz: neither OK nor denied: %v", resp)
		}
		return
	}
}
