package gateway_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/pki/pkitest"
)

// TestUpstreamCertificateExpiryMetric: a route that presents a client
// certificate to its upstream exports that certificate's expiry; a route
// that presents none exports nothing.
func TestUpstreamCertificateExpiryMetric(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	gwCert := pkitest.SPIFFE(t, w.ca, gatewayID)
	gwFile, gwKey := w.save("gateway", gwCert)
	cfg := w.config()
	cfg.Routes[0].Upstream = "https://127.0.0.1:1" // never dialled here
	cfg.Routes[0].UpstreamCAFile = w.path("ca.pem")
	cfg.Routes[0].UpstreamCertFile, cfg.Routes[0].UpstreamKeyFile = gwFile, gwKey
	gw := w.start(cfg)

	_, metrics := do(t, http.DefaultClient, "GET", gw.admin+"/metrics", nil, "")
	// The text format writes values as strconv's 'g' does.
	want := `forgeproof_gateway_upstream_certificate_not_after_timestamp_seconds{route="api"} ` +
		strconv.FormatFloat(float64(gwCert.Cert.NotAfter.Unix()), 'g', -1, 64)
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s; got:\n%s", want, grep(metrics, "upstream_certificate"))
	}
	if strings.Contains(metrics, `forgeproof_gateway_upstream_certificate_not_after_timestamp_seconds{route="admin"}`) {
		t.Error("a route without upstream-cert-file exports an upstream certificate expiry")
	}
}
