package syncbuf_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/internal/syncbuf"
)

// TestConcurrent: writers and a reader at once (run with -race); every
// write is there at the end.
func TestConcurrent(t *testing.T) {
	var b syncbuf.Buffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				fmt.Fprintf(&b, "%d.%d\n", i, j)
				_ = b.String()
			}
		}()
	}
	wg.Wait()
	if got := strings.Count(b.String(), "\n"); got != 800 {
		t.Errorf("got %d lines, want 800", got)
	}
}
