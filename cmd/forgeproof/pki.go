package main

import (
	"context"
	"errors"
	"io"
)

// runPKI is a placeholder until this subcommand lands; its owner replaces
// this file.
func runPKI(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
