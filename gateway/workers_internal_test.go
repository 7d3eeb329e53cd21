package gateway

import (
	"bytes"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func init() {
	// rotateTicketKeys looks at the clock this often in the tests, so
	// that a test that moves its clock over a day sees the keys turn
	// without waiting a minute (TestWorkerTicketRotation).
	ticketKeyCheck = 10 * time.Millisecond
}

// TestTicketKeys: the keys are a function of the secret and the period
// only (every worker derives the same), another secret gives others, and
// at the turn of a period the new key was already the previous period's
// second (so that a worker that turned first seals tickets the others
// open) while the old one stays among the keys that open, for a week.
func TestTicketKeys(t *testing.T) {
	t.Parallel()
	secret := bytes.Repeat([]byte{7}, 32)
	other := bytes.Repeat([]byte{8}, 32)
	// Mid-period, then the first and the last second of the next one.
	mid := time.Date(2025, 3, 10, 13, 0, 0, 0, time.UTC)
	start := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	end := start.Add(ticketKeyPeriod - time.Second)

	keys := ticketKeys(secret, 0, mid)
	if len(keys) != 9 {
		t.Fatalf("got %d keys, want 9 (this period's, the next one's, 7 past)", len(keys))
	}
	if again := ticketKeys(secret, 0, mid.Add(time.Hour)); !slices.Equal(again, keys) {
		t.Error("the keys changed within a period")
	}
	if again := ticketKeys(slices.Clone(secret), 0, mid); !slices.Equal(again, keys) {
		t.Error("the keys are not a function of the secret and the time")
	}
	if theirs := ticketKeys(other, 0, mid); slices.ContainsFunc(theirs, func(k [32]byte) bool { return slices.Contains(keys, k) }) {
		t.Error("another secret shares a key")
	}
	if theirs := ticketKeys(secret, 1, mid); slices.ContainsFunc(theirs, func(k [32]byte) bool { return slices.Contains(keys, k) }) {
		t.Error("another listener shares a key")
	}
	seen := map[[32]byte]bool{}
	for _, k := range keys {
		if seen[k] || k == [32]byte{} {
			t.Fatalf("a key is repeated or zero: %x", k)
		}
		seen[k] = true
	}

	next := ticketKeys(secret, 0, start)
	if slices.Equal(next, keys) {
		t.Fatal("the keys did not turn with the period")
	}
	if next[0] != keys[1] {
		t.Error("the new period's sealing key is not the previous period's second key")
	}
	if !slices.Contains(next[1:], keys[0]) {
		t.Error("the previous period's sealing key does not open tickets in the next period")
	}
	if !slices.Equal(ticketKeys(secret, 0, end), next) {
		t.Error("the keys changed within the period")
	}
	// A week on, the key of mid's period still opens; eight days on it
	// is gone.
	week := ticketKeys(secret, 0, mid.Add(ticketKeyDays*ticketKeyPeriod))
	if week[len(week)-1] != keys[0] {
		t.Error("a key 7 days old is not the last of the keys")
	}
	if eight := ticketKeys(secret, 0, mid.Add((ticketKeyDays+1)*ticketKeyPeriod)); slices.Contains(eight, keys[0]) {
		t.Error("a key 8 days old still opens tickets")
	}
}

// TestWorkersRestartOnly: changing workers on a reload is reported as
// applying only after a restart; the same setting, spelled or not (unset
// is 1), is not.
func TestWorkersRestartOnly(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		old, new Workers
		want     bool
	}{
		{1, 2, true},
		{2, 1, true},
		{0, 2, true},
		{2, WorkersAuto, true},
		{WorkersAuto, 0, true},
		{1, 1, false},
		{0, 1, false},
		{1, 0, false},
		{WorkersAuto, WorkersAuto, false},
	} {
		got := restartOnly(&Config{Workers: tc.old}, &Config{Workers: tc.new})
		if want := []string(nil); tc.want {
			want = []string{"workers"}
			if !slices.Equal(got, want) {
				t.Errorf("%d to %d: got %v, want %v", tc.old, tc.new, got, want)
			}
		} else if len(got) != 0 {
			t.Errorf("%d to %d: got %v, want no restart-only keys", tc.old, tc.new, got)
		}
	}
}

// TestWorkersCompile: the compiler refuses a number out of range (set in
// Go: YAML stops it earlier) and more than one worker for forgeproof
// authz, auto included whatever this machine's core count.
func TestWorkersCompile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		w     Workers
		authz bool
		want  string
	}{
		{"unset", 0, false, ""},
		{"256", 256, false, ""},
		{"auto", WorkersAuto, false, ""},
		{"257", 257, false, "257: want auto or a number from 1 to 256"},
		{"-2", -2, false, "-2: want auto or a number from 1 to 256"},
		{"authz unset", 0, true, ""},
		{"authz 1", 1, true, ""},
		{"authz 2", 2, true, "forgeproof authz runs one process"},
		{"authz auto", WorkersAuto, true, "forgeproof authz runs one process"},
	} {
		cfg := &Config{Workers: tc.w}
		if tc.authz {
			cfg.Authz = &Authz{}
		}
		p := &compiler{cfg: cfg}
		p.workers(cfg)
		err := p.err()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: got %v, want no error", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), "workers: "+tc.want)):
			t.Errorf("%s: got %v, want %q at workers", tc.name, err, tc.want)
		}
	}
}

// TestWorkersAuthzAutoOneCore: an authz config with workers: auto is
// refused on one core too (not Parallel: it sets GOMAXPROCS while no
// other test runs), so that it does not pass a check on a small machine
// and fail on the next.
func TestWorkersAuthzAutoOneCore(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	cfg := &Config{Workers: WorkersAuto, Authz: &Authz{}}
	p := &compiler{cfg: cfg}
	p.workers(cfg)
	if err := p.err(); err == nil || !strings.Contains(err.Error(), "workers: forgeproof authz runs one process") {
		t.Errorf("got %v, want auto refused for authz", err)
	}
}
