package wsupgrade_test

import (
	"net/http"
	"testing"

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
