package envoy_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLibrariesDoNotLinkGRPC keeps gRPC and Envoy's API in this package
// and the command: a program that imports csrf, mtls, the gateway or the
// HTTP decision service (package authz) does not link them.
func TestLibrariesDoNotLinkGRPC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	libs := []string{"csrf", "mtls", "mtls/forwarded", "gateway", "authz"}
	args := []string{"list", "-deps", "-f", "{{.ImportPath}}"}
	for _, l := range libs {
		args = append(args, "github.com/forgeproof/forgeproof/"+l)
	}
	out, err := exec.Command("go", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v: %s", err, out)
	}
	for dep := range strings.FieldsSeq(string(out)) {
		for _, banned := range []string{"google.golang.org/grpc", "github.com/envoyproxy/", "istio.io/"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("%v link %s: only authz/envoy and cmd/forgeproof may", libs, dep)
			}
		}
	}
	// The control: this package does link them.
	out, err = exec.Command("go", "list", "-deps", "github.com/forgeproof/forgeproof/authz/envoy").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "google.golang.org/grpc\n") {
		t.Fatalf("go list -deps authz/envoy does not show gRPC (%v): the check above cannot see it either", err)
	}
}
