package main

import (
	"context"
	"errors"
	"io"
)

// runServe is a placeholder until this subcommand lands; its owner replaces
// this file.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("not implemented yet")
}
