// early.js runs before the meeting page's own module in a test-mode server
// (web.Options.TestHooks), and only there: it asks the fake cameras for small,
// slow video (320×180 at 10 frames per second instead of the page's 1280×720 at 30),
// and the fake microphones for their sound as it is, without the browser's echo
// cancelling, noise suppression and gain control. A browser test runs several tabs
// that each encode their camera and decode everyone else's in software on a two-core
// machine; at full size that work alone fills both cores and slows every other test,
// and the microphones' processing took a seventh of what a meeting of three tabs
// costs (measured 2026-12-02). What the tests check (colours, pixels, frames decoded,
// keys, sound arriving) depends on neither.
const devices = navigator.mediaDevices;
if (devices && devices.getUserMedia) {
  const getUserMedia = devices.getUserMedia.bind(devices);
  const small = { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 10, max: 10 } };
  const raw = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.audio) {
      constraints = { ...constraints, audio: constraints.audio === true ? raw : { ...constraints.audio, ...raw } };
    }
    if (constraints && constraints.video && typeof constraints.video === 'object') {
      return getUserMedia({ ...constraints, video: { ...constraints.video, ...small } });
    }
    if (constraints && constraints.video === true) {
      return getUserMedia({ ...constraints, video: small });
    }
    return getUserMedia(constraints);
  };
}
