package browser

import (
	"context"

	"github.com/chromedp/chromedp"
)

// Context derives a context for chromedp calls on the tab that the
// harness does not wrap (request interception, cookies): it ends when ctx
// ends or after the action timeout. Call the returned cancel when done.
func (b *Browser) Context(ctx context.Context) (context.Context, context.CancelFunc) {
	return b.action(ctx)
}

// Listen calls fn for every DevTools event of the tab, on chromedp's
// event loop: fn must be quick, and must not call the browser itself (it
// may start a goroutine that does).
func (b *Browser) Listen(fn func(ev any)) error {
	return chromedp.Listen(b.tab, fn)
}
