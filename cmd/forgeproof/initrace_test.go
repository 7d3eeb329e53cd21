package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestInitKeepsConfigWrittenMeanwhile: a forgeproof.yaml that another
// process writes after init checked for one (a second init, an editor) is
// left as it is, and init fails saying so; before, init's rename replaced
// it. The twin: with nothing written meanwhile, init writes its own.
//
// It sets the package-level testHookBeforeConfigWrite, which every init
// run reads: it must not call t.Parallel (a parallel test running init
// would race with the assignment, and call this test's hook), and it puts
// the hook back at cleanup, even when it stops early.
func TestInitKeepsConfigWrittenMeanwhile(t *testing.T) {
	orig := testHookBeforeConfigWrite
	t.Cleanup(func() { testHookBeforeConfigWrite = orig })
	for _, meanwhile := range []bool{true, false} {
		dir := t.TempDir()
		cfg := filepath.Join(dir, "forgeproof.yaml")
		testHookBeforeConfigWrite = func(path string) {
			if path != cfg {
				t.Errorf("hook called for %s, want %s", path, cfg)
			}
			if meanwhile {
				if err := os.WriteFile(path, []byte("# theirs\n"), 0o644); err != nil {
					t.Error(err)
				}
			}
		}
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"init", "--upstream", "http://127.0.0.1:8080", "--dir", dir}, &stdout, &stderr)
		testHookBeforeConfigWrite = orig
		b, err := os.ReadFile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if meanwhile {
			if code == 0 {
				t.Errorf("init over a config written meanwhile: exit 0, want a failure")
			}
			if !strings.Contains(stderr.String(), "appeared while init ran") {
				t.Errorf("stderr = %q, want it to say forgeproof.yaml appeared", stderr.String())
			}
			if string(b) != "# theirs\n" {
				t.Errorf("the config written meanwhile was replaced by init's")
			}
			// The failed run removes the keys it created, so a rerun
			// after the other writer is done is not refused for them.
			if _, err := os.Lstat(filepath.Join(dir, "pki", "ca-key.pem")); err == nil {
				t.Errorf("the failed init left pki/ca-key.pem")
			}
			continue
		}
		if code != 0 {
			t.Fatalf("init: exit %d: %s", code, stderr.String())
		}
		if !strings.Contains(string(b), "upstream") {
			t.Errorf("init's config not written: %q", b)
		}
	}
}
