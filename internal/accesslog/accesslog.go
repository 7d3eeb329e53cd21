// Package accesslog reads the forgeproof gateway's access-log records
// back from slog: the records with the message "request" that
// gateway.Gateway writes for every request it answers. The demo's
// attacker pages and the browser test harness use it to tell what the
// gateway answered.
package accesslog

import "log/slog"

// Message is the message of every access-log record.
const Message = "request"

// Record is one access-log record of the forgeproof gateway: the request
// as the gateway saw it and what it decided.
type Record struct {
	Method, Path string
	Status       int
	// Decision is "allow", "deny" or "report-only"; Reason the stable
	// reason code of a refusal ("cross-site", "token-missing", …; "" when
	// allowed).
	Decision, Reason string
	// Identity names the verified client certificate (its SPIFFE ID or
	// subject), "" when none was presented.
	Identity string
	// Host is the request's Host (HTTP/2: :authority); Proto its
	// protocol ("HTTP/1.1", "HTTP/2.0"); ServerName the TLS server name
	// (SNI) of the connection it came on, and Peer that connection's
	// client address: together they tell which connection carried it.
	Host, Proto, ServerName, Peer string
}

// Parse returns r as a Record, and false when r is not an access-log
// record. Attributes it does not know are ignored.
func Parse(r slog.Record) (Record, bool) {
	if r.Message != Message {
		return Record{}, false
	}
	var x Record
	r.Attrs(func(at slog.Attr) bool {
		v := at.Value.Resolve()
		switch at.Key {
		case "method":
			x.Method = v.String()
		case "path":
			x.Path = v.String()
		case "status":
			x.Status = int(v.Int64())
		case "decision":
			x.Decision = v.String()
		case "reason":
			x.Reason = v.String()
		case "identity":
			x.Identity = v.String()
		case "host":
			x.Host = v.String()
		case "proto":
			x.Proto = v.String()
		case "server_name":
			x.ServerName = v.String()
		case "peer":
			x.Peer = v.String()
		}
		return true
	})
	return x, true
}
