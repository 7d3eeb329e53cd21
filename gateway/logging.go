package gateway

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// LogFormat is Log.Format. It reads and writes itself as "json" or
// "text".
type LogFormat int

// Values of Log.Format.
const (
	LogJSON LogFormat = iota // the zero value
	LogText
)

var logFormats = [...]string{"json", "text"}

// MarshalText returns f's name; it fails for a value that is none of
// the constants.
func (f LogFormat) MarshalText() ([]byte, error) {
	return enumText(logFormats[:], f, "format")
}

// UnmarshalText sets f from its name.
func (f *LogFormat) UnmarshalText(text []byte) error {
	if i := enumIndex(logFormats[:], string(text)); i >= 0 {
		*f = LogFormat(i)
		return nil
	}
	return fmt.Errorf("unknown format %q: want json or text", text)
}

// LogLevel is Log.Level, a slog.Level: slog.LevelDebug, slog.LevelInfo
// (the zero value), slog.LevelWarn or slog.LevelError. It reads itself
// from "debug", "info", "warn" (or "warning") or "error", in any case,
// and writes itself in lower case.
type LogLevel slog.Level

// MarshalText returns l's name; it fails for a level that is none of the
// four.
func (l LogLevel) MarshalText() ([]byte, error) {
	switch slog.Level(l) {
	case slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError:
		return []byte(strings.ToLower(slog.Level(l).String())), nil
	}
	return nil, fmt.Errorf("invalid level %d", int(l))
}

// UnmarshalText sets l from its name.
func (l *LogLevel) UnmarshalText(text []byte) error {
	switch strings.ToLower(string(text)) {
	case "debug":
		*l = LogLevel(slog.LevelDebug)
	case "info":
		*l = LogLevel(slog.LevelInfo)
	case "warn", "warning":
		*l = LogLevel(slog.LevelWarn)
	case "error":
		*l = LogLevel(slog.LevelError)
	default:
		return fmt.Errorf("unknown level %q: want debug, info, warn or error", text)
	}
	return nil
}

// NewLogHandler returns the slog handler a Log configuration asks for,
// writing to w. The config must have been validated.
func NewLogHandler(w io.Writer, l Log) slog.Handler {
	opts := &slog.HandlerOptions{Level: slog.Level(l.Level)}
	if l.Format == LogText {
		return slog.NewTextHandler(w, opts)
	}
	return slog.NewJSONHandler(w, opts)
}
