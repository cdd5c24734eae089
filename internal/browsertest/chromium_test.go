package browsertest

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

func TestChromiumCommandLine(t *testing.T) {
	b := Shared(t, KindChromium)
	cb, ok := unwrap(b).(*chromiumBrowser)
	if !ok {
		t.Fatalf("%T is not a *chromiumBrowser", unwrap(b))
	}
	pid := chromiumPID(cb)
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Skipf("cannot read the command line: %v", err)
	}
	var features []string
	for arg := range strings.SplitSeq(string(raw), "\x00") {
		if v, ok := strings.CutPrefix(arg, "--disable-features="); ok {
			features = append(features, v)
		}
	}
	if len(features) != 1 {
		t.Fatalf("want one --disable-features flag, got %q", features)
	}
	for _, f := range []string{"WebRtcHideLocalIpsWithMdns", "Translate"} {
		if !strings.Contains(features[0], f) {
			t.Errorf("--disable-features=%s lacks %s", features[0], f)
		}
	}
}

func unwrap(b Browser) Browser {
	if s, ok := b.(sharedBrowser); ok {
		return s.Browser
	}
	return b
}

func chromiumPID(b *chromiumBrowser) int {
	c := chromedp.FromContext(b.ctx)
	if c == nil || c.Browser == nil || c.Browser.Process() == nil {
		return 0
	}
	return c.Browser.Process().Pid
}
