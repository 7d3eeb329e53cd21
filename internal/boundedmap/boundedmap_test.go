package boundedmap_test

import (
	"sync"
	"testing"

	"github.com/forgeproof/forgeproof/internal/boundedmap"
)

func TestMapBounded(t *testing.T) {
	m := boundedmap.New[int, string](3)
	if _, ok := m.Get(1); ok {
		t.Fatal("empty map: got a value for 1, want none")
	}
	for i := range 10 {
		m.Put(i, "v")
		if got, want := m.Len(), min(i+1, 3); got != want {
			t.Fatalf("after %d puts: got len %d, want %d", i+1, got, want)
		}
		if v, ok := m.Get(i); !ok || v != "v" {
			t.Fatalf("Get(%d) right after Put: got %q, %v; want \"v\", true", i, v, ok)
		}
	}
	// Replacing a key that is present evicts nothing.
	m.Put(9, "w")
	if v, _ := m.Get(9); v != "w" || m.Len() != 3 {
		t.Errorf("replace: got %q and len %d, want \"w\" and 3", v, m.Len())
	}
}

func TestMapConcurrent(t *testing.T) {
	m := boundedmap.New[int, int](8)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				m.Put(g*1000+i, i)
				m.Get(i)
			}
		})
	}
	wg.Wait()
	if got := m.Len(); got != 8 {
		t.Errorf("got len %d, want 8", got)
	}
}
