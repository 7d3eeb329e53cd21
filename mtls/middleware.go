package mtls

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/forgeproof/forgeproof/internal/problem"
)

// Guard authorizes each request by the identity in its context (see
// Server.Handler) and refuses with 403 and a problem body carrying
// the denial's reason code. Use one Guard per route or group of routes.
//
// The zero Guard denies every request: set Authorizer. A Guard is safe
// for concurrent use; do not change its fields after the first request.
type Guard struct {
	// Authorizer decides; nil denies everything (deny by default). Use
	// AuthorizeAnyVerified to let any verified client in.
	Authorizer Authorizer

	// CheckHost refuses with 421 Misdirected Request a request that came
	// on a connection with a client certificate and whose Host is not the
	// TLS server name (SNI) of that connection. Browsers reuse HTTP/2
	// connections across host names that share a certificate; without this
	// check a certificate requested for one host authenticates requests to
	// another. A connection without SNI only serves IP-literal hosts.
	CheckHost bool

	// OnDeny, if set, is called for every refused request with the reason
	// code and the error, for logs and metrics.
	OnDeny func(r *http.Request, reason Reason, err error)
}

// Check returns the identity of r and nil if the Guard lets it through,
// else an *Error: ReasonMisdirected (answer 421) or another reason (403).
// With an authorizer's denial it returns the refused identity too, for
// logs; with no identity, the zero Identity.
func (g *Guard) Check(r *http.Request) (Identity, error) {
	if g.CheckHost {
		if err := checkHost(r); err != nil {
			return Identity{}, err
		}
	}
	id, ok := IdentityFromContext(r.Context())
	if !ok {
		return Identity{}, errNoIdentity()
	}
	if err := authorize(g.Authorizer, id); err != nil {
		return id, err
	}
	return id, nil
}

// Handler returns middleware that calls next only for requests that
// Check lets through.
func (g *Guard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, err := g.Check(r)
		if err == nil {
			next.ServeHTTP(w, r)
			return
		}
		reason := ReasonOf(err)
		if reason == ReasonMisdirected {
			if g.OnDeny != nil {
				g.OnDeny(r, reason, err)
			}
			problem.Write(w, r, problem.Details{
				Status: http.StatusMisdirectedRequest,
				Reason: string(reason),
				Title:  "request sent on a connection for another host",
				Detail: "open a new connection to this host",
			})
			return
		}
		if g.OnDeny != nil {
			g.OnDeny(r, reason, err)
		}
		title := "client certificate not allowed here"
		if reason == ReasonNoIdentity {
			title = "client certificate required"
		}
		// The body carries the reason code only: the identity's details
		// stay in the OnDeny hook.
		problem.Write(w, r, problem.Details{Status: http.StatusForbidden, Reason: string(reason), Title: title})
	})
}

func checkHost(r *http.Request) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return nil // no certificate on the connection: nothing it could lend
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	sni := strings.ToLower(strings.TrimSuffix(r.TLS.ServerName, "."))
	if sni == "" {
		if net.ParseIP(host) != nil {
			return nil
		}
	} else if host == sni {
		return nil
	}
	return &Error{Reason: ReasonMisdirected, Detail: "host " + strconv.Quote(r.Host) + " on a connection for server name " + strconv.Quote(r.TLS.ServerName)}
}
