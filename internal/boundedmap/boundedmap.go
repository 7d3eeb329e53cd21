// Package boundedmap is a map, safe for concurrent use, that holds at most
// a fixed number of entries: for caches whose entries are all correct but
// cannot all be kept. When it is full, adding a new key evicts an
// arbitrary entry (Go's map iteration order), which costs nothing to keep
// track of and gives a client that floods the cache with new keys no way
// to pick what is evicted.
package boundedmap

import "sync"

// Map holds at most a fixed number of entries. Make one with New.
type Map[K comparable, V any] struct {
	max int
	mu  sync.Mutex
	m   map[K]V
}

// New returns an empty map that holds at most limit entries (at least
// one).
func New[K comparable, V any](limit int) *Map[K, V] {
	return &Map[K, V]{max: max(limit, 1), m: make(map[K]V)}
}

// Get returns the value stored for k, if any.
func (bm *Map[K, V]) Get(k K) (V, bool) {
	bm.mu.Lock()
	v, ok := bm.m[k]
	bm.mu.Unlock()
	return v, ok
}

// Put stores v for k, evicting an arbitrary entry first when k is new and
// the map is full.
func (bm *Map[K, V]) Put(k K, v V) {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	if _, ok := bm.m[k]; !ok && len(bm.m) >= bm.max {
		for old := range bm.m { // evict one, any one
			delete(bm.m, old)
			break
		}
	}
	bm.m[k] = v
}

// Len returns the number of entries.
func (bm *Map[K, V]) Len() int {
	bm.mu.Lock()
	defer bm.mu.Unlock()
	return len(bm.m)
}
