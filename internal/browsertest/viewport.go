package browsertest

import (
	"context"
	"encoding/base64"
	"fmt"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
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

// SetPhone lays tab out as a phone's screen: width×height CSS pixels at two device
// pixels each. Chromium also emulates a mobile device with a touch screen (the page's
// meta viewport applies, touch events exist, "(hover: none)", "(pointer: coarse)" and
// "(any-pointer: coarse)" match); Firefox over BiDi can only size the viewport and its
// pixel ratio.
func SetPhone(ctx context.Context, tab Tab, width, height int) error {
	type phone interface {
		setPhone(ctx context.Context, width, height int) error
	}
	p, ok := tab.(phone)
	if !ok {
		return fmt.Errorf("browsertest: %T cannot be laid out as a phone", tab)
	}
	return p.setPhone(ctx, width, height)
}

func (t *chromiumTab) setPhone(ctx context.Context, width, height int) error {
	return t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
		if _, err := cdp.Call(ctx, target, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: int64(width), Height: int64(height), DeviceScaleFactor: 2, Mobile: true,
			ScreenOrientation: &emulation.ScreenOrientation{Type: emulation.ScreenOrientationTypePortraitPrimary},
		}); err != nil {
			return err
		}
		_, err := cdp.Call(ctx, target, emulation.SetTouchEmulationEnabled,
			emulation.SetTouchEmulationEnabledParams{Enabled: true, MaxTouchPoints: 5})
		return err
	})
}

func (t *firefoxTab) setPhone(ctx context.Context, width, height int) error {
	if t.gone() {
		return ErrClosed
	}
	return t.browser.conn.call(ctx, "browsingContext.setViewport", map[string]any{
		"context":          t.id,
		"viewport":         map[string]int{"width": width, "height": height},
		"devicePixelRatio": 2,
	}, nil)
}

// ScreenshotAsIs returns a PNG of tab's viewport as it is laid out now (Screenshot
// sets a desktop viewport of its own first), e.g. after SetPhone.
func ScreenshotAsIs(ctx context.Context, tab Tab) ([]byte, error) {
	switch t := tab.(type) {
	case *chromiumTab:
		var png []byte
		err := t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
			r, err := cdp.Call(ctx, target, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
			png = r.Data
			return err
		})
		return png, err
	case *firefoxTab:
		if t.gone() {
			return nil, ErrClosed
		}
		var r struct {
			Data string `json:"data"`
		}
		if err := t.browser.conn.call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": t.id}, &r); err != nil {
			return nil, err
		}
		return base64.StdEncoding.DecodeString(r.Data)
	}
	return nil, fmt.Errorf("browsertest: %T cannot take a screenshot", tab)
}
