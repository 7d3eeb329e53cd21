package load

import "time"

// window calls hook(true) when the measured window opens at from and
// hook(false) when it closes at to; wait returns once both calls are done.
type window struct{ done chan struct{} }

func openWindow(hook func(open bool), from, to time.Time) window {
	w := window{done: make(chan struct{})}
	if hook == nil {
		close(w.done)
		return w
	}
	go func() {
		defer close(w.done)
		time.Sleep(time.Until(from))
		hook(true)
		time.Sleep(time.Until(to))
		hook(false)
	}()
	return w
}

func (w window) wait() { <-w.done }
