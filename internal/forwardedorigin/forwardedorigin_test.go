package forwardedorigin_test

import (
	"net/http"
	"testing"

	"github.com/forgeproof/forgeproof/internal/forwardedorigin"
)

// TestRead: every refused case has an allowed twin next to it. The
// connection's origin is https://app.example.
func TestRead(t *testing.T) {
	const (
		invalid  = forwardedorigin.Invalid
		conflict = forwardedorigin.Conflict
	)
	tests := []struct {
		name    string
		h       http.Header
		want    forwardedorigin.Report
		kind    forwardedorigin.Kind
		header  string
		errText string
	}{
		{name: "none", h: http.Header{}},
		{name: "X-Forwarded only", h: http.Header{"X-Forwarded-Proto": {"HTTPS"}, "X-Forwarded-Host": {"a.example, app.example"}},
			want: forwardedorigin.Report{Proto: "https", Host: "app.example"}},
		{name: "X-Forwarded-Proto unknown", h: http.Header{"X-Forwarded-Proto": {"gopher"}},
			kind: invalid, header: "X-Forwarded-Proto", errText: "proto is neither http nor https"},
		{name: "X-Forwarded-Host empty last value", h: http.Header{"X-Forwarded-Host": {"app.example,"}},
			kind: invalid, header: "X-Forwarded-Host", errText: "empty element"},
		// A browser on the absolute name "https://app.example./" sends
		// Host "app.example.", which a proxy passes on as it is.
		{name: "X-Forwarded-Host with one trailing dot", h: http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example.:8443"}},
			want: forwardedorigin.Report{Proto: "https", Host: "app.example.:8443"}},
		{name: "X-Forwarded-Host with two trailing dots", h: http.Header{"X-Forwarded-Host": {"app.example.."}},
			kind: invalid, header: "X-Forwarded-Host", errText: "host is not a valid host[:port]"},
		{name: "Forwarded host with one trailing dot", h: http.Header{"Forwarded": {"proto=https;host=app.example."}},
			want: forwardedorigin.Report{Proto: "https", Host: "app.example.", Element: "proto=https;host=app.example."}},
		{name: "Forwarded host, an IP address with a trailing dot", h: http.Header{"Forwarded": {"host=192.0.2.1."}},
			kind: invalid, header: "Forwarded", errText: "host is not a valid host[:port]"},
		{name: "Forwarded only", h: http.Header{"Forwarded": {`for=192.0.2.1;proto=https;host="app.example"`}},
			want: forwardedorigin.Report{Proto: "https", Host: "app.example", Element: `for=192.0.2.1;proto=https;host="app.example"`}},
		{name: "Forwarded: the last element of the last line", h: http.Header{"Forwarded": {"host=evil.example", ` host=x.example , for="_a b";proto=http;host=app.example `}},
			want: forwardedorigin.Report{Proto: "http", Host: "app.example", Element: `for="_a b";proto=http;host=app.example`}},
		{name: "Forwarded malformed in an earlier line", h: http.Header{"Forwarded": {`for="x`, "host=app.example"}},
			kind: invalid, header: "Forwarded", errText: "unterminated quoted-string"},
		{name: "agreeing", h: http.Header{"Forwarded": {`proto=https;host="app.example:443"`}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"APP.example"}},
			want: forwardedorigin.Report{Proto: "https", Host: "app.example:443", Element: `proto=https;host="app.example:443"`}},
		{name: "agreeing through the connection", h: http.Header{"Forwarded": {"for=192.0.2.1"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}},
			want: forwardedorigin.Report{Element: "for=192.0.2.1"}},
		{name: "client's host passed on beside the proxy's X-Forwarded-Host", h: http.Header{"Forwarded": {"host=evil.example"}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}},
			kind: conflict, header: "Forwarded", errText: `names another origin than X-Forwarded-Proto and X-Forwarded-Host: Forwarded names "https://evil.example", X-Forwarded-Proto/-Host "https://app.example"`},
		{name: "client's proto beside X-Forwarded-Host alone", h: http.Header{"Forwarded": {"proto=http"}, "X-Forwarded-Host": {"app.example"}},
			kind: conflict, header: "Forwarded", errText: `names another origin than X-Forwarded-Proto and X-Forwarded-Host: Forwarded names "http://app.example", X-Forwarded-Proto/-Host "https://app.example"`},
		{name: "client's host, the connection's X-Forwarded-Proto", h: http.Header{"Forwarded": {"host=evil.example"}, "X-Forwarded-Proto": {"https"}},
			kind: conflict, header: "Forwarded", errText: `names another origin than X-Forwarded-Proto and X-Forwarded-Host: Forwarded names "https://evil.example", X-Forwarded-Proto/-Host "https://app.example"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, e := forwardedorigin.Read(tt.h, "https", "app.example")
			if tt.kind != 0 {
				if e == nil || e.Kind != tt.kind || e.Header != tt.header || e.Err.Error() != tt.errText {
					t.Fatalf("got %+v, %v; want kind %d %s: %s", got, e, tt.kind, tt.header, tt.errText)
				}
				return
			}
			if e != nil || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v", got, e, tt.want)
			}
		})
	}
}

// TestReadAllocs: a trusted proxy's request without Forwarded, and one
// with a Forwarded of tokens and plain quoted-strings, cost no
// allocation.
func TestReadAllocs(t *testing.T) {
	for name, h := range map[string]http.Header{
		"X-Forwarded": {"X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}, "X-Forwarded-For": {"192.0.2.1"}},
		"Forwarded":   {"Forwarded": {`for="[2001:db8::1]:4711";proto=https;host=app.example`}, "X-Forwarded-Proto": {"https"}, "X-Forwarded-Host": {"app.example"}},
	} {
		if n := testing.AllocsPerRun(100, func() {
			if _, e := forwardedorigin.Read(h, "https", "app.example"); e != nil {
				t.Fatal(e)
			}
		}); n != 0 {
			t.Errorf("%s: got %v allocations, want 0", name, n)
		}
	}
}
