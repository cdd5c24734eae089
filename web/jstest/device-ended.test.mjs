// A device that goes away in the meeting (a headset unplugged, a USB camera pulled, a
// Bluetooth link dropped, another app taking the camera): the browser ends its track.
// The person is told at once, the others are told it is off (not a frozen picture, a
// microphone shown on that sends nothing), and the buttons say off, so one click opens
// a device again. Until then nothing listened for the track's end: the mic button still
// said "on", the others still saw the microphone on, and nobody said a word.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, captureShown } from './media-standins.mjs';
import { eventually } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');
const { Prejoin } = await import('../static/js/prejoin.js');
const { t: tr } = await import('../static/js/i18n.js');

// What the page shows in toasts and says in its live region.
const shown = captureShown();

/** unplug ends a capture track as the browser does when its device goes away. */
function unplug(track) {
  track.readyState = 'ended';
  track.dispatchEvent(new Event('ended'));
}

async function joined(t, { mic = true, camera = true } = {}) {
  const media = new LocalMedia();
  await media.acquire({ mic, camera });
  let session = null;
  const controls = new Controls({ media, grid: gridStandIn(), session: () => session });
  session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
  t.after(() => { session.end(); media.stopAll(); });
  sent.length = 0;
  session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, participants: [] });
  await eventually(() => session.publisher, 'the publisher');
  await session.publisher.negotiate();
  return { media, controls, session };
}

const senderOf = (session, source) => session.publisher.transceivers[source].sender;

test('a microphone unplugged in the meeting: told, shown off, the others told', async (t) => {
  const { media, controls, session } = await joined(t);
  shown.length = 0;
  assert.ok(senderOf(session, 'microphone').track, 'the microphone is sent');
  unplug(media.micTrack);
  await eventually(() => sent.some((m) => m.type === 'media_state' && m.payload.mic === false), 'the others told the microphone is off');
  await controls.ops.mic;
  assert.equal(media.micOn, false);
  assert.equal(senderOf(session, 'microphone').track, null, 'a dead track left on the sender');
  assert.ok(shown.includes(tr('media.mic.ended')), `the person was not told: ${JSON.stringify(shown)}`);
  // One click opens a microphone again.
  await controls.toggleMic();
  assert.equal(media.micOn, true);
  assert.ok(senderOf(session, 'microphone').track, 'the new microphone is not sent');
});

test('a camera unplugged in the meeting: told, shown off, the others told', async (t) => {
  const { media, controls, session } = await joined(t);
  shown.length = 0;
  unplug(media.cameraTrack);
  await eventually(() => sent.some((m) => m.type === 'media_state' && m.payload.camera === false), 'the others told the camera is off');
  await controls.ops.camera;
  assert.equal(media.cameraOn, false);
  assert.equal(senderOf(session, 'camera').track, null, 'a dead track left on the sender');
  assert.ok(shown.includes(tr('media.camera.ended')), `the person was not told: ${JSON.stringify(shown)}`);
  await controls.toggleCamera();
  assert.equal(media.cameraOn, true, 'one click does not turn the camera on again');
});

test('a track the page stopped itself is no device gone', async (t) => {
  const { media, controls } = await joined(t);
  shown.length = 0;
  const before = sent.length;
  await controls.toggleCamera(); // off: the page stops the track (no 'ended' event in a browser)
  const cam = media.pendingCamera || media.cameraTrack;
  assert.equal(cam, null);
  assert.ok(!shown.includes(tr('media.camera.ended')));
  assert.ok(sent.length > before);
});

test('a camera unplugged on the pre-join screen: the button says off, one click turns it on', async (t) => {
  const media = new LocalMedia();
  const controls = new Controls({ media, grid: gridStandIn(), session: () => null });
  const prejoin = new Prejoin(media, { mic: true, camera: true, shareURL: 'https://meet.example/m/x', onJoin() {} });
  t.after(() => { prejoin.stop(); media.stopAll(); });
  await prejoin.start();
  shown.length = 0;
  unplug(media.cameraTrack);
  await eventually(() => shown.includes(tr('media.camera.ended')), 'the person told');
  await controls.ops.camera;
  assert.equal(prejoin.wantCamera, false, 'the pre-join screen still wants the camera that is gone');
  await prejoin._toggleCamera();
  assert.equal(media.cameraOn, true, 'one click does not turn the camera on again');
  assert.equal(prejoin.wantCamera, true);
});
