// Package browsertest drives real headless browsers from Go tests: Chromium
// over the DevTools protocol (chromedp) and Firefox ESR over its built-in
// WebDriver BiDi (a small client on gorilla/websocket), behind one Tab
// interface, so that a meeting test can put a Chromium participant and a
// Firefox participant in the same call.
//
// # Use
//
//	func TestMain(m *testing.M) { browsertest.Main(m) }
//
//	func TestCall(t *testing.T) {
//		b := browsertest.Shared(t, browsertest.KindFirefox) // may launch it
//		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
//		defer cancel()
//		tab, err := b.NewTab(ctx)
//		if err != nil {
//			t.Fatal(err)
//		}
//		defer tab.Close()
//		err = tab.Navigate(ctx, srv.URL) // an httptest server on 127.0.0.1
//		…
//		err = tab.Eval(ctx, `document.querySelector("#join").click()`, nil)
//		err = tab.WaitFor(ctx, browsertest.VideoColorJS("video.remote")+".width > 0")
//	}
//
// Shared launches one browser per kind per test binary (a launch costs ≈1 s
// for Chromium, ≈3 s for Firefox, up to 20 s on a busy machine; a tab
// almost nothing), so start a test's timeout after it. Main closes them
// when the tests are done. Each test opens its own tabs. Chromium and
// Firefox (and Launch) start a private browser that t.Cleanup closes. Every
// browser has a fresh profile in a temporary directory, removed on Close,
// and dies with the test binary even when that binary is killed (Pdeathsig).
// Tests of the shared browsers may run in parallel (t.Parallel), each with its
// own tabs; on a 2-core machine two at a time is the most that pays (the e2e
// package's TestMain: its tabs encode and decode video in software, and three
// at a time took longer). A test that measures sound or draws with WebGL stays
// sequential.
//
// A missing browser skips the test, unless $CI is set: then it fails it. The
// browsers are found at $CONCLAVE_CHROMIUM or /usr/bin/chromium-headless-shell,
// chromium-headless-shell (Chromium's headless shell: the engine without the
// browser around it, which costs less CPU), /usr/bin/chromium, chromium,
// chromium-browser, google-chrome; and $CONCLAVE_FIREFOX or
// /usr/lib/firefox-esr/firefox-esr, firefox-esr, firefox. Set
// $CONCLAVE_BROWSER_LOG=1 to copy the browsers' output to stderr.
//
// WebGL: headless Chromium has it (SwiftShader); headless Firefox has none
// (no GL driver without a display). LaunchWith(t, KindFirefox,
// Options{WebGL: true}) starts a Firefox that has it: a window on a virtual X
// display of its own (Xvfb -displayfd, found as $CONCLAVE_XVFB or Xvfb;
// stopped with the browser), drawn by Mesa's software renderer (llvmpipe).
// The shared Firefox stays headless.
//
// Sound: headless Chromium runs WebAudio without a sound device; Firefox
// runs it only with a sound output, so every Firefox gets a PulseAudio server
// of its own (pulseaudio -n with one null sink, a silent output paced by the
// clock, found as $CONCLAVE_PULSEAUDIO or pulseaudio; stopped with the
// browser) through $PULSE_SERVER. Without pulseaudio Firefox still runs but
// its AudioContexts stay suspended; a test that measures what a page plays
// calls NeedsSound(t, b), which skips it then (fails it under $CI).
//
// # JavaScript
//
// Eval and WaitFor take one expression, not statements (wrap statements in
// an arrow function: `(() => { …; return x })()`); a trailing semicolon or
// // comment is fine. Promises are awaited. The value travels as
// JSON.stringify, so DOM nodes come back as {} and undefined as null. Each
// evaluation counts as a user gesture (transient user activation), so
// element.click() followed by getDisplayMedia or play() works. Exceptions
// and rejections come back as *JSError with the message, such as
// "TypeError: x is null". WaitFor polls every 100 ms and gives up after
// DefaultWaitTimeout if ctx has no deadline.
//
// # Media and WebRTC, as measured here (Chromium 156, Firefox ESR 153)
//
// Both browsers grant getUserMedia without a prompt and give fake devices:
// see VideoColorJS for what the fake cameras show. Autoplay is allowed.
// Both accept any TLS certificate (Chromium --ignore-certificate-errors,
// Firefox's acceptInsecureCerts), so that a test can serve its pages over
// HTTPS from 127.0.0.1 with a certificate of its own; they only ever load
// pages from the tests' own loopback servers.
// Each tab is in the foreground (Chromium opens each target in its own
// window; the Firefox tabs are BiDi "window" contexts, because a second
// "tab" context hides the first one: document.hidden, throttled timers).
// The tabs of a browser share its storage per origin, as a person's tabs
// do: a test's pages must come from a port no earlier test had
// (internal/freshport), or they find its storage. NewTabInLocale opens a
// Firefox tab that sees another language as its browser's
// (navigator.language(s), Intl), in a user context of its own.
//
// getDisplayMedia:
//
//   - Chromium: works without a prompt or picker: with
//     --use-fake-device-for-media-stream and --use-fake-ui-for-media-stream
//     it returns a fake screen track (label "screen:-3:0", displaySurface
//     "monitor", 800×450, 30 fps) and, with audio: true, a fake audio track.
//     No --auto-select-desktop-capture-source is needed. Its picture is the
//     same green pac-man as the fake camera, so pixels cannot tell a screen
//     share from a camera.
//   - Firefox: fails with NotFoundError ("The object can not be found
//     here"), with media.navigator.streams.fake, and also with
//     media.getusermedia.screensharing.enabled,
//     media.getusermedia.browser.enabled and
//     media.navigator.permission.fake. (The legacy Firefox-only
//     getUserMedia({video: {mediaSource: "window"}}) returns a white
//     1366×682 capture; no app calls that.)
//
// So Firefox needs FakeDisplayMediaJS (with OnNewDocument, or Eval after each
// navigation) before the test clicks "share screen"; it is useful in
// Chromium too, for a screen share that pixels can tell from the camera
// (MagentaTestPattern).
//
// ICE: Chromium gets --disable-features=WebRtcHideLocalIpsWithMdns merged
// into chromedp's own disable-features value, and Firefox gets
// media.peerconnection.ice.obfuscate_host_addresses=false and
// media.peerconnection.ice.loopback=true, so candidates carry real
// addresses, never mDNS .local names. Neither browser offers a 127.0.0.1
// candidate: both gather on the machine's other interfaces (here 192.0.2.2
// and fd00::2), so a call between two tabs runs over such an address, which
// never leaves the machine. A Pion server on 127.0.0.1 must offer its
// loopback candidate (SettingEngine.SetIncludeLoopbackCandidate) and sees
// the browser as a peer-reflexive candidate. A machine with only a loopback
// interface gathers nothing.
package browsertest
