// A device that went away for good (a USB camera or a headset unplugged): the page keeps
// its id as the chosen device, and getUserMedia with that exact id fails
// (OverconstrainedError in Chromium and Firefox, measured). "Turn the camera on again to
// use it or another one" then found "No camera was found", with the laptop's own camera
// right there: turning it on again opens the default device instead. A device chosen by
// its id (the device panel) is still that device or an error.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop } from './media-standins.mjs';
import { eventually } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');
const { Prejoin } = await import('../static/js/prejoin.js');

// Unplugged devices: the browser knows no device with their ids any more.
const gone = new Set();
const gum = navigator.mediaDevices.getUserMedia;
navigator.mediaDevices.getUserMedia = (c) => {
  for (const kind of ['audio', 'video']) {
    const id = c[kind] && c[kind].deviceId && c[kind].deviceId.exact;
    if (id && gone.has(id)) {
      return Promise.reject(Object.assign(new Error('no such device'), { name: 'OverconstrainedError', constraint: 'deviceId' }));
    }
  }
  return gum(c);
};

function unplug(track) {
  gone.add(track.getSettings().deviceId);
  track.readyState = 'ended';
  track.dispatchEvent(new Event('ended'));
}

async function joined(t) {
  const media = new LocalMedia();
  await media.acquire({ mic: true, camera: true });
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

test('a camera unplugged in the meeting: one click turns on another camera', async (t) => {
  const { media, controls, session } = await joined(t);
  unplug(media.cameraTrack);
  await eventually(() => !media.cameraTrack, 'the camera turned off');
  await controls.ops.camera;
  await controls.toggleCamera();
  assert.equal(media.cameraOn, true, 'the camera stays off ("No camera was found") with another camera there');
  assert.ok(session.publisher.transceivers.camera.sender.track, 'the new camera is not sent');
});

test('a microphone unplugged in the meeting: one click turns on another microphone', async (t) => {
  const { media, controls } = await joined(t);
  unplug(media.micTrack);
  await eventually(() => !media.micTrack, 'the microphone turned off');
  await controls.ops.mic;
  await controls.toggleMic();
  assert.equal(media.micOn, true, 'the microphone stays off ("No microphone was found") with another one there');
});

test('a camera unplugged on the pre-join screen: one click turns on another camera', async (t) => {
  const media = new LocalMedia();
  const controls = new Controls({ media, grid: gridStandIn(), session: () => null });
  const prejoin = new Prejoin(media, { mic: false, camera: true, shareURL: 'https://meet.example/m/x', onJoin() {} });
  t.after(() => { prejoin.stop(); media.stopAll(); });
  await prejoin.start();
  unplug(media.cameraTrack);
  await controls.ops.camera;
  await prejoin._toggleCamera();
  assert.equal(media.cameraOn, true, 'the camera stays off with another camera there');
  assert.equal(prejoin.wantCamera, true);
});

test('Rejoin after the microphone was unplugged opens another one', async (t) => {
  const media = new LocalMedia();
  t.after(() => media.stopAll());
  await media.startMic();
  const id = media.micDeviceId;
  unplug(media.micTrack);
  media.stopAll();
  const errors = await media.acquire({ mic: true, camera: false });
  assert.equal(errors.mic, null, `no microphone: ${errors.mic && errors.mic.name}`);
  assert.notEqual(media.micDeviceId, id);
  assert.equal(media.micOn, true);
});

test('a device chosen by its id that is gone is an error, not another device', async (t) => {
  const media = new LocalMedia();
  t.after(() => media.stopAll());
  gone.add('cam-unplugged');
  await assert.rejects(media.startCamera('cam-unplugged'), { name: 'OverconstrainedError' });
  assert.equal(media.cameraTrack, null);
});
