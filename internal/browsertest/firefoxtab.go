package browsertest

import (
	"context"
	"fmt"
	"time"
)

// NewTabInLocale opens a tab of b whose page sees locale ("de-DE") as its browser's
// language: navigator.language, navigator.languages and Intl, for this tab only, so a
// test of a German browser needs no browser of its own. Accept-Language is left as it
// is. Firefox only (WebDriver BiDi's emulation.setLocaleOverride); for Chromium it
// is not done: CDP's Emulation.setLocaleOverride is Intl alone, and navigator.languages
// would need the user-agent override's acceptLanguage (untried here).
func NewTabInLocale(ctx context.Context, b Browser, locale string) (Tab, error) {
	if s, ok := b.(sharedBrowser); ok {
		b = s.Browser
	}
	f, ok := b.(*firefoxBrowser)
	if !ok {
		return nil, fmt.Errorf("browsertest: %s cannot open a tab in a locale of its own", b.Name())
	}
	if locale == "" {
		return nil, fmt.Errorf("browsertest: no locale")
	}
	return f.openTab(ctx, locale)
}

// openTab opens a tab; with a locale, one whose navigator.language(s) and Intl say it.
func (b *firefoxBrowser) openTab(ctx context.Context, locale string) (Tab, error) {
	// A tab in a locale of its own is in a user context of its own (the override's
	// scope), removed with the tab; the others share the default one, as Chromium's
	// tabs share theirs (a context per tab was tried and given up: it changes how the
	// shared browsers run every test, for no gain, since a later test's pages cannot
	// find an earlier one's storage anyway: internal/freshport).
	create := map[string]any{"type": "window"}
	var uc struct {
		UserContext string `json:"userContext"`
	}
	if locale != "" {
		if err := b.conn.call(ctx, "browser.createUserContext", map[string]any{}, &uc); err != nil {
			return nil, fmt.Errorf("opening a firefox tab: a user context: %w", err)
		}
		// WebDriver BiDi's emulation.setLocaleOverride, since Firefox 146 also
		// navigator.language(s) (Mozilla bug 1994396); not Accept-Language.
		if err := b.conn.call(ctx, "emulation.setLocaleOverride", map[string]any{
			"locale": locale, "userContexts": []string{uc.UserContext},
		}, nil); err != nil {
			_ = b.removeUserContext(uc.UserContext)
			return nil, fmt.Errorf("opening a firefox tab in %s: %w", locale, err)
		}
		create["userContext"] = uc.UserContext
	}
	var r struct {
		Context string `json:"context"`
	}
	// A "window" rather than a "tab": a tab behind another one is hidden
	// (document.hidden) and throttled, like a real background tab.
	if err := b.conn.call(ctx, "browsingContext.create", create, &r); err != nil {
		if uc.UserContext != "" {
			_ = b.removeUserContext(uc.UserContext)
		}
		return nil, fmt.Errorf("opening a firefox tab: %w", err)
	}
	return &firefoxTab{browser: b, id: r.Context, userContext: uc.UserContext}, nil
}

// removeUserContext removes a tab's user context (its windows with it), best effort:
// a browser that is going away takes it along.
func (b *firefoxBrowser) removeUserContext(id string) error {
	if b.conn.closed() {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return b.conn.call(ctx, "browser.removeUserContext", map[string]any{"userContext": id}, nil)
}
