package gateway_test

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/forgeproof/forgeproof/gateway"
	"github.com/forgeproof/forgeproof/pki"
)

// TestLogInjection sends what a client chooses and the log records (the
// path, Host, SNI, Origin, Sec-Fetch-Site, Referer, a certificate's
// subject) with a newline, a forged "level=ERROR msg=..." field, a quote,
// ESC, DEL, the C1 control CSI (U+009B) and a right-to-left override,
// and a path of 20000 bytes, in both log formats: every record must stay
// one line, with one level field, no control character or bidi override
// raw (slog's JSON handler wrote DEL, C1 and U+202E as they came), and
// the long path cut. The twin request with plain values is logged as
// sent.
func TestLogInjection(t *testing.T) {
	const evil = "a\nlevel=ERROR msg=forged\" x=\x1b[31mred\u009b31m\u202eRTL\x7fdel\\"
	for _, format := range []string{"json", "text"} {
		t.Run(format, func(t *testing.T) {
			w := newWorld(t)
			cert, err := w.ca.IssueClient(pki.ClientOptions{CommonName: evil, OrganizationalUnit: []string{evil}})
			if err != nil {
				t.Fatal(err)
			}
			buf := &logBuffer{}
			var h slog.Handler = slog.NewJSONHandler(buf, nil)
			if format == "text" {
				h = slog.NewTextHandler(buf, nil)
			}
			g, err := gateway.New(w.config(), gateway.Options{Logger: slog.New(h)})
			if err != nil {
				t.Fatal(err)
			}
			srv := startHandler(t, w, g)
			addr := strings.TrimPrefix(srv.base, "https://")
			send := func(sni, req, want string) {
				t.Helper()
				tc := cert.TLSCertificate()
				c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: sni, NextProtos: []string{"http/1.1"},
					GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &tc, nil }})
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				fmt.Fprint(c, req)
				if l, _ := bufio.NewReader(c).ReadString('\n'); !strings.HasPrefix(l, want) {
					t.Fatalf("answer %q, want %q", l, want)
				}
			}
			send("localhost", "GET /nocsrf/plain-twin HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 200")
			send("localhost", "GET /nocsrf/%0Alevel=ERROR%20msg=forged%1b[31m%7f%c2%9b%e2%80%ae%22%5c HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 200")
			send("localhost", "POST /public/x HTTP/1.1\r\nHost: localhost\r\nOrigin: https://evil\xc2\x9b31m\xe2\x80\xae.example\r\nSec-Fetch-Site: cross-site\xc2\x9b\r\nReferer: https://r\xc2\x9b.example/\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", "HTTP/1.1 403")
			send("localhost", "GET /nocsrf/"+strings.Repeat("A", 20000)+" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 200")
			send("loc\x1balhost\xc2\x9b\xe2\x80\xae", "GET /nocsrf/ HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", "HTTP/1.1 200")
			srv.close()

			out := buf.String()
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			requests := 0
			for _, l := range lines {
				if format == "json" && !strings.HasPrefix(l, `{"time":`) || format == "text" && !strings.HasPrefix(l, "time=") {
					t.Errorf("a line that does not start a record: %q", l)
				}
				if n := strings.Count(l, " level="); format == "text" && n != 1 {
					t.Errorf("%d level fields: %q", n, l)
				}
				if n := strings.Count(l, `"level":`); format == "json" && n != 1 {
					t.Errorf("%d level fields: %q", n, l)
				}
				for _, r := range l {
					if r < 0x20 || r >= 0x7f && r < 0xa0 || r == '\u202e' || r == utf8.RuneError {
						t.Errorf("raw %U in %q", r, l)
					}
				}
				if len(l) > 8192 {
					t.Errorf("a line of %d bytes: a long path is not cut", len(l))
				}
				if strings.Contains(l, "msg=request") || strings.Contains(l, `"msg":"request"`) {
					requests++
				}
			}
			if requests != 5 {
				t.Errorf("%d request lines, want 5:\n%s", requests, out)
			}
			for _, want := range []string{"/nocsrf/plain-twin", "AAAA…", `\x1b[31m`, `\u009b`, `\u202e`} {
				if !strings.Contains(out, want) {
					t.Errorf("no %q in the log:\n%s", want, out)
				}
			}
		})
	}
}
