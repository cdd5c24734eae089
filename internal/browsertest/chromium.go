package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// chromedpDisableFeatures is the value of disable-features in
// chromedp.DefaultExecAllocatorOptions (v0.23.0). A second flag of the same
// name replaces the first, so ours repeats it.
const chromedpDisableFeatures = "Translate,BlinkGenPropertyTrees"

// chromiumFlags returns the flags, beyond chromedp's defaults, that Chromium
// gets.
func chromiumFlags() []chromedp.ExecAllocatorOption {
	return []chromedp.ExecAllocatorOption{
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		// A test's HTTPS server on 127.0.0.1 has a certificate of its own (doc.go).
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
		// Tabs must keep running timers and rendering video in the background.
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		// Real host addresses in ICE candidates, not mDNS .local names.
		chromedp.Flag("disable-features", chromedpDisableFeatures+",WebRtcHideLocalIpsWithMdns"),
	}
}

type chromiumBrowser struct {
	allocCancel context.CancelFunc
	ctx         context.Context // the chromedp context that owns the browser
	cancel      context.CancelFunc
	output      *tailBuffer

	closeOnce sync.Once
	closeErr  error
}

func launchChromium(path string, _ Options) (Browser, error) {
	output := newTailBuffer()
	var w io.Writer = output
	if os.Getenv("CONCLAVE_BROWSER_LOG") != "" {
		w = io.MultiWriter(output, os.Stderr)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromiumFlags()...)
	opts = append(opts, chromedp.ExecPath(path), chromedp.CombinedOutput(w))
	allocCtx, allocCancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	b := &chromiumBrowser{allocCancel: allocCancel, ctx: ctx, cancel: cancel, output: output}

	// The first Run starts the browser and binds it to ctx, so it must not
	// get a context with a timeout; a timer cancels it instead.
	timer := time.AfterFunc(launchTimeout, cancel)
	err := chromedp.Do(ctx)
	stopped := timer.Stop()
	if err == nil && !stopped {
		err = errors.New("timed out")
	}
	if err != nil {
		cancel()
		allocCancel()
		return nil, fmt.Errorf("starting %s: %w%s", path, err, output.describe())
	}
	return b, nil
}

func (b *chromiumBrowser) Name() string { return KindChromium.String() }

func (b *chromiumBrowser) NewTab(ctx context.Context) (Tab, error) {
	if b.ctx.Err() != nil {
		return nil, ErrClosed
	}
	tctx, cancel := chromedp.NewContext(b.ctx)
	// Like the browser, a tab is bound to the context of its first Run.
	stop := context.AfterFunc(ctx, cancel)
	err := chromedp.Do(tctx)
	if !stop() {
		cancel()
		return nil, fmt.Errorf("opening a chromium tab: %w", context.Cause(ctx))
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("opening a chromium tab: %w", err)
	}
	return &chromiumTab{ctx: tctx, cancel: cancel, browser: b}, nil
}

func (b *chromiumBrowser) Close() error {
	b.closeOnce.Do(func() {
		if b.ctx.Err() == nil {
			ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
			b.closeErr = chromedp.Cancel(ctx)
			cancel()
		}
		b.cancel()
		// Waits for the process to exit and removes the profile.
		b.allocCancel()
	})
	return b.closeErr
}

type chromiumTab struct {
	ctx     context.Context
	cancel  context.CancelFunc
	browser *chromiumBrowser

	closeOnce sync.Once
	closeErr  error
}

// call runs f with a context that carries the tab and ends with ctx.
func (t *chromiumTab) call(ctx context.Context, f func(ctx context.Context, target *chromedp.Target) error) error {
	if t.gone() {
		return ErrClosed
	}
	cctx, cancel := context.WithCancelCause(t.ctx)
	defer cancel(nil)
	stop := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	defer stop()
	err := chromedp.Do(cctx, chromedp.Func(f))
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("%w (%v)", context.Cause(ctx), err)
	case t.gone():
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return err
}

func (t *chromiumTab) gone() bool { return t.ctx.Err() != nil }

func (t *chromiumTab) Navigate(ctx context.Context, url string) error {
	err := t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
		_, err := chromedp.Navigate(url)(ctx, target)
		return err
	})
	if err != nil {
		return fmt.Errorf("navigating to %s: %w", url, err)
	}
	return nil
}

func (t *chromiumTab) evalString(ctx context.Context, expr string) (string, error) {
	var s string
	err := t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
		r, err := cdp.Call(ctx, target, runtime.Evaluate, runtime.EvaluateParams{
			Expression:    expr,
			ReturnByValue: ptr(true),
			AwaitPromise:  ptr(true),
			// Counts as a click for APIs that need user activation,
			// such as getDisplayMedia.
			UserGesture: ptr(true),
		})
		if err != nil {
			return err
		}
		if d := r.ExceptionDetails; d != nil {
			return chromiumException(d)
		}
		if r.Result == nil || r.Result.Type != "string" {
			return fmt.Errorf("unexpected result %+v", r.Result)
		}
		return json.Unmarshal([]byte(r.Result.Value), &s)
	})
	return s, err
}

func chromiumException(d *runtime.ExceptionDetails) *JSError {
	e := &JSError{Message: d.Text} // "Uncaught" when nothing better is known
	obj := d.Exception
	var str string
	switch {
	case obj == nil:
	case obj.Description != "":
		// The description of an Error is its stack: "Error: boom\n    at …".
		e.Message, e.Stack, _ = cutLine(obj.Description)
	case json.Unmarshal([]byte(obj.Value), &str) == nil:
		e.Message = str // throw "text"
	case len(obj.Value) > 0:
		e.Message = string(obj.Value)
	}
	return e
}

func (t *chromiumTab) Eval(ctx context.Context, js string, out any) error {
	return evalJSON(ctx, t, js, out)
}

func (t *chromiumTab) WaitFor(ctx context.Context, js string) error {
	return waitFor(ctx, t, js)
}

func (t *chromiumTab) onNewDocument(ctx context.Context, js string) error {
	return t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, page.AddScriptToEvaluateOnNewDocument,
			page.AddScriptToEvaluateOnNewDocumentParams{Source: js})
		return err
	})
}

func (t *chromiumTab) Close() error {
	t.closeOnce.Do(func() {
		if t.browser.ctx.Err() != nil {
			t.cancel()
			return
		}
		t.closeErr = chromedp.Cancel(t.ctx)
	})
	return t.closeErr
}

func ptr[T any](v T) *T { return &v }
