package gateway

import (
	"fmt"
	"strings"
)

// ConfigError is one problem in a configuration: where it is and what is
// wrong. File and Line are set for configs read by LoadConfig or
// ParseConfig; Key is the dotted path of the key ("routes[1].upstream"),
// empty for problems with the file as a whole.
type ConfigError struct {
	File string // the config file, "" for a Config built in Go
	Line int    // 1-based; 0 when unknown
	Key  string // dotted key path, "" for the file as a whole
	Msg  string // what is wrong, lowercase, user input quoted
}

// Error reads "file:line: key: msg", leaving out what is unknown.
func (e *ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// errNilConfig is what New, Reload and Config.Validate return for a nil
// *Config, rather than panic.
func errNilConfig() error {
	return ConfigErrors{{Msg: "no configuration (a nil *Config): build a Config, or read one with LoadConfig"}}
}

// ConfigErrors is every problem found in one configuration, in file order
// where known. It is the error type of LoadConfig, ParseConfig,
// Config.Validate and New.
type ConfigErrors []*ConfigError

// Error returns every problem, one per line.
func (es ConfigErrors) Error() string {
	msgs := make([]string, len(es))
	for i, e := range es {
		msgs[i] = e.Error()
	}
	return strings.Join(msgs, "\n")
}
