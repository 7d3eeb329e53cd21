package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseLevel parses a log level: debug, info (the default for ""), warn
// or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown level %q: want debug, info, warn or error", s)
}

// NewLogHandler returns the slog handler a Log configuration asks for,
// writing to w. The config must have been validated.
func NewLogHandler(w io.Writer, l Log) slog.Handler {
	level, _ := ParseLevel(l.Level) // validated by compile
	opts := &slog.HandlerOptions{Level: level}
	if l.Format == "text" {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}
