package browsertest

import (
	"context"
	"fmt"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// SetViewport makes tab lay its page out in a width×height CSS-pixel viewport, as on a
// phone (e.g. 390×844); window.innerWidth and CSS media queries follow at once.
func SetViewport(ctx context.Context, tab Tab, width, height int) error {
	type viewporter interface {
		setViewport(ctx context.Context, width, height int) error
	}
	v, ok := tab.(viewporter)
	if !ok {
		return fmt.Errorf("browsertest: %T cannot set its viewport", tab)
	}
	return v.setViewport(ctx, width, height)
}

func (t *chromiumTab) setViewport(ctx context.Context, width, height int) error {
	return t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
		_, err := cdp.Call(ctx, target, emulation.SetDeviceMetricsOverride,
			emulation.SetDeviceMetricsOverrideParams{Width: int64(width), Height: int64(height), DeviceScaleFactor: 1})
		return err
	})
}

func (t *firefoxTab) setViewport(ctx context.Context, width, height int) error {
	if t.gone() {
		return ErrClosed
	}
	return t.browser.conn.call(ctx, "browsingContext.setViewport", map[string]any{
		"context":  t.id,
		"viewport": map[string]int{"width": width, "height": height},
	}, nil)
}
