package wsupgrade_test

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"

	"github.com/forgeproof/forgeproof/internal/wsupgrade"
)

func TestRequested(t *testing.T) {
	tests := []struct {
		name    string
		upgrade []string
		want    bool
	}{
		{"websocket", []string{"websocket"}, true},
		{"any case", []string{"WebSocket"}, true},
		{"among others", []string{"h2c, websocket"}, true},
		{"on a second line", []string{"h2c", " websocket "}, true},
		{"absent", nil, false},
		{"another protocol", []string{"h2c"}, false},
		{"a longer token", []string{"websocketx"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.upgrade != nil {
				h["Upgrade"] = tt.upgrade
			}
			if got := wsupgrade.Requested(h); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzRequested: whatever the Upgrade lines, a request an upstream reads
// as a WebSocket handshake is one for Requested too (else the csrf check
// would take a cross-site handshake for a safe GET): Go's token-list
// reader (golang.org/x/net/http/httpguts, as gorilla/websocket reads it)
// and Node's ws, which lowercases the joined lines.
func FuzzRequested(f *testing.F) {
	for _, s := range []string{"websocket", "WebSocket", "h2c, websocket", " websocket ", "h2c", "websocketx",
		"WebSoc\u212aet", "websocket/13", "\twebsocket,", ",websocket", "web socket"} {
		f.Add(s, "")
	}
	f.Add("h2c", " websocket ")
	f.Fuzz(func(t *testing.T, a, b string) {
		h := http.Header{"Upgrade": {a}}
		if b != "" {
			h["Upgrade"] = append(h["Upgrade"], b)
		}
		got := wsupgrade.Requested(h)
		if httpguts.HeaderValuesContainsToken(h["Upgrade"], "websocket") && !got {
			t.Fatalf("Upgrade %q: httpguts reads websocket, Requested does not", h["Upgrade"])
		}
		if strings.ToLower(strings.Join(h["Upgrade"], ", ")) == "websocket" && !got {
			t.Fatalf("Upgrade %q: lowercased it is websocket, Requested says no", h["Upgrade"])
		}
	})
}
