// Package envoy serves forgeproof's decisions to Envoy's external
// authorization filter over gRPC (envoy.service.auth.v3.Authorization,
// ext_authz v3), for Envoy and Istio (CUSTOM authorization).
package envoy
