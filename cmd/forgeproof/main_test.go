package main

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestMain lets the test binary act as the forgeproof command inside
// scripts: "exec forgeproof …" and "forgeproof …" run main in a child
// process.
func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){"forgeproof": main})
}

// TestScripts runs every testdata/*.txt script. Each subcommand owner adds
// its own scripts there; scriptCommands holds helpers they share.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata",
		Cmds:                scriptCommands(),
		RequireExplicitExec: false,
		Setup: func(env *testscript.Env) error {
			// Keep the user's cache and config out of the scripts.
			env.Setenv("HOME", env.WorkDir+"/home")
			env.Setenv("XDG_CACHE_HOME", env.WorkDir+"/home/.cache")
			// Under -race every exec'd forgeproof would sleep a second
			// before exiting (the race runtime's atexit_sleep_ms, there
			// to let goroutines still running at exit report races),
			// which was most of these scripts' wall time. Races found
			// while the command runs are still reported, and fail it.
			env.Setenv("GORACE", strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
			return os.MkdirAll(env.WorkDir+"/home", 0o700)
		},
	})
}
