package watch

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"
)

// run is a Watcher over the files in list (relative to dir), running
// until the test ends, with a short settle time. It waits until the
// Watcher is ready.
type run struct {
	t       *testing.T
	dir     string
	changes chan Change // what the callback got
	looks   chan Change // every look (OnLook)
	errs    chan error  // OnError
	tick    chan time.Time
	trigger chan string
	mu      sync.Mutex
	list    []string
	refuse  error // what the callback returns (under mu)
}

func newRun(t *testing.T, dir string, files []string, tune func(*Options, *Watcher)) *run {
	t.Helper()
	r := &run{
		t: t, dir: dir,
		changes: make(chan Change, 16), looks: make(chan Change, 64), errs: make(chan error, 16),
		tick: make(chan time.Time), trigger: make(chan string),
	}
	r.setFiles(files...)
	opts := Options{
		Files:   r.files,
		Settle:  10 * time.Millisecond,
		Tick:    r.tick,
		Trigger: r.trigger,
		OnError: func(err error) { r.errs <- err },
		OnLook:  func(c Change) { r.looks <- c },
	}
	w, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if tune != nil {
		tune(&w.opts, w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(c Change) error {
			r.changes <- c
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.refuse
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != context.Canceled {
			t.Errorf("Run: got %v, want %v", err, context.Canceled)
		}
	})
	select {
	case <-w.Ready():
	case err := <-done:
		t.Fatalf("Run returned before it was ready: %v", err)
	}
	return r
}

func (r *run) setFiles(names ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = nil
	for _, n := range names {
		r.list = append(r.list, filepath.Join(r.dir, n))
	}
}

func (r *run) files() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.list
}

func (r *run) path(name string) string { return filepath.Join(r.dir, name) }

// setRefuse makes the callback return err from now on.
func (r *run) setRefuse(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refuse = err
}

// wantChange waits for the callback and checks what it got, then for the
// end of that look (the watch list is computed again after the callback).
func (r *run) wantChange(trigger string, changed ...string) {
	r.t.Helper()
	want := Change{Trigger: trigger}
	for _, n := range changed {
		want.Changed = append(want.Changed, r.path(n))
	}
	select {
	case got := <-r.changes:
		if !reflect.DeepEqual(got, want) {
			r.t.Fatalf("got %+v, want %+v", got, want)
		}
	case <-time.After(10 * time.Second):
		r.t.Fatalf("no change reported within 10s, want %+v", want)
	}
	for {
		select {
		case c := <-r.looks:
			if reflect.DeepEqual(c, want) {
				return
			}
		case <-time.After(10 * time.Second):
			r.t.Fatal("the look did not end within 10s")
		}
	}
}

// wantQuietLook waits for a look that found nothing, and checks that the
// callback was not called.
func (r *run) wantQuietLook() {
	r.t.Helper()
	for {
		select {
		case c := <-r.looks:
			if len(c.Changed) > 0 {
				continue // an earlier look
			}
			select {
			case got := <-r.changes:
				r.t.Fatalf("got a change %+v, want none", got)
			default:
			}
			return
		case <-time.After(10 * time.Second):
			r.t.Fatal("no look within 10s")
		}
	}
}

// poll sends one poll and waits until the Watcher took it.
func (r *run) poll() {
	r.t.Helper()
	select {
	case r.tick <- time.Now():
	case <-time.After(10 * time.Second):
		r.t.Fatal("the watcher took no poll within 10s")
	}
}

func write(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
}

// writeAtomic writes a temporary file and renames it over path.
func writeAtomic(t *testing.T, path, data string) {
	t.Helper()
	write(t, path+".tmp", data)
	if err := os.Rename(path+".tmp", path); err != nil {
		t.Fatal(err)
	}
}

func TestInPlaceWrite(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	write(t, filepath.Join(dir, "key.pem"), "one")
	r := newRun(t, dir, []string{"cert.pem", "key.pem"}, nil)
	write(t, r.path("cert.pem"), "two")
	r.wantChange("file", "cert.pem")
}

func TestRenameOver(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	r := newRun(t, dir, []string{"cert.pem"}, nil)
	writeAtomic(t, r.path("cert.pem"), "two")
	r.wantChange("file", "cert.pem")
}

// TestSameContentsNoChange: a file replaced by the same bytes, or touched,
// is an event but no change; its twin is TestRenameOver.
func TestSameContentsNoChange(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	r := newRun(t, dir, []string{"cert.pem"}, nil)
	writeAtomic(t, r.path("cert.pem"), "one")
	r.wantQuietLook()
	if err := os.Chtimes(r.path("cert.pem"), time.Now(), time.Now()); err != nil {
		t.Fatal(err)
	}
	r.wantQuietLook()
	r.poll()
	r.wantQuietLook()
}

// TestKubernetesSwap updates a volume the way the kubelet does: the files
// are symlinks through "..data", a symlink to a timestamped folder, and an
// update writes a new folder and renames a new "..data" over the old.
func TestKubernetesSwap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	volume := func(stamp, data string) {
		if err := os.Mkdir(filepath.Join(dir, stamp), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, stamp, "tls.crt"), data)
		if err := os.Symlink(stamp, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	volume("..2026_12_02_10_00_00.1", "one")
	if err := os.Symlink(filepath.Join("..data", "tls.crt"), filepath.Join(dir, "tls.crt")); err != nil {
		t.Fatal(err)
	}
	r := newRun(t, dir, []string{"tls.crt"}, nil)
	volume("..2026_12_02_10_01_00.2", "two")
	if err := os.RemoveAll(filepath.Join(dir, "..2026_12_02_10_00_00.1")); err != nil {
		t.Fatal(err)
	}
	r.wantChange("file", "tls.crt")
}

// TestKubernetesSwapNested updates a volume whose item is in a
// sub-folder, as the kubelet lays it out: "tls" is a symlink to
// "..data/tls", so the file's own folder is inside the timestamped one
// and the swap of "..data" happens in the folder above. The swap alone
// is seen, before the old folder is removed (whose removal was the only
// event seen before). Its twin is TestKubernetesSwap, files at the top.
func TestKubernetesSwapNested(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	volume := func(stamp, data string) {
		if err := os.MkdirAll(filepath.Join(dir, stamp, "tls"), 0o700); err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(dir, stamp, "tls", "tls.crt"), data)
		if err := os.Symlink(stamp, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	volume("..2026_12_02_10_00_00.1", "one")
	if err := os.Symlink(filepath.Join("..data", "tls"), filepath.Join(dir, "tls")); err != nil {
		t.Fatal(err)
	}
	r := newRun(t, dir, []string{filepath.Join("tls", "tls.crt")}, nil)
	volume("..2026_12_02_10_01_00.2", "two")
	r.wantChange("file", filepath.Join("tls", "tls.crt"))
	if err := os.RemoveAll(filepath.Join(dir, "..2026_12_02_10_00_00.1")); err != nil {
		t.Fatal(err)
	}
	r.wantQuietLook()
	volume("..2026_12_02_10_02_00.3", "three")
	r.wantChange("file", filepath.Join("tls", "tls.crt"))
}

func TestDeleteAndRecreate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "crl.pem"), "one")
	r := newRun(t, dir, []string{"crl.pem"}, nil)
	if err := os.Remove(r.path("crl.pem")); err != nil {
		t.Fatal(err)
	}
	r.wantChange("file", "crl.pem") // the caller's reload fails and keeps the old state
	write(t, r.path("crl.pem"), "one")
	r.wantChange("file", "crl.pem") // back, even with the same contents
}

// TestNoEventsPolls: with file events unavailable the Watcher reports
// it, and polling sees the change.
func TestNoEventsPolls(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	unavailable := errors.New("too many open files")
	r := newRun(t, dir, []string{"cert.pem"}, func(_ *Options, w *Watcher) {
		w.newEvents = func() (*fsnotify.Watcher, error) { return nil, unavailable }
	})
	select {
	case err := <-r.errs:
		if !errors.Is(err, unavailable) || !strings.Contains(err.Error(), "polling instead") {
			t.Errorf("got %v, want file events unavailable, polling instead", err)
		}
	default:
		t.Error("got no error for unavailable file events")
	}
	write(t, r.path("cert.pem"), "two")
	r.poll()
	r.wantChange("poll", "cert.pem")
	r.poll()
	r.wantQuietLook()
}

// TestNoEventsOption: Options.NoEvents polls only, and a write is seen at
// the next poll, not before.
func TestNoEventsOption(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	r := newRun(t, dir, []string{"cert.pem"}, func(o *Options, _ *Watcher) { o.NoEvents = true })
	write(t, r.path("cert.pem"), "two")
	select {
	case c := <-r.looks:
		t.Fatalf("got a look %+v before any poll, want none", c)
	default:
	}
	r.poll()
	r.wantChange("poll", "cert.pem")
}

// TestNoEventsNoInterval: with file events turned off and no interval
// (serve --watch=false) nothing is read until a Trigger value (SIGHUP),
// not even after FallbackInterval, which is for events that are
// unavailable (TestNoEventsPolls); the Trigger then reports the change.
func TestNoEventsNoInterval(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	r := newRun(t, dir, []string{"cert.pem"}, func(o *Options, _ *Watcher) { o.NoEvents, o.Tick = true, nil })
	write(t, r.path("cert.pem"), "two")
	select {
	case c := <-r.looks:
		t.Fatalf("got a look %+v without events, interval or trigger, want none", c)
	case <-time.After(FallbackInterval + time.Second):
	}
	r.trigger <- "SIGHUP"
	r.wantChange("SIGHUP", "cert.pem")
}

// TestBaseline: a file that changed between the load and the start of the
// watch is reported at once; its twin has an up-to-date baseline.
func TestBaseline(t *testing.T) {
	t.Parallel()
	for _, stale := range []bool{true, false} {
		dir := t.TempDir()
		path := filepath.Join(dir, "cert.pem")
		write(t, path, "one")
		base := HashFiles([]string{path})
		if stale {
			write(t, path, "two")
		}
		r := newRun(t, dir, []string{"cert.pem"}, func(o *Options, _ *Watcher) { o.Baseline = func() Sums { return base } })
		if stale {
			r.wantChange("file", "cert.pem")
		} else {
			r.poll()
			r.wantQuietLook()
		}
	}
}

// TestBaselineSettles: a change made before the start is read after the
// settle time, like one seen by its events, so a pair being rotated at
// the start is read whole. Here the settle time is too long to elapse,
// and the key is written after the start: the look (a poll) names both.
// Its twin is TestBaseline, where the settle time elapses. The
// gateway's TestWatchFileRotatesServerCertificate failed on this: the
// look came at once, between the certificate and the key.
func TestBaselineSettles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	write(t, filepath.Join(dir, "key.pem"), "one")
	base := HashFiles([]string{filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")})
	write(t, filepath.Join(dir, "cert.pem"), "two")
	r := newRun(t, dir, []string{"cert.pem", "key.pem"}, func(o *Options, _ *Watcher) {
		o.Baseline = func() Sums { return base }
		o.Settle = time.Hour
	})
	write(t, r.path("key.pem"), "two")
	r.trigger <- "SIGHUP"
	r.wantChange("SIGHUP", "cert.pem", "key.pem")
}

// TestPollReadsTwice: a poll that finds a file mid-write (an in-place
// write, which a poll cannot see coming to its end) does not report it:
// the file is read again after the settle time, and reported once two
// reads agree, so the callback reads the finished file. The old Watcher
// reported at the poll and the callback read the half. The twin, a
// change that is done when the poll finds it, is TestNoEventsOption.
func TestPollReadsTwice(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "config.yaml")
	write(t, path, "routes: [a, b]")
	read := make(chan string, 4)
	tick := make(chan time.Time)
	w, err := New(Options{
		Files:    func() []string { return []string{path} },
		NoEvents: true,
		Tick:     tick,
		Settle:   2 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(c Change) error {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Error(err)
			}
			read <- c.Trigger + ": " + string(b)
			return nil
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-w.Ready()

	write(t, path, "routes: [a") // the first half of a write
	tick <- time.Now()
	time.Sleep(50 * time.Millisecond)
	write(t, path, "routes: [a, c]")
	select {
	case got := <-read:
		if want := "poll: routes: [a, c]"; got != want {
			t.Errorf("the callback read %q, want %q", got, want)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no change reported within 20s")
	}
	select {
	case got := <-read:
		t.Errorf("a second call read %q, want one call", got)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestBaselineOfNewFile: a file that the list names for the first time
// after a look starts from the hash its loader read, so a write right
// after the reload that named it (before the Watcher hashed it) is seen.
// The negative control is a loader that does not report the file: that
// write is lost. The gateway's TestWatchFileFollowsNewFiles failed on
// this.
func TestBaselineOfNewFile(t *testing.T) {
	t.Parallel()
	for _, reported := range []bool{true, false} {
		t.Run(fmt.Sprint("reported=", reported), func(t *testing.T) {
			dir := t.TempDir()
			a, b := filepath.Join(dir, "a.pem"), filepath.Join(dir, "b.pem")
			write(t, a, "one")
			write(t, b, "one")
			var mu sync.Mutex
			files := []string{a}
			loaded := HashFiles(files)
			tick, looks := make(chan time.Time), make(chan Change, 4)
			w, err := New(Options{
				Files:    func() []string { mu.Lock(); defer mu.Unlock(); return slices.Clone(files) },
				Baseline: func() Sums { mu.Lock(); defer mu.Unlock(); return maps.Clone(loaded) },
				NoEvents: true,
				Tick:     tick,
				OnLook:   func(c Change) { looks <- c },
			})
			if err != nil {
				t.Fatal(err)
			}
			written := make(chan error, 1)
			// The reload: it now names b too and reads it, and b is
			// rotated at once, before the Watcher looks at it.
			onChange := func(Change) error {
				mu.Lock()
				files = []string{a, b}
				if reported {
					loaded = HashFiles(files)
				}
				mu.Unlock()
				written <- os.WriteFile(b, []byte("two"), 0o600)
				return nil
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx, onChange) }()
			t.Cleanup(func() { cancel(); <-done })
			<-w.Ready()
			look := func() Change {
				t.Helper()
				tick <- time.Now()
				select {
				case c := <-looks:
					return c
				case <-time.After(10 * time.Second):
					t.Fatal("no look within 10s")
					return Change{}
				}
			}

			write(t, a, "two")
			if got, want := look(), (Change{Trigger: "poll", Changed: []string{a}}); !reflect.DeepEqual(got, want) {
				t.Fatalf("first look: got %+v, want %+v", got, want)
			}
			if err := <-written; err != nil {
				t.Fatal(err)
			}
			want := Change{Trigger: "poll", Changed: []string{b}}
			if !reported {
				want.Changed = nil
			}
			if got := look(); !reflect.DeepEqual(got, want) {
				t.Errorf("after the write of b: got %+v, want %+v", got, want)
			}
		})
	}
}

// TestRetryAfterRefusal: while the callback refuses a change (a
// certificate not valid yet: time, not a file, lifts the refusal), every
// poll calls it again though no file changed, as "retry"; once it
// accepts, a poll is quiet again. The twin is TestSameContentsNoChange,
// whose callback accepts: no call without a change.
func TestRetryAfterRefusal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "cert.pem"), "one")
	r := newRun(t, dir, []string{"cert.pem"}, func(o *Options, _ *Watcher) { o.NoEvents = true })
	r.setRefuse(errors.New("not valid yet"))
	write(t, r.path("cert.pem"), "two")
	r.poll()
	r.wantChange("poll", "cert.pem")
	r.poll()
	r.wantChange("retry")
	r.setRefuse(nil)
	r.poll()
	r.wantChange("retry")
	r.poll()
	r.wantQuietLook()
}

// TestTrigger: a Trigger value is reported whether or not a file changed.
func TestTrigger(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write(t, filepath.Join(dir, "a.pem"), "one")
	r := newRun(t, dir, []string{"a.pem"}, func(o *Options, _ *Watcher) { o.NoEvents = true })
	r.trigger <- "SIGHUP"
	r.wantChange("SIGHUP")
	write(t, r.path("a.pem"), "two")
	r.trigger <- "SIGHUP"
	r.wantChange("SIGHUP", "a.pem")
}

// TestListFollows: the file list is asked again after each look, so a
// file named later, in another folder, is watched too.
func TestListFollows(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "other"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(dir, "gw.yaml"), "one")
	write(t, filepath.Join(dir, "other", "ca.pem"), "one")
	r := newRun(t, dir, []string{"gw.yaml"}, nil)
	r.setFiles("gw.yaml", filepath.Join("other", "ca.pem"))
	writeAtomic(t, r.path("gw.yaml"), "two")
	r.wantChange("file", "gw.yaml")
	writeAtomic(t, r.path(filepath.Join("other", "ca.pem")), "two")
	r.wantChange("file", filepath.Join("other", "ca.pem"))
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{}); err == nil {
		t.Error("New without Files: got no error, want one")
	}
	if _, err := New(Options{Files: func() []string { return nil }, Interval: -time.Second}); err == nil {
		t.Error("New with a negative interval: got no error, want one")
	}
}

// TestEventOverflow: while the callback runs, the kernel's event queue
// overflows (a busy folder) and the one event that mattered is lost; the
// overflow makes the Watcher look, as if for an event, so the change is
// seen with no poll. Before, the overflow was only reported, and the
// change waited for a poll (never, with Interval zero). Its twin is
// TestInPlaceWrite, where the event arrives.
func TestEventOverflow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cert := filepath.Join(dir, "cert.pem")
	write(t, cert, "one")
	changes, release, looks := make(chan Change, 4), make(chan struct{}), make(chan Change, 4)
	overflowed := make(chan struct{}, 1)
	w, err := New(Options{
		Files:  func() []string { return []string{cert} },
		Settle: 10 * time.Millisecond,
		OnLook: func(c Change) { looks <- c },
		OnError: func(err error) {
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				select {
				case overflowed <- struct{}{}:
				default:
				}
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- w.Run(ctx, func(c Change) error { changes <- c; <-release; return nil })
	}()
	t.Cleanup(func() { cancel(); <-done })
	<-w.Ready()

	write(t, cert, "two")
	<-changes // the callback now blocks, and so does the event loop
	// Overflow the kernel's queue (fs.inotify.max_queued_events, 16384
	// by default) with writes to two other files of the folder: the
	// same event twice in a row would be merged.
	limit := 16384
	if b, err := os.ReadFile("/proc/sys/fs/inotify/max_queued_events"); err == nil {
		fmt.Sscan(string(b), &limit)
	}
	var a, b *os.File
	for _, p := range []**os.File{&a, &b} {
		f, err := os.CreateTemp(dir, "noise")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		*p = f
	}
	for i := 0; i < limit; i++ {
		a.Write([]byte{'x'})
		b.Write([]byte{'x'})
	}
	write(t, cert, "three") // its event is lost
	close(release)
	for {
		select {
		case c := <-changes:
			if want := (Change{Trigger: "file", Changed: []string{cert}}); !reflect.DeepEqual(c, want) {
				t.Fatalf("got %+v, want %+v", c, want)
			}
			return
		case <-looks:
		case <-time.After(10 * time.Second):
			select {
			case <-overflowed:
				t.Fatal("the write of \"three\" was not seen within 10s of the overflow")
			default:
				t.Fatal("no overflow reported: the test shows nothing")
			}
		}
	}
}

// A chmod changes a file's Sum (loaders refuse a key others may read, so
// it must reach them), and SumOf, which mtls's loader uses for its
// baseline, agrees with HashFile: were they to differ, every poll would
// see a change and reload.
func TestSumPermissionBits(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no permission bits to speak of")
	}
	f := filepath.Join(t.TempDir(), "key")
	data := []byte("secret")
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	before := HashFile(f)
	if got := SumOf(f, data); got != before {
		t.Errorf("SumOf: got %x, want HashFile's %x", got, before)
	}
	if err := os.Chmod(f, 0o644); err != nil {
		t.Fatal(err)
	}
	after := HashFile(f)
	if after == before {
		t.Error("chmod 644: got the same sum, want another")
	}
	if got := SumOf(f, data); got != after {
		t.Errorf("SumOf after chmod: got %x, want HashFile's %x", got, after)
	}
	if got := SumOf(f, nil); got != (Sum{}) {
		t.Errorf("SumOf(nil): got %x, want zero", got)
	}
}
