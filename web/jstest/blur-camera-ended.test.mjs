// A camera that the browser ends (unplugged, taken by another app) while its background
// blur starts (media.js _blurCamera, blur.js BlurPipeline.start): the person is told the
// camera stopped, as when it ends in the meeting, and the camera is off. Until then the
// failed start was put down to blur ("Background blur could not be started in this
// browser"), which sent the person to turn blur off for nothing; and a camera that ended
// before the pipeline began could come out "on", a frozen blurred picture of nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gridStandIn, loadBlurRuntime, opened, captureShown } from './media-standins.mjs';
import { eventually } from './harness.mjs';

localStorage.setItem('conclave.blur', 'on');
const { LocalMedia } = await import('../static/js/media.js');
const { Controls } = await import('../static/js/controls.js');
const { t: tr } = await import('../static/js/i18n.js');

const shown = captureShown();

test('a camera ended while its blur starts: the camera is blamed, not blur', async (t) => {
  const media = new LocalMedia();
  t.after(() => media.stopAll());
  const controls = new Controls({ media, grid: gridStandIn(), session: () => null });
  const turningOn = controls.toggleCamera(); // the blur runtime is held: still loading
  await eventually(() => opened.some((x) => x.kind === 'video'), 'the camera');
  const raw = opened.find((x) => x.kind === 'video');
  raw.readyState = 'ended'; // as the browser ends a track whose device went away
  raw.dispatchEvent(new Event('ended'));
  loadBlurRuntime();
  await turningOn;
  assert.equal(media.cameraOn, false, 'a camera that is gone came out on');
  assert.equal(media.cameraTrack, null);
  assert.ok(shown.includes(tr('media.camera.ended')), `the camera's end was not said: ${JSON.stringify(shown)}`);
  assert.ok(!shown.includes(tr('blur.unavailable')), 'blur was blamed');
});
