package forwarded_test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/mtls"
	"github.com/forgeproof/forgeproof/mtls/forwarded"
	"github.com/forgeproof/forgeproof/pki"
)

// seen is what the protected handler saw.
type seen struct {
	Identity string   // "" when there was none
	Source   string   // identity source
	Headers  []string // identity headers that reached it
}

func recordingHandler(w http.ResponseWriter, r *http.Request) {
	var s seen
	if id, ok := mtls.IdentityFromContext(r.Context()); ok {
		s.Identity, s.Source = id.String(), identitySource(id)
	}
	for k := range r.Header {
		if forwarded.IsHeader(k) {
			s.Headers = append(s.Headers, k)
		}
	}
	sort.Strings(s.Headers)
	json.NewEncoder(w).Encode(s)
}

// peer is how a test request reaches the server.
type peer struct {
	addr     string
	cert     *pki.Cert // presented on the connection; nil for none
	verified bool      // crypto/tls verified it
}

func (p peer) apply(r *http.Request, ca *x509.Certificate) {
	r.RemoteAddr = p.addr
	if p.cert == nil {
		return
	}
	r.TLS = &tls.ConnectionState{PeerCertificates: []*x509.Certificate{p.cert.Cert}}
	if p.verified {
		r.TLS.VerifiedChains = [][]*x509.Certificate{{p.cert.Cert, ca}}
	}
}

func TestForwardedIdentityHandler(t *testing.T) {
	c := certs(t)
	loopback, err := forwarded.ParseTrustedPeers("127.0.0.0/8", "::1")
	if err != nil {
		t.Fatal(err)
	}
	byCert := forwarded.Trust{TrustForwarder: trustSPIFFE(gatewayID)}
	byAddr := forwarded.Trust{TrustedPeers: loopback}
	byBoth := forwarded.Trust{TrustForwarder: trustSPIFFE(gatewayID), TrustedPeers: loopback}
	xfccOnly := forwarded.Trust{TrustForwarder: trustSPIFFE(gatewayID), Formats: forwarded.XFCC}

	gw := peer{"10.9.8.7:4000", c.gateway, true}
	gwLoop := peer{"127.0.0.1:4000", c.gateway, true}
	impostor := peer{"10.9.8.7:4000", c.impostor, true}
	unverifiedGW := peer{"10.9.8.7:4000", c.gateway, false}
	loop := peer{"127.0.0.1:4000", nil, false}
	loopMapped := peer{"[::ffff:127.0.0.1]:4000", nil, false}
	loop6 := peer{"[::1]:4000", nil, false}
	remote := peer{"192.0.2.10:4000", nil, false}
	unix := peer{"@", nil, false}

	clientCert := map[string]string{"Client-Cert": forwarded.FormatClientCert(c.client.Cert)}
	clientXFCC := map[string]string{"X-Forwarded-Client-Cert": "By=" + gatewayID + ";URI=" + clientID}
	otherXFCC := map[string]string{"X-Forwarded-Client-Cert": "URI=" + impostorID}
	chainedXFCC := map[string]string{"X-Forwarded-Client-Cert": "URI=" + impostorID + ",URI=" + clientID}
	chainedXFCCReversed := map[string]string{"X-Forwarded-Client-Cert": "URI=" + clientID + ",URI=" + impostorID}
	badXFCC := map[string]string{"X-Forwarded-Client-Cert": "URI=" + clientID + ";Role=admin"}
	badCert := map[string]string{"Client-Cert": ":bm90IGEgY2VydA==:"}
	sum := mtls.NewIdentity(c.client.Cert).CertSHA256
	agree := map[string]string{"Client-Cert": forwarded.FormatClientCert(c.client.Cert), "X-Forwarded-Client-Cert": "Hash=" + hex.EncodeToString(sum[:]) + ";URI=" + clientID}
	disagree := map[string]string{"Client-Cert": forwarded.FormatClientCert(c.client.Cert), "X-Forwarded-Client-Cert": "Hash=" + strings.Repeat("ab", 32)}
	noHash := map[string]string{"Client-Cert": forwarded.FormatClientCert(c.client.Cert), "X-Forwarded-Client-Cert": "URI=" + clientID}
	chainOnly := map[string]string{"Client-Cert-Chain": forwarded.FormatClientCertChain([]*x509.Certificate{c.ca.Cert})}
	spoofVariants := map[string]string{"X_Forwarded_Client_Cert": "URI=" + impostorID, "client_cert": forwarded.FormatClientCert(c.impostor.Cert)}

	tests := []struct {
		name       string
		mw         forwarded.Trust
		peer       peer
		headers    map[string]string
		wantStatus int
		want       seen
	}{
		// By the forwarder's certificate.
		{"trusted cert forwards Client-Cert", byCert, gw, clientCert, 200, seen{clientID, "forwarded", []string{"Client-Cert"}}},
		{"untrusted cert: Client-Cert stripped, own identity kept", byCert, impostor, clientCert, 200, seen{impostorID, "connection", nil}},
		{"unverified gateway cert is not trusted", byCert, unverifiedGW, clientCert, 200, seen{"", "", nil}},
		{"trusted cert forwards XFCC", byCert, gw, clientXFCC, 200, seen{clientID, "forwarded", []string{"X-Forwarded-Client-Cert"}}},
		{"untrusted cert: XFCC stripped", byCert, impostor, otherXFCC, 200, seen{impostorID, "connection", nil}},
		{"XFCC from a chain of proxies: the last element counts", byCert, gw, chainedXFCC, 200, seen{clientID, "forwarded", []string{"X-Forwarded-Client-Cert"}}},
		{"XFCC from a chain of proxies: an earlier element does not", byCert, gw, chainedXFCCReversed, 200, seen{impostorID, "forwarded", []string{"X-Forwarded-Client-Cert"}}},
		{"no cert at all: XFCC stripped", byCert, remote, clientXFCC, 200, seen{"", "", nil}},
		// By address.
		{"trusted address", byAddr, loop, clientCert, 200, seen{clientID, "forwarded", []string{"Client-Cert"}}},
		{"trusted address, IPv4-mapped", byAddr, loopMapped, clientCert, 200, seen{clientID, "forwarded", []string{"Client-Cert"}}},
		{"trusted address, IPv6", byAddr, loop6, clientXFCC, 200, seen{clientID, "forwarded", []string{"X-Forwarded-Client-Cert"}}},
		{"untrusted address", byAddr, remote, clientCert, 200, seen{"", "", nil}},
		{"not a TCP peer", byAddr, unix, clientCert, 200, seen{"", "", nil}},
		// Both: every configured test must pass.
		{"both: cert and address", byBoth, gwLoop, clientCert, 200, seen{clientID, "forwarded", []string{"Client-Cert"}}},
		{"both: right cert, wrong address", byBoth, gw, clientCert, 200, seen{gatewayID, "connection", nil}},
		{"both: right address, no cert", byBoth, loop, clientCert, 200, seen{"", "", nil}},
		// Zero value: trusts no one.
		{"zero value strips even from loopback", forwarded.Trust{}, gwLoop, clientCert, 200, seen{gatewayID, "connection", nil}},
		// Malformed headers: refused from a trusted forwarder, ignored otherwise.
		{"trusted, malformed XFCC: 400", byCert, gw, badXFCC, 400, seen{}},
		{"untrusted, malformed XFCC: stripped", byCert, impostor, badXFCC, 200, seen{impostorID, "connection", nil}},
		{"trusted, malformed Client-Cert: 400", byAddr, loop, badCert, 400, seen{}},
		{"untrusted, malformed Client-Cert: stripped", byAddr, remote, badCert, 200, seen{"", "", nil}},
		{"trusted, chain without cert: 400", byCert, gw, chainOnly, 400, seen{}},
		// Both formats at once.
		{"both formats agree", byCert, gw, agree, 200, seen{clientID, "forwarded", []string{"Client-Cert", "X-Forwarded-Client-Cert"}}},
		{"both formats disagree: 400", byCert, gw, disagree, 400, seen{}},
		{"both formats, XFCC without hash: 400", byCert, gw, noHash, 400, seen{}},
		{"XFCC-only config ignores Client-Cert", xfccOnly, gw, clientCert, 200, seen{"", "", nil}},
		// The forwarder's own identity never stands for the client.
		{"trusted forwarder, no header: anonymous", byCert, gw, nil, 200, seen{"", "", nil}},
		// Spoofed spellings are stripped, from anyone.
		{"untrusted, spoofed variants stripped", byCert, impostor, spoofVariants, 200, seen{impostorID, "connection", nil}},
		{"trusted, spoofed variants stripped and not read", byCert, gw, spoofVariants, 200, seen{"", "", nil}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "https://service.example/", nil)
			tt.peer.apply(r, c.ca.Cert)
			for k, v := range tt.headers {
				r.Header[k] = []string{v} // raw keys: variants stay as sent
			}
			w := httptest.NewRecorder()
			connectionIdentity(tt.mw.Handler(http.HandlerFunc(recordingHandler))).ServeHTTP(w, r)
			if w.Code != tt.wantStatus {
				t.Fatalf("status: got %d, want %d (body %s)", w.Code, tt.wantStatus, w.Body)
			}
			if tt.wantStatus != 200 {
				if !strings.Contains(w.Body.String(), string(forwarded.ReasonInvalid)) {
					t.Errorf("body: got %q, want the reason %q", w.Body, forwarded.ReasonInvalid)
				}
				for _, v := range tt.headers {
					if strings.Contains(w.Body.String(), v) {
						t.Errorf("body echoes the header value: %s", w.Body)
					}
				}
				return
			}
			var got seen
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if got.Identity != tt.want.Identity || got.Source != tt.want.Source || strings.Join(got.Headers, ",") != strings.Join(tt.want.Headers, ",") {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestForwardedIdentityNegativeControl shows the attack the middleware
// stops: a backend that reads x-forwarded-client-cert itself believes any
// client that sends one.
func TestForwardedIdentityNegativeControl(t *testing.T) {
	naive := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elems, err := forwarded.ParseXFCC(r.Header.Values(forwarded.HeaderXFCC))
		if err != nil {
			w.Write([]byte("anonymous"))
			return
		}
		w.Write([]byte(elems[len(elems)-1].Identity().String()))
	})
	guarded := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := mtls.IdentityFromContext(r.Context())
		if !ok {
			w.Write([]byte("anonymous"))
			return
		}
		w.Write([]byte(id.String()))
	})
	mw := forwarded.Trust{TrustForwarder: trustSPIFFE(gatewayID)}
	tests := []struct {
		name    string
		handler http.Handler
		want    string
	}{
		{"without the middleware the spoof works", naive, clientID},
		{"with the middleware the spoof is ignored", mw.Handler(guarded), "anonymous"},
		{"with the middleware the naive handler sees no header", mw.Handler(naive), "anonymous"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/transfer", nil)
			r.RemoteAddr = "192.0.2.1:1234"
			r.Header.Set(forwarded.HeaderXFCC, "URI="+clientID)
			w := httptest.NewRecorder()
			tt.handler.ServeHTTP(w, r)
			if got := w.Body.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestForwardedIdentityOnInvalid(t *testing.T) {
	var got error
	mw := forwarded.Trust{
		TrustedPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		OnInvalid:    func(r *http.Request, err error) { got = err },
	}
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("Accept", "application/json")
	r.Header.Set(forwarded.HeaderXFCC, "Hash=xyz")
	w := httptest.NewRecorder()
	mw.Handler(http.HandlerFunc(recordingHandler)).ServeHTTP(w, r)
	if w.Code != 400 {
		t.Fatalf("status: got %d, want 400", w.Code)
	}
	if got == nil || !strings.Contains(got.Error(), `key "Hash": "xyz" is not 64 hexadecimal digits`) {
		t.Errorf("OnInvalid: got %v, want the *Error", got)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body["reason"] != string(forwarded.ReasonInvalid) || body["status"] != float64(400) {
		t.Errorf("got body %v", body)
	}
}

func TestParseTrustedPeers(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr string
	}{
		{"address", "10.0.0.7", "10.0.0.7/32", ""},
		{"IPv6 address", "::1", "::1/128", ""},
		{"prefix", "10.1.0.0/16", "10.1.0.0/16", ""},
		{"IPv4-mapped prefix", "::ffff:10.1.0.0/112", "10.1.0.0/16", ""},
		{"IPv4-mapped address", "::ffff:10.1.2.3", "10.1.2.3/32", ""},
		{"host bits set", "10.1.2.3/16", "", "host bits are set (did you mean 10.1.2.3 or 10.1.0.0/16?)"},
		{"slash zero", "0.0.0.0/0", "", "a /0 prefix would trust every peer"},
		{"IPv6 slash zero", "::/0", "", "a /0 prefix would trust every peer"},
		{"mapped slash 96 is every IPv4 peer", "::ffff:0.0.0.0/96", "", "a /0 prefix"},
		{"zone", "fe80::1%eth0", "", "zones are not allowed"},
		{"garbage", "localhost", "", `invalid trusted peer "localhost": not an IP address or CIDR prefix`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := forwarded.ParseTrustedPeers(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[0].String() != tt.want {
				t.Errorf("got %v, want %v", got[0], tt.want)
			}
		})
	}
}

func TestSetForwardedHeaders(t *testing.T) {
	c := certs(t)
	id := mtls.NewIdentity(c.clientCN.Cert)
	chain := []*x509.Certificate{c.ca.Cert}
	tests := []struct {
		name    string
		id      mtls.Identity
		opts    forwarded.Options
		want    []string
		wantErr string
	}{
		{"default is both", id, forwarded.Options{}, []string{"Client-Cert", "X-Forwarded-Client-Cert"}, ""},
		{"RFC 9440", id, forwarded.Options{Format: forwarded.RFC9440}, []string{"Client-Cert"}, ""},
		{"RFC 9440 with chain", id, forwarded.Options{Format: forwarded.RFC9440, Chain: chain}, []string{"Client-Cert", "Client-Cert-Chain"}, ""},
		{"XFCC", id, forwarded.Options{Format: forwarded.XFCC, By: []string{gatewayID}}, []string{"X-Forwarded-Client-Cert"}, ""},
		{"both", id, forwarded.Options{Format: forwarded.Both, Chain: chain}, []string{"Client-Cert", "Client-Cert-Chain", "X-Forwarded-Client-Cert"}, ""},
		{"RFC 9440 needs a certificate", mtls.Identity{Subject: "CN=x"}, forwarded.Options{Format: forwarded.RFC9440}, nil, "it has no certificate"},
		{"XFCC from fields", mtls.Identity{Subject: "CN=x", DNSNames: []string{"x.example"}}, forwarded.Options{Format: forwarded.XFCC}, []string{"X-Forwarded-Client-Cert"}, ""},
		{"empty identity", mtls.Identity{}, forwarded.Options{Format: forwarded.XFCC}, nil, "it is empty"},
		{"control characters", mtls.Identity{Subject: "CN=a\r\nX-Evil: 1"}, forwarded.Options{Format: forwarded.XFCC}, nil, "control characters"},
		{"unknown format", id, forwarded.Options{Format: 8}, nil, "unknown format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			h["X_forwarded_client_cert"] = []string{"URI=" + impostorID} // client-sent, must go
			h.Set("Client-Cert", forwarded.FormatClientCert(c.impostor.Cert))
			err := forwarded.SetHeaders(h, tt.id, tt.opts)
			var got []string
			for k := range h {
				got = append(got, k)
			}
			sort.Strings(got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
				}
				if len(got) != 0 {
					t.Errorf("after an error: got headers %v, want none (stripped)", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got headers %v, want %v", got, tt.want)
			}
			// What we set, a trusted receiver reads back as the same identity.
			mw := forwarded.Trust{TrustedPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = "127.0.0.1:9"
			r.Header = h
			back, ok, err := mw.Identity(r)
			if err != nil || !ok {
				t.Fatalf("reading back: got ok=%v, error %v", ok, err)
			}
			if back.String() != tt.id.String() || !back.Forwarded || back.CertSHA256 != tt.id.CertSHA256 {
				t.Errorf("read back %q (%v), want %q (forwarded)", back, back.Forwarded, tt.id)
			}
		})
	}
}

// TestSetForwardedHeadersXFCCHash: the XFCC Hash is the certificate's
// SHA-256 whether the Identity carries it (NewIdentity) or was built by
// hand with only its Certificate.
func TestSetForwardedHeadersXFCCHash(t *testing.T) {
	c := certs(t)
	sum := sha256.Sum256(c.clientCN.Cert.Raw)
	want := "Hash=" + hex.EncodeToString(sum[:]) + ";"
	tests := []struct {
		name string
		id   mtls.Identity
	}{
		{"from NewIdentity", mtls.NewIdentity(c.clientCN.Cert)},
		{"built by hand, no CertSHA256", mtls.Identity{Certificate: c.clientCN.Cert, Subject: "CN=x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if err := forwarded.SetHeaders(h, tt.id, forwarded.Options{Format: forwarded.XFCC}); err != nil {
				t.Fatal(err)
			}
			if got := h.Get(forwarded.HeaderXFCC); !strings.HasPrefix(got, want) {
				t.Errorf("got %s, want it to start with %s", got, want)
			}
		})
	}
}

func TestFormatText(t *testing.T) {
	for _, f := range []forwarded.Format{forwarded.RFC9440, forwarded.XFCC, forwarded.Both} {
		b, err := f.MarshalText()
		var got forwarded.Format
		if err == nil {
			err = got.UnmarshalText(b)
		}
		if err != nil || got != f || string(b) != f.String() {
			t.Errorf("%v: got %q, %v, %v; want a round trip", f, b, got, err)
		}
	}
	var f forwarded.Format
	if err := f.UnmarshalText([]byte("envoy")); err == nil || !strings.Contains(err.Error(), `"envoy"`) {
		t.Errorf("got %v, want an error naming \"envoy\"", err)
	}
	if _, err := forwarded.Format(9).MarshalText(); err == nil {
		t.Error("MarshalText(Format(9)): got no error")
	}
}

// BenchmarkForwardedIdentityHandler measures the middleware per request:
// a trusted forwarder's RFC 9440 or XFCC header parsed into the context,
// and an untrusted peer's headers stripped; "none" is the bare handler.
func BenchmarkForwardedIdentityHandler(b *testing.B) {
	c := certs(b)
	mw := forwarded.Trust{TrustedPeers: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	noop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	id := mtls.NewIdentity(c.client.Cert)
	rfc, xfcc := http.Header{}, http.Header{}
	if err := forwarded.SetHeaders(rfc, id, forwarded.Options{}); err != nil {
		b.Fatal(err)
	}
	xfcc.Set(forwarded.HeaderXFCC, "By="+gatewayID+";Hash="+hex.EncodeToString(id.CertSHA256[:])+";URI="+clientID)
	for _, bc := range []struct {
		name    string
		handler http.Handler
		addr    string
		header  http.Header
	}{
		{"none", noop, "127.0.0.1:1", rfc},
		{"trusted-rfc9440", mw.Handler(noop), "127.0.0.1:1", rfc},
		{"trusted-xfcc-fields", mw.Handler(noop), "127.0.0.1:1", xfcc},
		{"untrusted-strip", mw.Handler(noop), "192.0.2.1:1", rfc},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = bc.addr
			var w httptest.ResponseRecorder
			for b.Loop() {
				r.Header = bc.header.Clone()
				r.Header.Set("Accept", "*/*")
				bc.handler.ServeHTTP(&w, r)
			}
		})
	}
}

func BenchmarkStripForwardedHeaders(b *testing.B) {
	h := http.Header{}
	for _, k := range []string{"Accept", "Accept-Encoding", "Accept-Language", "Cookie", "User-Agent", "Sec-Fetch-Site", "Sec-Fetch-Mode", "Origin", "Referer", "Content-Type"} {
		h.Set(k, "x")
	}
	for b.Loop() {
		forwarded.StripHeaders(h)
	}
}
