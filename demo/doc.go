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
// can really be made to send (see Attacks). The pages record nothing: the
// bank's balances and login counts (Bank.Balances, Bank.Logins, and
// GET /api/accounts) are the oracle.
//
// Nothing here is meant for production: the bank's accounts live in
// memory and every demo password is Password.
package demo
