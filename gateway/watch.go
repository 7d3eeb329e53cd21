package gateway

import (
	"context"
	"errors"
	"maps"
	"time"

	"github.com/forgeproof/forgeproof/internal/watch"
)

// DefaultWatchInterval is the polling interval forgeproof serve uses
// unless told otherwise.
const DefaultWatchInterval = time.Minute

// settle is how long WatchFile waits after the last file event before it
// looks at the files, so that a certificate and its key written one after
// the other are read together. A pair caught half-written is refused by
// the reload (the key does not match the certificate) and the write of
// the other half triggers the next one.
const settle = 500 * time.Millisecond

// WatchOptions tune Gateway.WatchFile. The zero value watches for file
// events only.
type WatchOptions struct {
	// Interval is how often every watched file is read again and hashed;
	// the gateway reloads when any of them changed (read again after the
	// settle time, so a file caught mid-write is not loaded half-written),
	// or when the last reload was refused (a retry). It catches what file
	// events miss (network filesystems, some symlink swaps). Zero
	// disables polling, and with it the retries, unless file events are
	// unavailable (see WatchFile); DefaultWatchInterval is a sound value.
	// A negative Interval is an error.
	Interval time.Duration
	// NoEvents turns file events off: WatchFile then reloads on the
	// Interval poll (never, when Interval is zero) and on Reload only.
	NoEvents bool
	// Reload, when not nil, reloads at once for every value received,
	// whether or not a file changed; the value names the trigger in the
	// log line. forgeproof serve sends "SIGHUP" here, so that every
	// reload goes through one loop and the watch list follows it.
	Reload <-chan string
}

// WatchFile reloads the gateway from the config file at path (as
// ReloadFile does) when that file or any file its configuration names
// (Config.Files: certificates, keys, CAs, CRLs, the token key ring)
// changes, until ctx ends; it returns ctx.Err(), or an error at once
// for a negative Interval. Call it once the gateway
// is built from path (NewFromFile), in its own goroutine.
//
// It watches the folders of those files, so files replaced by rename
// (atomic writes, Kubernetes secret volumes that swap a "..data"
// symlink) and symlinks whose target changes are seen; it then waits for
// the writes to settle and reloads only if the contents of a file
// changed (by SHA-256). Each reload validates first and keeps the old
// configuration serving on any error, and a refused reload is tried
// again at every Interval poll until one succeeds, so that a refusal
// that time lifts (a certificate not valid yet) is not final; each
// attempt is logged once with its trigger ("file" or "poll", with the
// changed files, "retry", or a Reload value) and counted like every
// reload. After each attempt the watch list is computed again, from the
// running configuration and from the file at path if it parses, so a
// config that names new files is followed even when it was refused.
//
// When file events are unavailable (the system's watch limit is reached,
// say), WatchFile logs a warning and polls instead: every Interval, or
// every 10 seconds when Interval is zero.
func (g *Gateway) WatchFile(ctx context.Context, path string, opts WatchOptions) error {
	w, onChange, err := g.watcher(path, opts, nil)
	if err != nil {
		return err
	}
	return w.Run(ctx, onChange)
}

// watcher builds WatchFile's watcher and what it calls on a change; tune,
// when not nil, adjusts the watcher's options (tests).
func (g *Gateway) watcher(path string, opts WatchOptions, tune func(*watch.Options)) (*watch.Watcher, func(watch.Change) error, error) {
	if opts.Interval < 0 {
		return nil, nil, errors.New("gateway: watch: the interval must not be negative")
	}
	wo := watch.Options{
		Files: func() []string { return g.watchList(path) },
		// A file starts from its hash as it was loaded, so a change made
		// since then is seen: before the watch started, or right after
		// the reload that named the file.
		Baseline: func() watch.Sums {
			g.reloadMu.Lock()
			defer g.reloadMu.Unlock()
			return maps.Clone(g.loaded)
		},
		Interval: opts.Interval,
		Settle:   settle,
		NoEvents: opts.NoEvents,
		Trigger:  opts.Reload,
		// Events unavailable or a folder that cannot be watched: the
		// watcher polls instead, and the gateway serves with the files
		// it loaded either way.
		OnError: func(err error) { g.log.Warn(err.Error()) },
	}
	if tune != nil {
		tune(&wo)
	}
	w, err := watch.New(wo)
	if err != nil {
		return nil, nil, err
	}
	return w, func(c watch.Change) error {
		attrs := []any{"trigger", c.Trigger}
		if c.Trigger == "file" || c.Trigger == "poll" {
			attrs = append(attrs, "changed", c.Changed)
		}
		return g.reloadFile(path, attrs) // logs and counts its outcome
	}, nil
}

// watchList is what WatchFile watches: the config file, the files of the
// running configuration and those of the config file as it is now (it
// may name files that a refused config needs).
func (g *Gateway) watchList(path string) []string {
	files := append([]string{path}, g.state.Load().cfg.Files()...)
	if cfg, err := readConfig(path); err == nil {
		files = append(files, cfg.Files()...)
	}
	return files
}
