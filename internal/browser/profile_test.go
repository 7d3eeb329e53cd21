package browser_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/forgeproof/forgeproof/internal/browser"
	"github.com/forgeproof/forgeproof/pki"
	"github.com/forgeproof/forgeproof/pki/pkitest"
)

func TestStartRejectsBadProfile(t *testing.T) {
	ca := pkitest.CA(t)
	caPEM := pki.EncodeCertsPEM(ca.Cert)
	tests := []struct {
		name    string
		profile browser.Profile
		want    string // substring of the error
	}{
		{name: "no CA", profile: browser.Profile{}, want: "CACertsPEM is empty"},
		{name: "http origin", profile: browser.Profile{CACertsPEM: caPEM, AutoSelect: []string{"http://localhost:1"}, IssuerCN: "x"}, want: "scheme must be https"},
		{name: "no port", profile: browser.Profile{CACertsPEM: caPEM, AutoSelect: []string{"https://localhost"}, IssuerCN: "x"}, want: "host and port are required"},
		{name: "path", profile: browser.Profile{CACertsPEM: caPEM, AutoSelect: []string{"https://localhost:1/x"}, IssuerCN: "x"}, want: "scheme://host:port only"},
		{name: "no issuer", profile: browser.Profile{CACertsPEM: caPEM, AutoSelect: []string{"https://localhost:1"}}, want: "IssuerCN is required"},
		{name: "client without origins", profile: browser.Profile{CACertsPEM: caPEM, Clients: []browser.Client{{P12: []byte("x"), CommonName: "bob"}}}, want: "Clients[0]: P12, CommonName and Origins are required"},
		{name: "client origin twice", profile: browser.Profile{CACertsPEM: caPEM, AutoSelect: []string{"https://localhost:1"}, IssuerCN: "x", Clients: []browser.Client{{P12: []byte("x"), CommonName: "bob", Origins: []string{"https://localhost:1"}}}}, want: "also in AutoSelect"},
		{name: "client origin with a path", profile: browser.Profile{CACertsPEM: caPEM, Clients: []browser.Client{{P12: []byte("x"), CommonName: "bob", Origins: []string{"https://localhost:1/x"}}}}, want: "scheme://host:port only"},
		{name: "valid profile, no tools", profile: browser.Profile{CACertsPEM: caPEM, AutoSelect: []string{"https://localhost:1"}, IssuerCN: "x"}, want: "Options.Tools is incomplete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := browser.Start(t.Context(), browser.Options{Profile: tt.profile})
			if err == nil {
				b.Close()
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestFindToolsNamesWhatIsMissing(t *testing.T) {
	_, err := browser.FindTools("no-such-browser-forgeproof")
	if !errors.Is(err, browser.ErrMissingTool) {
		t.Fatalf("got %v, want %v", err, browser.ErrMissingTool)
	}
	if want := `browser "no-such-browser-forgeproof"`; !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want it to name %s", err, want)
	}
}
