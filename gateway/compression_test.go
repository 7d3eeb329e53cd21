package gateway_test

import (
	"net/http"
	"slices"
	"testing"
)

// The upstream sees the client's Accept-Encoding as sent: the gateway's
// transport never adds gzip of its own (and then decompresses the answer
// on the client's behalf).
func TestAcceptEncodingPassedThrough(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	r := w.start(w.config())
	c := r.client(w.web)
	c.Transport.(*http.Transport).DisableCompression = true // the test client adds none either
	tests := []struct {
		name   string
		header http.Header
		want   []string
	}{
		{name: "client sends none", header: http.Header{}, want: nil},
		{name: "client sends br", header: http.Header{"Accept-Encoding": {"br"}}, want: []string{"br"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, c, "GET", r.base+"/api/x", tt.header, "")
			if status != http.StatusOK {
				t.Fatalf("got status %d, want 200: %s", status, body)
			}
			got := mustJSON(t, body).Header["Accept-Encoding"]
			if !slices.Equal(got, tt.want) {
				t.Errorf("upstream saw Accept-Encoding %q, want %q", got, tt.want)
			}
		})
	}
}
