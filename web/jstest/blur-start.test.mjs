// Background blur starting (media.js, blur.js): until the blurred camera is there,
// which can take a minute, the camera's own track is nowhere a publish connection can
// take it from. Unmuting meanwhile opens the publish connection without a camera; the
// blurred one is sent once it runs; turning the camera off meanwhile stops it all.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sent, serverSays, gridStandIn, uiStandIn, noop, loadBlurRuntime, opened, blurredTracks } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

localStorage.setItem('conclave.blur', 'on');
const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');

test('unmuting while the blurred camera starts never sends the unblurred camera', async (t) => {
  const media = new LocalMedia();
  await media.acquire({ mic: true, camera: false });
  media.setMicMuted(true); // listening only: no publish connection
  let session = null;
  const controls = new Controls({ media, grid: gridStandIn(), session: () => session });
  session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
  t.after(() => { loadBlurRuntime(); session.end(); media.stopAll(); });
  session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, participants: [] });
  await tick(20);
  assert.equal(session.publisher, null);
  const turningOn = controls.toggleCamera(); // the blur model loads meanwhile
  await eventually(() => opened.some((t) => t.kind === 'video'), 'the camera');
  const raw = opened.find((t) => t.kind === 'video');
  assert.equal(media.cameraTrack, null, 'the unblurred camera is the camera track');
  media.setMicMuted(false); // unmute (or hold Space) meanwhile
  await eventually(() => session.publisher && sent.some((m) => m.type === 'publish_offer'), 'the publish offer');
  const sender = () => session.publisher.transceivers.camera && session.publisher.transceivers.camera.sender.track;
  assert.notEqual(sender(), raw, 'the unblurred camera is on the sender');
  loadBlurRuntime();
  await turningOn;
  assert.equal(media.cameraTrack, blurredTracks[0]);
  await eventually(() => sender() === blurredTracks[0], 'the blurred camera sent');
  // Off and on again while the next blur starts: turned off, nothing of it stays live.
  media.stopCamera();
  const again = media.startCamera().catch(() => {});
  await tick(5);
  media.stopCamera();
  await again;
  assert.ok(opened.filter((t) => t.kind === 'video').every((t) => t.readyState === 'ended'), 'a camera stayed on');
  assert.equal(media.cameraTrack, null);
});
