package gateway

import (
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
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
	// the gateway reloads when any of them changed. It catches what file
	// events miss (network filesystems, some symlink swaps). Zero disables
	// polling; DefaultWatchInterval is a sound value.
	Interval time.Duration
	// NoEvents turns file events off: WatchFile then reloads on the
	// Interval poll and on Reload only.
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
// configuration serving on any error; each attempt is logged once with
// its trigger ("file" or "poll", with the changed files, or a Reload
// value) and counted like every reload. After each attempt the watch
// list is computed again, from the running configuration and from the
// file at path if it parses, so a config that names new files is
// followed even when it was refused.
//
// When file events are unavailable (the system's watch limit is reached,
// say), WatchFile logs an error and keeps polling and serving Reload.
func (g *Gateway) WatchFile(ctx context.Context, path string, opts WatchOptions) error {
	if opts.Interval < 0 {
		return errors.New("gateway: watch: the interval must not be negative")
	}
	w := &watcher{g: g, path: path, dirs: map[string]bool{}}
	var events <-chan fsnotify.Event
	var errs <-chan error
	if !opts.NoEvents {
		fw, err := fsnotify.NewWatcher()
		if err != nil {
			// Fail open to polling: the gateway serves with the files it
			// loaded either way, and a restart would not fix the limit.
			g.log.Error("watch: file events unavailable; reloading on poll and on request only", "error", err)
		} else {
			defer fw.Close()
			w.fs, events, errs = fw, fw.Events, fw.Errors
		}
	}
	// Start from the files as they were loaded, so a change made since
	// then is seen: at once when watching events (none is coming for
	// it), at the first poll otherwise.
	g.reloadMu.Lock()
	loaded := maps.Clone(g.loaded)
	g.reloadMu.Unlock()
	w.refresh(loaded)
	if w.fs != nil {
		w.check("file")
	}

	var tick <-chan time.Time
	if opts.Interval > 0 {
		t := time.NewTicker(opts.Interval)
		defer t.Stop()
		tick = t.C
	}
	pending := time.NewTimer(settle)
	pending.Stop()
	defer pending.Stop()
	requests := opts.Reload
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev, ok := <-events:
			if !ok {
				events = nil
				continue
			}
			if w.relevant(ev.Name) {
				pending.Reset(settle)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			g.log.Warn("watch: file events", "error", err)
		case <-pending.C:
			w.check("file")
		case <-tick:
			w.check("poll")
		case trigger, ok := <-requests:
			if !ok {
				requests = nil
				continue
			}
			w.reload(w.hashes(), "trigger", trigger)
		}
	}
}

// A watcher is the state of one WatchFile loop.
type watcher struct {
	g    *Gateway
	path string
	fs   *fsnotify.Watcher // nil when file events are off
	// sums holds the contents' hash of every watched file as last seen
	// (zero when it could not be read).
	sums fileSums
	// names are the watched files and their symlink targets, to filter
	// events.
	names map[string]bool
	// dirs are the folders given to fs: false when that failed (logged
	// once, retried at each refresh).
	dirs map[string]bool
	// state is the running configuration the list was made from.
	state *compiled
}

// check reloads when a watched file's contents changed since last seen.
func (w *watcher) check(trigger string) {
	now := w.hashes()
	var changed []string
	for f, sum := range now {
		if w.sums[f] != sum {
			changed = append(changed, f)
		}
	}
	if len(changed) == 0 {
		// A touch, a chmod, a write of the same bytes, or an event for
		// another file: nothing to load. The list changes only if someone
		// reloaded another way (Reload, ReloadFile).
		if w.g.state.Load() != w.state {
			w.refresh(now)
		}
		return
	}
	slices.Sort(changed)
	w.reload(now, "trigger", trigger, "changed", changed)
}

// reload reloads the config file and refreshes the watch list. before
// holds the files' hashes as read before the reload, so that a file
// changed during it differs at the next check.
func (w *watcher) reload(before fileSums, attrs ...any) {
	w.g.reloadFile(w.path, attrs) // logs and counts its outcome
	w.refresh(before)
}

// hashes reads every watched file again.
func (w *watcher) hashes() fileSums {
	out := make(fileSums, len(w.sums))
	for f := range w.sums {
		out[f] = hashFile(f)
	}
	return out
}

// refresh computes the watch list again: the config file, the files of
// the running configuration and those of the config file as it is now
// (it may name files the refused config needs). Files in known keep that
// hash; others are read now.
func (w *watcher) refresh(known fileSums) {
	w.state = w.g.state.Load()
	files := []string{w.path}
	files = append(files, w.state.cfg.Files()...)
	if cfg, err := readConfig(w.path); err == nil {
		files = append(files, cfg.Files()...)
	}
	sums := fileSums{}
	names := map[string]bool{}
	dirs := map[string]bool{}
	for _, f := range files {
		f = absPath(f)
		if sum, ok := known[f]; ok {
			sums[f] = sum
		} else {
			sums[f] = hashFile(f)
		}
		names[f] = true
		dirs[filepath.Dir(f)] = true
		if t, err := filepath.EvalSymlinks(f); err == nil && t != f {
			names[t] = true
			dirs[filepath.Dir(t)] = true
		}
	}
	w.sums, w.names = sums, names
	if w.fs == nil {
		return
	}
	for d := range dirs {
		if w.dirs[d] {
			continue
		}
		_, tried := w.dirs[d]
		err := w.fs.Add(d)
		if err != nil && !tried {
			w.g.log.Warn("watch: cannot watch a folder; polling still reads its files", "folder", d, "error", err)
		}
		w.dirs[d] = err == nil
	}
	for d, added := range w.dirs {
		if !dirs[d] {
			if added {
				w.fs.Remove(d) // fails when the folder is gone, which removed it
			}
			delete(w.dirs, d)
		}
	}
}

// relevant reports whether an event for name may change a watched file.
func (w *watcher) relevant(name string) bool {
	// "..data" is the symlink Kubernetes swaps to update a secret volume,
	// "..2026_11_27…" the folder it points to.
	return w.names[filepath.Clean(name)] || strings.HasPrefix(filepath.Base(name), "..")
}

// fileSums maps absolute file names to the SHA-256 of their contents.
type fileSums map[string][sha256.Size]byte

// hashFiles reads files and hashes them.
func hashFiles(files []string) fileSums {
	s := fileSums{}
	for _, f := range files {
		s.add(f, hashFile(f))
	}
	return s
}

func (s fileSums) add(path string, sum [sha256.Size]byte) { s[absPath(path)] = sum }

// absPath makes path absolute, as events name files; it is left alone
// in the odd case that the working folder cannot be found.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// hashFile returns the SHA-256 of a file's contents, or zero when it
// cannot be read (missing, say): a file that comes back differs.
func hashFile(path string) [sha256.Size]byte {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum
	}
	h.Sum(sum[:0])
	return sum
}
