package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"testing"
)

// TestDefaultPGO: default.pgo, which go build uses for profile-guided
// optimisation (docs/performance.md), is a CPU profile (gzipped
// profile.proto) of the gateway serving keep-alive requests, the path it
// was taken to optimise; a missing, emptied or other profile would build
// a slower binary without any other test noticing.
func TestDefaultPGO(t *testing.T) {
	f, err := os.Open("default.pgo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("default.pgo: %v (want a gzipped profile.proto, as pprof writes)", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("default.pgo: %v", err)
	}
	for _, want := range []string{
		"cpu", "nanoseconds", // the sample type: a CPU profile
		"github.com/forgeproof/forgeproof/gateway.(*h1Conn).serve",
		"github.com/forgeproof/forgeproof/gateway.(*directProxy).serveDirect",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("default.pgo does not name %q", want)
		}
	}
}
