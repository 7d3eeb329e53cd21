// Package wsupgrade says whether a request asks to upgrade to WebSocket,
// so that the csrf check, which gives a WebSocket handshake the origin
// checks of an unsafe request, and the gateway, which forwards only
// handshakes with their Upgrade field, agree on which requests are
// handshakes.
package wsupgrade

import (
	"net/http"
	"strings"
)

// Requested reports whether h's Upgrade field names websocket, in any
// case, on any of its lines and among other protocols.
func Requested(h http.Header) bool {
	for _, s := range h["Upgrade"] { // h.Values("Upgrade")
		for p := range strings.SplitSeq(s, ",") {
			if strings.EqualFold(strings.TrimSpace(p), "websocket") {
				return true
			}
		}
	}
	return false
}
