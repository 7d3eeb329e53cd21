package demo

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/forgeproof/forgeproof/csrf"
	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// Default addresses of Start.
const (
	DefaultListen       = "localhost:8443"
	DefaultAttackerAddr = "127.0.0.2:0"
	DefaultSiblingAddr  = "localhost:0"
)

// TokenKeyFile is the name of the CSRF token key file Start keeps in the
// PKI folder (mode 0600), so tokens survive a restart.
const TokenKeyFile = "csrf-keys"

// Options configures Start.
type Options struct {
	// Dir is the folder of the development PKI (see PreparePKI); required.
	Dir string
	// Listen is the gateway's address; default DefaultListen
	// ("localhost:8443"). Use "localhost:0" for a free port.
	Listen string
	// AttackerAddr serves the cross-site attacker (another site than
	// localhost); default DefaultAttackerAddr ("127.0.0.2:0"). When the
	// host 127.0.0.2 cannot be bound (it is not configured on macOS),
	// 127.0.0.1, also another site than localhost, is used instead.
	AttackerAddr string
	// SiblingAddr serves the same attacker pages over HTTPS from another
	// port of the bank's host: the same site as the bank, another origin.
	// Its host must be the bank's (https://localhost and
	// https://127.0.0.1 are two sites). Default: a free port of the
	// bank's host, DefaultSiblingAddr ("localhost:0") for the default
	// bank.
	SiblingAddr string
	// InsecureNoCSRF turns the gateway's CSRF guard off on every route, so
	// the attacker's forgeries succeed: the negative control.
	InsecureNoCSRF bool
	// Logger receives the gateway's access log (one line per request,
	// with the decision and the refusal reason). If nil, nothing is logged.
	Logger *slog.Logger
}

// Running is a started demo. Close stops it.
type Running struct {
	// URL is the bank through the gateway: https://localhost:PORT.
	URL string
	// AttackerURL is the cross-site attacker, http://127.0.0.2:PORT
	// (http://127.0.0.1:PORT where 127.0.0.2 cannot be bound).
	AttackerURL string
	// SiblingURL is the same-site attacker, https://localhost:OTHERPORT.
	SiblingURL string
	// UpstreamURL is the bank itself, plain HTTP on loopback. It trusts
	// forwarded identity headers from loopback peers: never expose it.
	UpstreamURL string

	// Files are the PKI files. Created lists the base names of the files
	// this Start wrote into Files.Dir, those of the PKI and the token key
	// file (see FileNames).
	Files   Files
	Created []string
	// Renewed lists those of Created that replaced a file that was there
	// but unusable, expired or about to expire: a browser holding the old
	// client.p12 must import the new one.
	Renewed []string
	// TokenKeyFile is the path of the CSRF token key file.
	TokenKeyFile string
	// ClientRevoked says the CRL lists the client certificate (someone ran
	// "forgeproof pki revoke" on it): the gateway refuses it. The demo
	// runs anyway (a test of revocation); "forgeproof demo" stops with
	// the way out (--reset) instead.
	ClientRevoked bool

	// InsecureNoCSRF echoes Options.InsecureNoCSRF.
	InsecureNoCSRF bool
	// Bank is the demo application: its balances are the tests' oracle.
	Bank *Bank

	pki     *devPKI
	cancel  context.CancelFunc
	done    chan struct{}
	errMu   sync.Mutex
	err     error
	closeMu sync.Once
}

// Start prepares the PKI in opts.Dir and starts the bank, the gateway in
// front of it and the attacker sites, all on loopback. They run until ctx
// ends or Close is called.
//
// The gateway has two routes to the bank: /api/ for programmatic clients
// (any client certificate of the demo CA; origin checks only, so a client
// that sends no browser headers passes) and / for browsers (certificate
// optional; origin checks plus a CSRF token on every unsafe request). It
// asks for client certificates without requiring them (verify-if-given),
// as a host that serves browsers must, and forwards the verified identity
// to the bank in the RFC 9440 Client-Cert header.
func Start(ctx context.Context, opts Options) (*Running, error) {
	if opts.Dir == "" {
		return nil, errors.New("demo: Options.Dir is required")
	}
	listen := loopbackAddr(or(opts.Listen, DefaultListen))
	attackerAddr := loopbackAddr(or(opts.AttackerAddr, DefaultAttackerAddr))
	bankHost, _, _ := net.SplitHostPort(listen)
	siblingAddr := loopbackAddr(or(opts.SiblingAddr, net.JoinHostPort(bankHost, "0")))
	for _, a := range []struct{ name, addr string }{{"listen", listen}, {"attacker", attackerAddr}, {"sibling", siblingAddr}} {
		if err := checkLoopback(a.addr); err != nil {
			return nil, fmt.Errorf("demo: %s address %q: %w", a.name, a.addr, err)
		}
	}
	if siblingHost, _, _ := net.SplitHostPort(siblingAddr); !strings.EqualFold(siblingHost, bankHost) {
		// Another host is another site: the browser would call the
		// sibling's requests cross-site, while its pages and SelfCheck
		// call them same-site.
		return nil, fmt.Errorf("demo: sibling address %q: the same-site attacker must be on the bank's host (%s), on another port: %s is another site", siblingAddr, bankHost, siblingHost)
	}

	p, err := preparePKI(opts.Dir, time.Now(), true)
	if err != nil {
		return nil, err
	}
	keyFile := filepath.Join(p.files.Dir, TokenKeyFile)

	var lns []net.Listener
	fail := func(err error) (*Running, error) {
		for _, ln := range lns {
			ln.Close()
		}
		return nil, err
	}
	bankLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(fmt.Errorf("demo: bank: %w", err))
	}
	lns = append(lns, bankLn)
	attackerLn, err := net.Listen("tcp", attackerAddr)
	if host, port, _ := net.SplitHostPort(attackerAddr); errors.Is(err, syscall.EADDRNOTAVAIL) && host == "127.0.0.2" {
		// 127.0.0.2 is not configured on every system (macOS); 127.0.0.1
		// is another site than localhost too.
		attackerLn, err = net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	}
	if err != nil {
		return fail(fmt.Errorf("demo: attacker: %w", err))
	}
	lns = append(lns, attackerLn)
	siblingLn, err := net.Listen("tcp", siblingAddr)
	if err != nil {
		return fail(fmt.Errorf("demo: sibling: %w", err))
	}
	lns = append(lns, siblingLn)

	r := &Running{
		UpstreamURL:    "http://" + bankLn.Addr().String(),
		AttackerURL:    "http://" + urlHost(attackerAddr, attackerLn.Addr()),
		SiblingURL:     "https://" + urlHost(siblingAddr, siblingLn.Addr()),
		Files:          p.files,
		Created:        p.created,
		Renewed:        p.renewed,
		TokenKeyFile:   keyFile,
		ClientRevoked:  p.revoked(p.client),
		InsecureNoCSRF: opts.InsecureNoCSRF,
		pki:            p,
		done:           make(chan struct{}),
	}

	peers, err := forwarded.ParseTrustedPeers("127.0.0.1", "::1")
	if err != nil {
		return fail(err)
	}
	// The gateway's access log also goes to answers, from which the
	// attacker pages tell what the bank answered their forgeries.
	var next slog.Handler
	if opts.Logger != nil {
		next = opts.Logger.Handler()
	}
	ans := newAnswers(next)
	gw, err := gateway.New(gatewayConfig(listen, r.UpstreamURL, p.files, keyFile, opts.InsecureNoCSRF), gateway.Options{Logger: slog.New(ans)})
	if err != nil {
		return fail(fmt.Errorf("demo: gateway: %w", err))
	}
	if err := gw.Listen(); err != nil {
		return fail(fmt.Errorf("demo: %w", err))
	}
	r.URL = "https://" + urlHost(listen, gw.Addrs()[0])

	banner := "CSRF protection is ON: forgeproof refuses forged requests before they reach this bank."
	if opts.InsecureNoCSRF {
		banner = "CSRF protection is OFF (--insecure-no-csrf): forged requests reach this bank and move money."
	}
	r.Bank = NewBank(BankOptions{
		Banner:    banner,
		ClientP12: p.files.ClientP12,
		CAFile:    p.files.CA,
		Links: []Link{
			{"cross-site attacker (" + r.AttackerURL + ")", r.AttackerURL + "/"},
			{"same-site attacker (" + r.SiblingURL + ")", r.SiblingURL + "/"},
		},
	})
	// The bank believes the identity header only from loopback peers:
	// that is the gateway (and anything else on this machine; see the
	// package documentation).
	fwd := &forwarded.Trust{TrustedPeers: peers, Formats: forwarded.RFC9440}
	bankSrv := newServer(fwd.Handler(r.Bank))
	attackerSrv := newServer(NewAttacker(r.URL, AttackerOptions{InsecureNoCSRF: opts.InsecureNoCSRF, Bank: r.Bank, answers: ans}))
	siblingSrv := newServer(NewAttacker(r.URL, AttackerOptions{InsecureNoCSRF: opts.InsecureNoCSRF, SameSite: true, Bank: r.Bank, answers: ans}))
	serverCert := p.server.TLSCertificate()
	siblingSrv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12}

	ctx, cancel := context.WithCancel(ctx)
	r.cancel = cancel
	var wg sync.WaitGroup
	serve := func(f func() error) {
		wg.Go(func() {
			if err := f(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				r.setErr(err)
				cancel()
			}
		})
	}
	// The bank must outlive the gateway's drain, so it is not in wg: it
	// stops after wg.Wait below.
	bankDone := make(chan struct{})
	go func() {
		defer close(bankDone)
		if err := bankSrv.Serve(bankLn); !errors.Is(err, http.ErrServerClosed) {
			r.setErr(err)
			cancel()
		}
	}()
	serve(func() error { return attackerSrv.Serve(attackerLn) })
	serve(func() error { return siblingSrv.ServeTLS(siblingLn, "", "") })
	serve(func() error { return gw.Serve(ctx) })
	go func() {
		<-ctx.Done()
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		for _, s := range []*http.Server{attackerSrv, siblingSrv} {
			s.Shutdown(sctx)
		}
		wg.Wait() // the gateway drains before the bank goes
		bankSrv.Shutdown(sctx)
		<-bankDone
		close(r.done)
	}()
	return r, nil
}

// Close stops the demo and waits until every server has stopped. It
// returns the first error a server failed with, if any.
func (r *Running) Close() error {
	r.closeMu.Do(r.cancel)
	<-r.done
	return r.Err()
}

// Done is closed when the demo has stopped (after Close, or when the
// context given to Start ends, or when a server fails).
func (r *Running) Done() <-chan struct{} { return r.done }

// Err returns the error a server failed with, if any.
func (r *Running) Err() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.err
}

func (r *Running) setErr(err error) {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	if r.err == nil {
		r.err = err
	}
}

// ServiceClient returns an HTTP client that presents alice's certificate
// and trusts the demo CA: a programmatic client, sending no browser
// headers.
func (r *Running) ServiceClient() *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:   r.pki.client.ClientTLSConfig(r.pki.ca),
			ForceAttemptHTTP2: true,
		},
	}
}

// TLSConfig returns a client TLS configuration that trusts the demo CA
// and, when withCert, presents alice's certificate.
func (r *Running) TLSConfig(withCert bool) *tls.Config {
	if withCert {
		return r.pki.client.ClientTLSConfig(r.pki.ca)
	}
	return &tls.Config{RootCAs: r.pki.ca.Pool(), MinVersion: tls.VersionTLS12}
}

// gatewayConfig is the demo's gateway configuration.
func gatewayConfig(listen, upstream string, f Files, keyFile string, insecureNoCSRF bool) *gateway.Config {
	apiCSRF := gateway.RouteCSRF{Mode: csrf.ModeOriginOnly, InsecureOff: insecureNoCSRF}
	browserCSRF := gateway.RouteCSRF{Mode: csrf.ModeOriginAndToken, InsecureOff: insecureNoCSRF}
	return &gateway.Config{
		Listeners: []gateway.Listener{{
			Address: listen,
			TLS: gateway.ListenerTLS{
				CertFile:      f.Server,
				KeyFile:       f.ServerKey,
				ClientCAFiles: []string{f.CA},
				ClientAuth:    mtls.VerifyClientCertIfGiven,
				CRLFiles:      []string{f.CRL},
			},
		}},
		Routes: []gateway.Route{
			{
				Name:       "bank-api",
				PathPrefix: "/api",
				Upstream:   upstream,
				Allow:      gateway.Allow{AnyVerified: true},
				CSRF:       apiCSRF,
			},
			{
				Name:       "bank",
				PathPrefix: "/",
				Upstream:   upstream,
				Allow:      gateway.Allow{AnyVerified: true, Unauthenticated: true},
				CSRF:       browserCSRF,
			},
		},
		Tokens:             gateway.Tokens{KeyFile: keyFile, SessionCookie: SessionCookie},
		IdentityForwarding: new(forwarded.RFC9440),
		Admin:              gateway.Admin{Address: "off"},
	}
}

// prepareTokenKey keeps the token key file of the PKI folder, or writes
// a new one, which it adds to p.created, so that the demo names it among
// the files it wrote (preparePKI adds it to p.renewed if it replaced a
// file).
func (p *devPKI) prepareTokenKey() error {
	path := filepath.Join(p.files.Dir, TokenKeyFile)
	fi, err := os.Stat(path)
	if err == nil && fi.Mode().Perm()&0o077 == 0 {
		if _, err := csrf.LoadKeyRing(path); err == nil {
			return nil
		}
	}
	data := "# forgeproof demo CSRF token key (base64); keep it secret\n" +
		base64.StdEncoding.EncodeToString(csrf.GenerateKey()) + "\n"
	// Written as the keys are: 0600, synced, renamed into place.
	if err := pki.WriteSecretFile(path, []byte(data)); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	p.created = append(p.created, TokenKeyFile)
	return nil
}

func newServer(h http.Handler) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// checkLoopback refuses addresses off this machine: the demo's bank has
// well-known passwords and its CA key sits in a cache folder.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return errors.New("the demo serves on loopback only: use localhost, 127.0.0.1 or ::1")
}

// urlHost is the host:port for a URL: the host name asked for (so
// "localhost" stays a name, which makes it another site than 127.0.0.2)
// or the IP address actually bound, with the port actually bound.
func urlHost(asked string, bound net.Addr) string {
	host, _, _ := net.SplitHostPort(asked)
	tcp := bound.(*net.TCPAddr)
	if net.ParseIP(host) != nil {
		host = tcp.IP.String() // a default may have been replaced (127.0.0.2 → 127.0.0.1)
	}
	return net.JoinHostPort(host, strconv.Itoa(tcp.Port))
}

// loopbackAddr gives an address without a host the host localhost, so it
// is not bound on every interface.
func loopbackAddr(addr string) string {
	if host, port, err := net.SplitHostPort(addr); err == nil && host == "" {
		return net.JoinHostPort("localhost", port)
	}
	return addr
}
