package browser

import (
	"context"
	"fmt"
	"slices"
	"sync"
)

// journal is an append-only list that a test can wait on. It is safe for
// concurrent use.
type journal[T any] struct {
	mu      sync.Mutex
	items   []T
	changed chan struct{} // closed and replaced on every append
}

func (j *journal[T]) add(v T) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.items = append(j.items, v)
	if j.changed != nil {
		close(j.changed)
	}
	j.changed = make(chan struct{})
}

func (j *journal[T]) all() []T {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.items)
}

func (j *journal[T]) mark() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.items)
}

// wait returns the first item after mark that match accepts, waiting for
// it until ctx ends.
func (j *journal[T]) wait(ctx context.Context, mark int, what string, match func(T) bool) (T, error) {
	for {
		j.mu.Lock()
		for i := mark; i < len(j.items); i++ {
			if match(j.items[i]) {
				v := j.items[i]
				j.mu.Unlock()
				return v, nil
			}
		}
		mark = max(mark, len(j.items))
		if j.changed == nil {
			j.changed = make(chan struct{})
		}
		changed := j.changed
		j.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			var zero T
			return zero, fmt.Errorf("browser: waiting for %s: %w", what, context.Cause(ctx))
		}
	}
}
