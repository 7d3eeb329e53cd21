package main

import "github.com/rogpeppe/go-internal/testscript"

// scriptCommands are the custom commands the scripts may use, beyond the
// forgeproof command itself.
func scriptCommands() map[string]func(ts *testscript.TestScript, neg bool, args []string) {
	return map[string]func(ts *testscript.TestScript, neg bool, args []string){}
}
