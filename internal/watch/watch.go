// Package watch tells when the contents, or permission bits, of files
// change. It is the one file watcher of mtls and the gateway: both reload
// certificates, keys, CAs, CRLs and configuration with it.
//
// A [Watcher] watches the folders of its files with file events
// (fsnotify), so that files replaced by rename (atomic writes) and the
// "..data" symlink swap of Kubernetes secret and config-map volumes are
// seen, and waits for a burst of events to settle before it reads the
// files. It also reads them every [Options.Interval] (polling), which
// catches what events miss (network filesystems, folders that could not
// be watched) and stands in for events where none are available; a
// change a poll finds is read again after the settle time and reported
// only when both reads agree, since no event tells a poll that a write is
// still under way. It
// compares the files by their permission bits and content (SHA-256): a
// chmod is a change (loaders refuse a key others may read), a touch or a
// write of the same bytes is not. The files are read in full at each look;
// they are certificates and configuration, not logs. When the caller
// refuses what it read, the Watcher asks again at each look until it
// accepts, so a refusal that time lifts (a certificate not valid yet) is
// not final.
package watch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/forgeproof/forgeproof/internal/regfile"
	"github.com/fsnotify/fsnotify"
)

// DefaultSettle is how long a Watcher waits after the last file event
// before it reads the files, unless told otherwise: long enough that a
// certificate and its key written one after the other are read together.
const DefaultSettle = 200 * time.Millisecond

// FallbackInterval is how often a Watcher polls when file events are
// unavailable and Options.Interval is zero: without events, polling is the
// only way to see a change.
const FallbackInterval = 10 * time.Second

// Sum is the SHA-256 of a file's permission bits and contents, zero when
// it cannot be read.
type Sum [sha256.Size]byte

// Sums maps absolute file names to their hashes (Sum).
type Sums map[string]Sum

// HashFiles reads and hashes files, keyed by absolute name. A loader calls
// it just before it reads the files, and hands the result to the Watcher
// through Options.Baseline, so that a change made between the load and
// the Watcher's first look at a file is seen.
func HashFiles(files []string) Sums {
	s := Sums{}
	for _, f := range files {
		f = Abs(f)
		s[f] = HashFile(f)
	}
	return s
}

// HashFile returns the SHA-256 of a file's permission bits and contents,
// or zero when it cannot be read (missing, say): a file that comes back
// differs. The permission bits count because loaders check them (a key
// others may read is refused): a chmod alone must reach the loader too,
// or a file made readable goes on being used, unreported, until some
// other change reloads it and the loader refuses the lot.
func HashFile(path string) Sum {
	var sum Sum
	// regfile: hashing a named pipe or /dev/zero must not hang the
	// reload that asked.
	f, err := regfile.Open(path)
	if err != nil {
		return sum
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return sum
	}
	h := sha256.New()
	writePerm(h, fi.Mode())
	if _, err := io.Copy(h, f); err != nil {
		return sum
	}
	h.Sum(sum[:0])
	return sum
}

// SumOf is HashFile for a loader that has read path's contents as data:
// the sum of data with path's permission bits as they are now (a chmod
// between the read and this look costs one more reload, no more). Zero
// when data is nil.
func SumOf(path string, data []byte) Sum {
	var sum Sum
	if data == nil {
		return sum
	}
	h := sha256.New()
	var mode fs.FileMode
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode()
	}
	writePerm(h, mode)
	h.Write(data)
	h.Sum(sum[:0])
	return sum
}

// writePerm puts a file's permission bits first in its sum.
func writePerm(h io.Writer, mode fs.FileMode) {
	perm := mode.Perm()
	h.Write([]byte{byte(perm >> 8), byte(perm)})
}

// Abs makes path absolute and clean, as file events name files; it is
// left alone in the odd case that the working folder cannot be found.
func Abs(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// Change is what a Watcher reports to its callback.
type Change struct {
	// Trigger is what led to the look: "file" (file events), "poll" (the
	// interval), a value received from Options.Trigger, or "retry": no
	// file changed, but the callback refused the last change.
	Trigger string
	// Changed lists the files whose contents or permission bits differ
	// from the last look,
	// sorted; empty for a Trigger value, or a retry, when nothing changed.
	Changed []string
}

// Options configure a Watcher. Only Files is required.
type Options struct {
	// Files returns the files to watch. The Watcher calls it at the start
	// and after every look, so the list may change (a configuration that
	// names new files). Relative names are made absolute at once.
	Files func() []string
	// Baseline, when not nil, returns the files' hashes as the caller last
	// loaded them (HashFiles, taken just before it read them). The Watcher
	// asks for it whenever it starts watching a file: at the start, and
	// when the list grows after a look (a reload that named a new file).
	// Such a file starts from its Baseline hash, so a change made between
	// the load and that moment is seen: at the start after the settle
	// time when watching events (none is coming for it), at the next poll
	// otherwise. Files missing from it are hashed when first watched.
	Baseline func() Sums
	// Interval is how often every file is read and hashed again; a
	// change found so is reported after Settle, once a second read
	// agrees. Zero
	// disables polling, but means FallbackInterval when file events are
	// unavailable. It must not be negative.
	Interval time.Duration
	// Settle is how long to wait after the last file event before
	// reading the files; zero means DefaultSettle.
	Settle time.Duration
	// NoEvents turns file events off: the Watcher then looks only every
	// Interval (never when it is zero) and for Trigger values.
	NoEvents bool
	// Trigger, when not nil, makes the Watcher call the callback for
	// every value received, whether or not a file changed, with the value
	// as Change.Trigger.
	Trigger <-chan string
	// OnError, when not nil, receives the problems that do not stop the
	// watch: file events unavailable (the Watcher polls instead), a folder
	// that cannot be watched (its files are still polled), errors from
	// the event source (after an overflow of the event queue, the
	// Watcher looks as after an event). It is called from the Watcher's
	// goroutine.
	OnError func(error)
	// OnLook, when not nil, is called after every look at the files,
	// with what it found (nothing changed when Changed is empty), after
	// the callback if any. Tests wait on it instead of sleeping.
	OnLook func(Change)
	// Tick, when not nil, replaces the Interval's ticker: every value
	// received is a poll. Tests drive polling with it.
	Tick <-chan time.Time
}

// A Watcher watches files; see the package doc. Create it with New, run
// it with Run.
type Watcher struct {
	opts  Options
	ready chan struct{}
	// newEvents creates the file event source; tests replace it to see
	// the fallback to polling.
	newEvents func() (*fsnotify.Watcher, error)

	fs    *fsnotify.Watcher // nil when file events are off or unavailable
	sums  Sums              // the files' hashes as last seen
	names map[string]bool   // the files and their symlink targets, to filter events
	dirs  map[string]bool   // folders given to fs: false when that failed (reported once)
	// refused is set when the callback returned an error: the next look
	// calls it again even if no file changed (a retry).
	refused bool
}

// New returns a Watcher; it does nothing until Run.
func New(opts Options) (*Watcher, error) {
	if opts.Files == nil {
		return nil, errors.New("watch: Options.Files is required")
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("watch: the interval must not be negative, got %v", opts.Interval)
	}
	if opts.Settle <= 0 {
		opts.Settle = DefaultSettle
	}
	return &Watcher{opts: opts, ready: make(chan struct{}), newEvents: fsnotify.NewWatcher, dirs: map[string]bool{}}, nil
}

// Ready is closed once Run watches: its folders are registered for file
// events and the files hashed, so any later change is seen.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Run watches until ctx ends and returns ctx.Err(). It calls onChange,
// from its own goroutine, when a file changed (contents or permission
// bits; after a
// file event settled, or at a poll) and for every Options.Trigger value.
// When onChange returns an error (it refused the files and keeps what it
// had), every later look calls it again, with Trigger "retry" when no
// file changed, until it returns nil: at each poll, so with Interval zero
// and file events working only a file event or a Trigger value retries.
// Run it once.
func (w *Watcher) Run(ctx context.Context, onChange func(Change) error) error {
	var events <-chan fsnotify.Event
	var errs <-chan error
	interval := w.opts.Interval
	if !w.opts.NoEvents {
		fs, err := w.newEvents()
		if err != nil {
			// Fail open to polling: the files loaded keep serving either
			// way, and polling still sees every change, later.
			w.report(fmt.Errorf("watch: file events unavailable, polling instead: %w", err))
			if interval == 0 {
				interval = FallbackInterval
			}
		} else {
			defer fs.Close()
			w.fs, events, errs = fs, fs.Events, fs.Errors
		}
	}
	w.refresh(nil)
	close(w.ready)

	tick := w.opts.Tick
	if tick == nil && interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	pending := time.NewTimer(w.opts.Settle)
	pending.Stop()
	defer pending.Stop()
	// A change made since the baseline was taken gets no event: when
	// watching events, look after the settle time as for one, so that a
	// rotation under way now is read once it is done, not half-written
	// (its later writes do send events, which push the look back).
	// Without events, the first poll sees it.
	if w.fs != nil && w.differs(w.hashes()) {
		pending.Reset(w.opts.Settle)
	}
	triggers := w.opts.Trigger
	// polled holds what a poll read when it found a change, until a
	// second read after the settle time agrees: a poll has no events to
	// say that a write is still under way, and a file caught mid-write
	// (an editor or a script writing in place) may read as a shorter
	// configuration that is valid on its own.
	var polled Sums
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
				pending.Reset(w.opts.Settle)
			}
		case err, ok := <-errs:
			if !ok {
				errs = nil
				continue
			}
			w.report(fmt.Errorf("watch: file events: %w", err))
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were dropped: a change may be among them.
				pending.Reset(w.opts.Settle)
			}
		case <-pending.C:
			now := w.hashes()
			if polled == nil {
				w.look(now, "file", false, onChange)
				continue
			}
			if !maps.Equal(now, polled) {
				polled = now // still being written: read again later
				pending.Reset(w.opts.Settle)
				continue
			}
			polled = nil
			w.look(now, "poll", false, onChange)
		case <-tick:
			if polled != nil {
				continue // a change being confirmed: the timer reads again
			}
			now := w.hashes()
			if w.differs(now) {
				polled = now
				pending.Reset(w.opts.Settle)
				continue
			}
			w.look(now, "poll", false, onChange) // quiet, or a retry
		case trigger, ok := <-triggers:
			if !ok {
				triggers = nil
				continue
			}
			w.look(w.hashes(), trigger, true, onChange)
		}
	}
}

// look compares now with the last look, calls onChange when a file changed,
// when forced (a Trigger value) or when it refused the last change (a
// retry), and computes the watch list again.
func (w *Watcher) look(now Sums, trigger string, forced bool, onChange func(Change) error) {
	c := Change{Trigger: trigger}
	for f, sum := range now {
		if w.sums[f] != sum {
			c.Changed = append(c.Changed, f)
		}
	}
	slices.Sort(c.Changed)
	if len(c.Changed) == 0 && !forced && w.refused {
		c.Trigger, forced = "retry", true
	}
	if len(c.Changed) > 0 || forced {
		w.refused = onChange(c) != nil
	}
	// now holds the hashes read before onChange, so that a file changed
	// while it ran differs at the next look.
	w.refresh(now)
	if w.opts.OnLook != nil {
		w.opts.OnLook(c)
	}
}

func (w *Watcher) differs(now Sums) bool {
	for f, sum := range now {
		if w.sums[f] != sum {
			return true
		}
	}
	return false
}

// hashes reads every watched file again.
func (w *Watcher) hashes() Sums {
	out := make(Sums, len(w.sums))
	for f := range w.sums {
		out[f] = HashFile(f)
	}
	return out
}

// refresh computes the watch list again from Options.Files. Files in
// known keep that hash; others take their Baseline hash, or are read now.
func (w *Watcher) refresh(known Sums) {
	sums := Sums{}
	names := map[string]bool{}
	dirs := map[string]bool{}
	var base Sums
	asked := false
	for _, f := range w.opts.Files() {
		if f == "" {
			continue
		}
		f = Abs(f)
		if sum, ok := known[f]; ok {
			sums[f] = sum
		} else {
			// A file new to the watch: the loader may have read it, and
			// it may have changed since (a write right after the reload
			// that named it): start from what the loader read.
			if !asked && w.opts.Baseline != nil {
				base, asked = w.opts.Baseline(), true
			}
			if sum, ok := base[f]; ok {
				sums[f] = sum
			} else {
				sums[f] = HashFile(f)
			}
		}
		names[f] = true
		dirs[filepath.Dir(f)] = true
		// A symlink's target may live elsewhere (a Kubernetes volume's
		// "..data/name" is a symlink to "..2026_12_02…/name").
		if t, err := filepath.EvalSymlinks(f); err == nil && t != f {
			names[t] = true
			dirs[filepath.Dir(t)] = true
		}
		// So may a folder on the way: in a volume whose items are in
		// sub-folders, "tls/tls.crt" is reached through the symlink
		// "tls" -> "..data/tls", and "..data" is swapped in the folder
		// above, which only watching that folder sees.
		for d := filepath.Dir(f); d != filepath.Dir(d); d = filepath.Dir(d) {
			if fi, err := os.Lstat(d); err == nil && fi.Mode()&os.ModeSymlink != 0 {
				dirs[filepath.Dir(d)] = true
			}
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
			w.report(fmt.Errorf("watch: cannot watch folder %s, polling still reads its files: %w", d, err))
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
func (w *Watcher) relevant(name string) bool {
	// "..data" is the symlink Kubernetes swaps to update a secret volume,
	// "..2026_12_02…" the folder it points to.
	return w.names[filepath.Clean(name)] || strings.HasPrefix(filepath.Base(name), "..")
}

func (w *Watcher) report(err error) {
	if w.opts.OnError != nil {
		w.opts.OnError(err)
	}
}
