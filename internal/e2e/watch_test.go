package e2e

import (
	"context"
	"fmt"
	"testing"
)

// watch has p's tab record, from now on, whether js ever holds. The tab checks js again
// on every change to its page, so what is shown only for a while (a reaction, a toast)
// is seen even when the test looks later: a loaded machine can take longer to poll one
// tab than the thing stays in another. waitSeen waits for the record.
func watch(ctx context.Context, t *testing.T, p *participant, key, js string) {
	t.Helper()
	src := fmt.Sprintf(`(() => {
		const seen = window.__watched ??= {};
		const holds = () => { try { return !!(%s); } catch { return false; } };
		seen[%q] = holds();
		if (seen[%[2]q]) return true;
		const o = new MutationObserver(() => { if (holds()) { seen[%[2]q] = true; o.disconnect(); } });
		o.observe(document.documentElement, { subtree: true, childList: true, attributes: true, characterData: true });
		return true;
	})()`, js, key)
	if err := p.tab.Eval(ctx, src, nil); err != nil {
		t.Fatalf("%s (%s): watch %s: %v", p.name, p.kind, key, err)
	}
}

// waitSeen waits until what watch(…, key, …) records has held in p's tab.
func waitSeen(ctx context.Context, t *testing.T, p *participant, key, what string) {
	t.Helper()
	waitFor(ctx, t, p, what, fmt.Sprintf(`window.__watched?.[%q] === true`, key))
}

// toastShown is the check for a toast whose text matches re (a JavaScript regular
// expression literal) being on the page.
func toastShown(re string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(".toast")].some(e => %s.test(e.textContent))`, re)
}
