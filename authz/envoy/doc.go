// Package envoy is "forgeproof authz" for Envoy and Istio: the external
// authorization gRPC service (envoy.service.auth.v3.Authorization, the
// ext_authz v3 API) answering with a gateway's decisions, the same that
// "forgeproof serve" makes and package authz gives nginx, Caddy and
// Traefik. It is a package of its own so that only programs that serve
// Envoy link gRPC and Envoy's API.
//
//	g, err := gateway.NewFromFile("authz.yaml", gateway.Options{LogTo: os.Stderr}) // authz.proxy: envoy
//	s := envoy.NewServer(g)
//	if err := s.Listen(); err != nil { … } // authz.address; mutual TLS with authz.tls
//	err = s.Serve(ctx)                    // until ctx ends, then drains
//
// # What Envoy sends
//
// Envoy's HTTP ext_authz filter sends, in attributes.request.http, the
// method, the path (with the query), the host, the scheme and the
// client's headers with lower-case names, the pseudo-headers (:method,
// :path, :authority) among them, repeated ones joined with ","; with
// encode_raw_headers, header_map instead of headers. They are the
// request as Envoy will forward it: after its connection manager
// normalized the path (normalize_path, merge_slashes) and set its
// forwarding headers. attributes.source.address is the downstream
// connection's peer (Envoy's TCP peer, or the PROXY protocol source),
// not an address read from X-Forwarded-For. With
// include_peer_certificate: true, attributes.source.certificate holds
// the client certificate Envoy verified, URL-encoded PEM, the leaf
// alone; it is empty without one or when TLS ended before this Envoy.
// Check reads nothing else: no body (with_request_body should be off),
// no metadata.
//
// # What it answers
//
// Every answer is a CheckResponse, never a gRPC error, so that Envoy
// relays forgeproof's status and problem document rather than its own:
// OK with headers to set and to remove, or Denied with the status, the
// problem document and a forgeproof-reason header (see Server.Check).
// A header name forgeproof sets is never in headers_to_remove: Envoy's
// filter (in the source read) sets first and removes after, which would
// delete the identity; setting with OVERWRITE_IF_EXISTS_OR_ADD replaces
// the client's copy whatever the order. The identity header names it
// does not set are always in headers_to_remove, whether or not the
// question showed them (allowed_headers may have left them out).
//
// docs/integrations/envoy.md has a working Envoy configuration, the Istio
// CUSTOM provider, and what was and was not run against a live Envoy.
package envoy
