// Package demo is forgeproof's built-in demonstration: a tiny bank that
// trusts its gateway for CSRF protection, an attacker site whose pages make
// a visiting browser forge requests to it, and Start, which runs both
// behind the forgeproof gateway with a development PKI.
//
// The bank (NewBank) is deliberately naive, like many real applications:
// it acts for the session's user or, when there is no session, for the
// holder of the client certificate; it parses a text/plain body as JSON;
// its session cookie has no SameSite attribute. In front of it the gateway
// refuses every forged browser request; with Options.InsecureNoCSRF the
// gateway's CSRF guard is off and the same forgeries visibly move money,
// which is the negative control the tests and the scanner rely on.
//
// The attacker site (NewAttacker) serves one page per forgery a browser
// can really be made to send (see Attacks). Each page sends its forgery
// from a hidden frame (or fetch, or an image) and stays, showing what it
// sent, whether the guard is on, and, once the gateway has answered, the
// answer (read from the gateway's access log), the balances before and
// after and a verdict (VerdictBlocked, VerdictMoneyMoved, …), which it
// polls from /result on its own site. The bank's balances and login
// counts (Bank.Balances, Bank.Logins, and GET /api/accounts) are the
// oracle.
//
// # Addresses
//
// The bank is served through the gateway on https://localhost:PORT. The
// cross-site attacker is on http://127.0.0.2:PORT (another site: a site is
// a scheme and a registrable domain or IP address), the same-site one on
// https://localhost:OTHERPORT (the same scheme and host, another port:
// the same site, another origin). Everything listens on loopback only.
//
// # Caveats
//
// Nothing here is meant for production. The bank's accounts live in
// memory and every demo password is Password. The bank believes the
// identity header (RFC 9440 Client-Cert) from any loopback peer, so a
// process on the same machine that talks to Running.UpstreamURL directly
// can act for anyone: that is the price of a demo without configuration.
package demo
