package browser

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Default deadlines. A browser action on this kind of machine takes well
// under a second; the margins absorb a busy shared CI runner.
const (
	DefaultActionTimeout = 15 * time.Second
	DefaultStartTimeout  = 60 * time.Second
)

// Options configures Start.
type Options struct {
	// Tools are the programs to run; see FindTools.
	Tools Tools
	// Profile is what the browser trusts and holds.
	Profile Profile
	// ActionTimeout bounds every browser action whose context has no
	// earlier deadline. If zero, DefaultActionTimeout.
	ActionTimeout time.Duration
	// StartTimeout bounds the start of the browser. If zero,
	// DefaultStartTimeout.
	StartTimeout time.Duration
	// Output, if not nil, receives the browser's stdout and stderr (dbus
	// complaints in a container are harmless).
	Output io.Writer
	// ShortReportingDelay starts Chromium with --short-reporting-delay:
	// the Reporting API (Reporting-Endpoints, Report-To, NEL) uploads its
	// queued reports within about a second instead of batching them for
	// a minute or more.
	ShortReportingDelay bool
}

// Browser is a running headless Chromium with one tab. The methods that
// drive the tab (Navigate, Follow, Open, Eval, ClearCookies) must not be
// called concurrently; Mark, Sent and WaitSent may be called from any
// goroutine.
type Browser struct {
	dir         string // HOME and user data dir live under it
	timeout     time.Duration
	allocCancel context.CancelFunc
	tab         context.Context
	tabCancel   context.CancelFunc
	traffic     *traffic
}

// Start creates a throwaway HOME with an NSS database and a fresh profile,
// then starts Chromium. ctx bounds the start only; the browser runs until
// Close.
func Start(ctx context.Context, opts Options) (*Browser, error) {
	if err := opts.Profile.validate(); err != nil {
		return nil, err
	}
	if opts.Tools.Chromium == "" || opts.Tools.Certutil == "" || opts.Tools.Pk12util == "" {
		return nil, fmt.Errorf("%w: Options.Tools is incomplete: call FindTools", ErrMissingTool)
	}
	dir, err := os.MkdirTemp("", "forgeproof-e2e-")
	if err != nil {
		return nil, err
	}
	b := &Browser{dir: dir, timeout: opts.ActionTimeout, traffic: newTraffic()}
	if b.timeout <= 0 {
		b.timeout = DefaultActionTimeout
	}
	if err := b.start(ctx, opts); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *Browser) start(ctx context.Context, opts Options) error {
	home := filepath.Join(b.dir, "home")
	userData := filepath.Join(b.dir, "profile")
	if err := writeNSSDB(opts.Tools, home, opts.Profile); err != nil {
		return err
	}
	if err := writePreferences(userData, opts.Profile); err != nil {
		return err
	}
	if err := writeLocalState(userData, opts.Profile); err != nil {
		return err
	}
	flags := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(opts.Tools.Chromium),
		chromedp.Env("HOME=" + home), // where Chromium finds .pki/nssdb
		chromedp.UserDataDir(userData),
		chromedp.Headless,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		// The sandbox cannot start as root (CI containers); the browser
		// only ever loads the test's own loopback pages.
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		// QUIC would bypass the TLS-over-TCP servers under test.
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		// /dev/shm is 64 MB in a default container; Chromium crashes when
		// it fills up.
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	if opts.ShortReportingDelay {
		flags = append(flags, chromedp.Flag("short-reporting-delay", true))
	}
	if opts.Output != nil {
		flags = append(flags, chromedp.CombinedOutput(opts.Output))
	}
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), flags...)
	b.allocCancel = allocCancel
	b.tab, b.tabCancel = chromedp.NewContext(allocCtx)

	startTimeout := opts.StartTimeout
	if startTimeout <= 0 {
		startTimeout = DefaultStartTimeout
	}
	// The first Run starts the browser for the lifetime of its context, so
	// it cannot carry the deadline itself: bound it from outside.
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(b.tab) }()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err == nil {
			err = chromedp.Listen(b.tab, b.traffic.handle)
		}
		if err != nil {
			return fmt.Errorf("browser: start %s: %w", opts.Tools.Chromium, err)
		}
		return nil
	case <-timer.C:
		err := fmt.Errorf("browser: start %s: no answer within %v", opts.Tools.Chromium, startTimeout)
		b.tabCancel()
		<-done
		return err
	case <-ctx.Done():
		b.tabCancel()
		<-done
		return fmt.Errorf("browser: start %s: %w", opts.Tools.Chromium, ctx.Err())
	}
}

// Close stops the browser and removes its HOME and profile.
func (b *Browser) Close() error {
	var errs []error
	if b.tabCancel != nil {
		if err := chromedp.Cancel(b.tab); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
		b.tabCancel()
	}
	if b.allocCancel != nil {
		b.allocCancel()
	}
	if err := os.RemoveAll(b.dir); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// action derives the context of one browser action from the tab. It ends
// when ctx ends or after the action timeout, whichever comes first; the
// cause says which (see fail).
func (b *Browser) action(ctx context.Context) (context.Context, context.CancelFunc) {
	actx, cancel := context.WithCancelCause(b.tab)
	timer := time.AfterFunc(b.timeout, func() {
		cancel(fmt.Errorf("%w: no answer within %v (a certificate picker waiting for a click?)", context.DeadlineExceeded, b.timeout))
	})
	stop := context.AfterFunc(ctx, func() { cancel(ctx.Err()) })
	return actx, func() { timer.Stop(); stop(); cancel(context.Canceled) }
}

// fail wraps the error of an action: when the action's context ended, the
// cause (the caller's deadline, or the action timeout) is the error that
// matters, not how chromedp noticed.
func fail(actx context.Context, what string, err error) error {
	if actx.Err() != nil {
		err = context.Cause(actx)
	}
	return fmt.Errorf("browser: %s: %w", what, err)
}

// Navigate loads url in the tab, waits for the page to load and returns
// the HTTP status of the document.
func (b *Browser) Navigate(ctx context.Context, url string) (int, error) {
	actx, cancel := b.action(ctx)
	defer cancel()
	mark := b.Mark()
	resp, err := chromedp.Run(actx, chromedp.NavigateResponse(url))
	if err != nil {
		return 0, fail(actx, fmt.Sprintf("navigate to %q", url), err)
	}
	return b.documentStatus(actx, resp, mark, fmt.Sprintf("navigate to %q", url))
}

// Follow runs a JavaScript expression that makes the page navigate (a
// form submission, a click on a link), waits for the new page to load and
// returns the HTTP status of its document (after redirects).
func (b *Browser) Follow(ctx context.Context, expr string) (int, error) {
	actx, cancel := b.action(ctx)
	defer cancel()
	mark := b.Mark()
	resp, err := chromedp.RunResponse(actx, chromedp.Evaluate[chromedp.Void](expr))
	if err != nil {
		return 0, fail(actx, fmt.Sprintf("follow %q", expr), err)
	}
	return b.documentStatus(actx, resp, mark, fmt.Sprintf("follow %q", expr))
}

// documentStatus returns the status of the response chromedp matched to
// the navigation or, when it matched none (it loses track across some
// cross-process navigations), that of the first document the tab loaded
// after mark that was not a redirect.
func (b *Browser) documentStatus(actx context.Context, resp *network.Response, mark int, what string) (int, error) {
	if resp != nil {
		return int(resp.Status), nil
	}
	doc, err := b.traffic.log.wait(actx, mark, "the document", func(s Sent) bool {
		return s.Type == string(network.ResourceTypeDocument) && (s.Status < 300 || s.Status > 399)
	})
	if err != nil {
		return 0, fail(actx, what, err)
	}
	// The response is in; wait until the page that shows it has loaded,
	// so the caller does not read the old page or a half-built one.
	for {
		state, err := chromedp.Run(actx, chromedp.Evaluate[string](`location.href + " " + document.readyState`))
		if err == nil && state == doc.URL+" complete" {
			return doc.Status, nil
		}
		// An error here is the old page going away: try again.
		select {
		case <-actx.Done():
			return 0, fail(actx, what+": waiting for "+doc.URL+" to load", actx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ClearCookies deletes every cookie the browser holds.
func (b *Browser) ClearCookies(ctx context.Context) error {
	actx, cancel := b.action(ctx)
	defer cancel()
	if _, err := chromedp.Call(actx, network.ClearBrowserCookies, cdp.Empty{}); err != nil {
		return fail(actx, "clear cookies", err)
	}
	return nil
}

// Cookies returns the cookies the browser holds for url, as its cookie
// store holds them (DevTools' Network.getCookies): what its parser made of
// the Set-Cookie lines it got, attributes included.
func (b *Browser) Cookies(ctx context.Context, url string) ([]*network.Cookie, error) {
	actx, cancel := b.action(ctx)
	defer cancel()
	res, err := chromedp.Call(actx, network.GetCookies, network.GetCookiesParams{URLs: []string{url}})
	if err != nil {
		return nil, fail(actx, "get cookies", err)
	}
	return res.Cookies, nil
}

// Open starts loading url in the tab and returns once the browser has the
// response, without waiting for the page's load event. Use it for pages
// that move on by themselves, such as an attack page that submits a form
// as it loads; then wait for the request where it lands.
func (b *Browser) Open(ctx context.Context, url string) error {
	actx, cancel := b.action(ctx)
	defer cancel()
	res, err := chromedp.Call(actx, page.Navigate, page.NavigateParams{URL: url})
	if err == nil && res.ErrorText != "" {
		err = errors.New(res.ErrorText)
	}
	if err != nil {
		return fail(actx, fmt.Sprintf("open %q", url), err)
	}
	return nil
}

// Eval runs a JavaScript expression in the page, waits for it if it is a
// promise, and decodes its JSON value into out (nil: ignore the value).
func (b *Browser) Eval(ctx context.Context, expr string, out any) error {
	actx, cancel := b.action(ctx)
	defer cancel()
	if out == nil {
		if err := chromedp.Do(actx, chromedp.Evaluate[chromedp.Void](expr, chromedp.EvalAwaitPromise)); err != nil {
			return fail(actx, "eval", err)
		}
		return nil
	}
	raw, err := chromedp.Run(actx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return fail(actx, "eval", err)
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("browser: eval: decode %s: %w", raw, err)
	}
	return nil
}
