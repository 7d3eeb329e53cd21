// Package forgeproof is the root of the forgeproof module. The code lives in
// its sub-packages: csrf (cross-site request forgery protection), mtls
// (client-certificate identity, authorization, revocation and reload) and
// pki (a development PKI), with the gateway, scanner and demo behind the
// forgeproof command in cmd/forgeproof.
package forgeproof
