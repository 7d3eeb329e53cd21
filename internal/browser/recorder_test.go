package browser_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestRecorder checks what the Recorder keeps, over a real mTLS
// connection, with and without a client certificate.
func TestRecorder(t *testing.T) {
	ca := pkitest.CA(t)
	client := pkitest.Client(t, ca, pki.ClientOptions{CommonName: "alice"})
	rec := browser.NewRecorder(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, "ok") // implicit 200
	}))
	port := serve(t, "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{pkitest.Server(t, ca).TLSCertificate()},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    ca.Pool(),
	}, rec)
	url := fmt.Sprintf("https://localhost:%d/transfer?x=1", port)

	tests := []struct {
		name   string
		method string
		cert   bool
		header map[string]string
		want   browser.Request
	}{
		{
			name: "browser-like POST with certificate", method: "POST", cert: true,
			header: map[string]string{
				"Origin": "http://127.0.0.2:1", "Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate",
				"Sec-Fetch-Dest": "document", "Cookie": "sid=secret; csrf=t", "Content-Type": "text/plain",
			},
			want: browser.Request{
				Method: "POST", Path: "/transfer?x=1", Origin: "http://127.0.0.2:1", HasOrigin: true,
				SecFetchSite: "cross-site", SecFetchMode: "navigate", SecFetchDest: "document",
				ContentType: "text/plain", Cookies: []string{"sid", "csrf"}, CertCN: "alice", Status: 403,
			},
		},
		{
			name: "bare GET without certificate", method: "GET",
			want: browser.Request{Method: "GET", Path: "/transfer?x=1", Status: 200},
		},
		{
			name: "Origin null is present", method: "GET", header: map[string]string{"Origin": "null"},
			want: browser.Request{Method: "GET", Path: "/transfer?x=1", Origin: "null", HasOrigin: true, Status: 200},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &tls.Config{RootCAs: ca.Pool()}
			if tt.cert {
				cfg.Certificates = []tls.Certificate{client.TLSCertificate()}
			}
			c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}}
			defer c.CloseIdleConnections()
			req, err := http.NewRequestWithContext(t.Context(), tt.method, url, strings.NewReader(""))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			mark := rec.Mark()
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			got, err := rec.Wait(waitCtx(t), mark, browser.To(tt.method, "/transfer"))
			if err != nil {
				t.Fatal(err)
			}
			got.Host, got.Referer = "", ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRecorderWait: Wait sees only requests after the mark, and gives up
// when its context ends.
func TestRecorderWait(t *testing.T) {
	rec := browser.NewRecorder(http.NotFoundHandler())
	do := func(method, path string) {
		req, _ := http.NewRequest(method, "http://localhost"+path, nil)
		rec.ServeHTTP(discardWriter{}, req)
	}
	do("POST", "/a")
	mark := rec.Mark()

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := rec.Wait(ctx, mark, browser.To("POST", "/a")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting for a request before the mark: got %v, want %v", err, context.DeadlineExceeded)
	}

	go do("POST", "/a")
	got, err := rec.Wait(waitCtx(t), mark, browser.To("POST", "/a"))
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != http.StatusNotFound {
		t.Errorf("status: got %v, want %v", got.Status, http.StatusNotFound)
	}
	if n := len(rec.Requests()); n != 2 {
		t.Errorf("recorded: got %v, want %v", n, 2)
	}
}

type discardWriter struct{}

func (discardWriter) Header() http.Header         { return http.Header{} }
func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (discardWriter) WriteHeader(int)             {}
