// early.js runs before the meeting page's own module in a test-mode server
// (web.Options.TestHooks), and only there: it asks the fake cameras for small,
// slow video (320×180 at 10 frames per second instead of the page's 1280×720 at 30).
// A browser test runs several tabs that each encode their camera and decode
// everyone else's in software on a two-core machine; at full size that work alone
// fills both cores and slows every other test. What the tests check (colours,
// pixels, frames decoded, keys) does not depend on the size.
const devices = navigator.mediaDevices;
if (devices && devices.getUserMedia) {
  const getUserMedia = devices.getUserMedia.bind(devices);
  const small = { width: { ideal: 320 }, height: { ideal: 180 }, frameRate: { ideal: 10, max: 10 } };
  devices.getUserMedia = (constraints) => {
    if (constraints && constraints.video && typeof constraints.video === 'object') {
      return getUserMedia({ ...constraints, video: { ...constraints.video, ...small } });
    }
    if (constraints && constraints.video === true) {
      return getUserMedia({ ...constraints, video: small });
    }
    return getUserMedia(constraints);
  };
}
