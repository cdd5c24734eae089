package browsertest

import (
	"strings"
	"testing"
)

// webglRendererJS names the renderer of a WebGL 2 and a WebGL 1 context of a fresh
// canvas, or why there is none.
const webglRendererJS = `(() => {
  const r = {};
  for (const kind of ["webgl2", "webgl"]) {
    const c = document.createElement("canvas");
    let why = "";
    c.addEventListener("webglcontextcreationerror", (e) => { why = e.statusMessage; });
    const gl = c.getContext(kind);
    r[kind] = gl ? String(gl.getParameter(gl.RENDERER)) : "none: " + why;
  }
  return r;
})()`

// TestFirefoxWebGL: a Firefox launched with Options.WebGL (on its own Xvfb display)
// has WebGL 1 and 2, which headless Firefox lacks; closing it stops its display.
func TestFirefoxWebGL(t *testing.T) {
	b := LaunchWith(t, KindFirefox, Options{WebGL: true})
	ctx := testContext(t)
	tab, err := b.NewTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := tab.Navigate(ctx, "about:blank"); err != nil {
		t.Fatal(err)
	}
	var got map[string]string
	if err := tab.Eval(ctx, webglRendererJS, &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("renderers: %v", got)
	for _, kind := range []string{"webgl2", "webgl"} {
		if r := got[kind]; r == "" || strings.HasPrefix(r, "none") {
			t.Errorf("%s: %q", kind, r)
		}
	}

	x := b.(*firefoxBrowser).display
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-x.exited:
	default:
		t.Error("Xvfb still runs after Close")
	}
}
