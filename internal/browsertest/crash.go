package browsertest

import (
	"context"
	"fmt"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// CrashPage kills the renderer of tab's page (Chromium's Page.crash) as the browser or
// the system would: the page gets no pagehide, no unload and no chance to say goodbye;
// the tab stays, showing Chromium's crashed page, until it is reloaded or navigated.
// Firefox offers no such call over BiDi.
func CrashPage(ctx context.Context, tab Tab) error {
	t, ok := tab.(*chromiumTab)
	if !ok {
		return fmt.Errorf("browsertest: %T cannot crash its page", tab)
	}
	// The renderer dies before it answers, so the call has no answer to wait for; what
	// tells that the page is gone is that it no longer evaluates anything.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_ = t.call(cctx, func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, page.Crash, cdp.Empty{})
		return err
	})
	for ctx.Err() == nil {
		ectx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := t.evalString(ectx, `"alive"`)
		cancel()
		if err != nil {
			return nil
		}
		if !sleepCtx(ctx, 50*time.Millisecond) {
			break
		}
	}
	return fmt.Errorf("browsertest: the page did not crash: %w", context.Cause(ctx))
}

// ReloadPage reloads tab's page as the browser's Reload button does (Page.reload), also
// a page whose renderer crashed (the crashed page's "Reload").
func ReloadPage(ctx context.Context, tab Tab) error {
	t, ok := tab.(*chromiumTab)
	if !ok {
		return fmt.Errorf("browsertest: %T cannot reload over CDP", tab)
	}
	return t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, page.Reload, page.ReloadParams{})
		return err
	})
}
