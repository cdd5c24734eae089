package browsertest

import (
	"context"
	"encoding/base64"
	"fmt"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// Options set up a browser as a person may have set up theirs.
type Options struct {
	// WebGL gives Firefox working WebGL (Mesa's software renderer): it runs in a
	// window on a virtual X display of its own (Xvfb, started and stopped with it)
	// instead of headless, which has none. Without Xvfb, LaunchWith skips the test
	// (fails it under $CI). Headless Chromium has WebGL anyway (SwiftShader).
	WebGL bool
}

// LaunchWith launches a browser of kind k of its own (not shared) with o, for the
// test t, closed when t ends; see Launch.
func LaunchWith(t testing.TB, k Kind, o Options) Browser {
	t.Helper()
	path := findOrSkip(t, k)
	if o.WebGL && k == KindFirefox {
		if _, err := findXvfb(); err != nil {
			skipOrFatal(t, err.Error())
		}
	}
	b, err := launch(k, path, o)
	if err != nil {
		t.Fatalf("browsertest: launching %s: %v", k, err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Logf("browsertest: closing %s: %v", k, err)
		}
	})
	return b
}

// Screenshot sets tab's viewport to width×height CSS pixels and returns a PNG of it.
func Screenshot(ctx context.Context, tab Tab, width, height int) ([]byte, error) {
	type shooter interface {
		screenshot(ctx context.Context, width, height int) ([]byte, error)
	}
	s, ok := tab.(shooter)
	if !ok {
		return nil, fmt.Errorf("browsertest: %T cannot take a screenshot", tab)
	}
	return s.screenshot(ctx, width, height)
}

func (t *chromiumTab) screenshot(ctx context.Context, width, height int) ([]byte, error) {
	var png []byte
	err := t.call(ctx, func(ctx context.Context, target *chromedp.Target) error {
		if _, err := cdp.Call(ctx, target, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
			Width: int64(width), Height: int64(height), DeviceScaleFactor: 1,
		}); err != nil {
			return err
		}
		r, err := cdp.Call(ctx, target, page.CaptureScreenshot, page.CaptureScreenshotParams{Format: page.CaptureScreenshotFormatPng})
		png = r.Data
		return err
	})
	return png, err
}

func (t *firefoxTab) screenshot(ctx context.Context, width, height int) ([]byte, error) {
	if t.gone() {
		return nil, ErrClosed
	}
	if err := t.browser.conn.call(ctx, "browsingContext.setViewport", map[string]any{
		"context": t.id, "viewport": map[string]any{"width": width, "height": height},
	}, nil); err != nil {
		return nil, err
	}
	var r struct {
		Data string `json:"data"`
	}
	if err := t.browser.conn.call(ctx, "browsingContext.captureScreenshot", map[string]any{"context": t.id}, &r); err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(r.Data)
}
