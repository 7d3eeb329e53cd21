package demo

import (
	"slices"
	"testing"
	"time"
)

// Certificates and CRLs close to expiry are issued again; the CA is kept.
func TestPreparePKIRenews(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, err := preparePKI(dir, now, false)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		at   time.Time
		want []string
	}{
		{"a day later: nothing", now.Add(24 * time.Hour), nil},
		{"CRL within a day of its next update", now.Add(6*24*time.Hour + time.Hour), []string{"crl.pem"}},
		{"certificates within a day of expiry", now.Add(364*24*time.Hour + time.Hour), []string{"server.pem", "server-key.pem", "client.pem", "client-key.pem", "client.p12", "crl.pem"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := preparePKI(dir, tt.at, false)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(p.created, tt.want) {
				t.Errorf("got created %v, want %v", p.created, tt.want)
			}
			if !p.ca.Cert.Equal(first.ca.Cert) {
				t.Errorf("the CA was replaced")
			}
		})
	}
}
