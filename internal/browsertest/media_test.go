package browsertest

import "testing"

// TestDevicesInEveryWindow: the device list answers in every tab, also in one
// whose window lost the focus to a later one (parallel tests share one browser;
// a Firefox without media.devices.unfocused.enabled waits for the focus).
func TestDevicesInEveryWindow(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		first := openTab(ctx, t, k, url)
		second := openTab(ctx, t, k, url)
		for i, tab := range []Tab{first, second} {
			var r struct {
				Devices int  `json:"devices"`
				Focus   bool `json:"focus"`
			}
			// A deadline inside the page, so that a list that never comes
			// fails with what it knows rather than the test's timeout.
			mustEval(ctx, t, tab, `Promise.race([
				navigator.mediaDevices.enumerateDevices().then(d => d.length),
				new Promise(resolve => setTimeout(() => resolve(-1), 5000)),
			]).then(n => ({ devices: n, focus: document.hasFocus() }))`, &r)
			if r.Devices <= 0 {
				t.Errorf("tab %d (focus %v): enumerateDevices = %d devices (-1: no answer in 5 s)", i, r.Focus, r.Devices)
			}
		}
	})
}

func TestCamera(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)
		var tracks []struct {
			Kind, Label, ReadyState string
		}
		mustEval(ctx, t, tab, `camera().then(s => s.getTracks().map(t => ({kind: t.kind, label: t.label, readyState: t.readyState})))`, &tracks)
		if len(tracks) != 1 || tracks[0].Kind != "video" || tracks[0].ReadyState != "live" {
			t.Fatalf("camera tracks: %+v", tracks)
		}
		mustWait(ctx, t, tab, VideoColorJS("#local")+".width > 0")
		c, err := SampleVideo(ctx, tab, "#local")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s fake camera %q: %v", k, tracks[0].Label, c)
		if !c.HasPicture() || c.Brightness() < 20 {
			t.Fatalf("camera picture is black or missing: %v", c)
		}
		switch k {
		case KindChromium: // green with a moving pattern
			if c.Mean[1] < 100 || c.Mean[0] > 60 || c.Mean[2] > 60 || c.Stddev < 5 {
				t.Errorf("Chromium's fake camera is no longer mostly green: %v", c)
			}
		case KindFirefox: // one flat, saturated colour
			if c.Stddev > 5 || max(c.Mean[0], c.Mean[1], c.Mean[2]) < 150 {
				t.Errorf("Firefox's fake camera is no longer one bright flat colour: %v", c)
			}
		}
	})
}

func TestDisplayMedia(t *testing.T) {
	url := serve(t)
	forEachBrowser(t, func(t *testing.T, k Kind) {
		ctx := testContext(t)
		tab := openTab(ctx, t, k, url)

		const gdm = `navigator.mediaDevices.getDisplayMedia({video: true}).then(s => {
			document.getElementById("local").srcObject = s;
			const t = s.getVideoTracks()[0];
			return {label: t.label, surface: t.getSettings().displaySurface || ""};
		})`
		var got struct{ Label, Surface string }
		err := tab.Eval(ctx, gdm, &got)
		switch k {
		case KindChromium:
			if err != nil || got.Surface != "monitor" {
				t.Errorf("Chromium's own getDisplayMedia: %+v, %v", got, err)
			}
		case KindFirefox:
			t.Logf("Firefox's own getDisplayMedia: %+v, %v", got, err)
		}

		if err := OnNewDocument(ctx, tab, FakeDisplayMediaJS); err != nil {
			t.Fatal(err)
		}
		if err := tab.Navigate(ctx, url); err != nil {
			t.Fatal(err)
		}
		var fake bool
		mustEval(ctx, t, tab, `navigator.mediaDevices.__conclaveFakeDisplay === true`, &fake)
		if !fake {
			t.Fatal("OnNewDocument(FakeDisplayMediaJS) did not run in the new document")
		}
		mustEval(ctx, t, tab, gdm, &got)
		mustWait(ctx, t, tab, VideoColorJS("#local")+".width > 0")
		c, err := SampleVideo(ctx, tab, "#local")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s FakeDisplayMediaJS: %v", k, c)
		if !MagentaTestPattern(c) {
			t.Errorf("FakeDisplayMediaJS picture is not the magenta test pattern: %v", c)
		}
	})
}
