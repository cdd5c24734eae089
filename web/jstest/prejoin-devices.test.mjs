// Device choice on the pre-join screen. A microphone chosen while the microphone is off
// is only remembered (the device stays closed, as a camera chosen while it is off, and
// as in the meeting's device panel). A camera chosen that cannot start (in use by
// another application: NotReadableError) leaves the camera that worked on, as the
// meeting's panel does, or says it is off: the button never says "on" for a camera that
// is not there (a click on it then did nothing, and only a second one opened a camera).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { opened } from './media-standins.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Prejoin } = await import('../static/js/prejoin.js');

const make = (t, opts) => {
  const media = new LocalMedia();
  const prejoin = new Prejoin(media, { shareURL: 'https://meet.example/m/x', onJoin() {}, ...opts });
  t.after(() => { prejoin.stop(); media.stopAll(); });
  return { media, prejoin };
};

test('a microphone chosen while the microphone is off is not opened', async (t) => {
  const { media, prejoin } = make(t, { mic: false, camera: false }); // ?mic=0&camera=0
  await prejoin.start();
  const mics = () => opened.filter((tr) => tr.kind === 'audio' && tr.readyState === 'live').length;
  const before = mics();
  prejoin.micSelect.value = 'mic-other';
  await prejoin._chooseMic();
  assert.equal(mics(), before, 'a microphone was opened while it is off');
  assert.equal(media.micTrack, null);
  assert.equal(media.micDeviceId, 'mic-other', 'the choice is not kept for when it is turned on');
});

test('a chosen camera that is in use keeps the camera that worked', async (t) => {
  const { media, prejoin } = make(t, { mic: false, camera: true });
  await prejoin.start();
  const working = media.cameraDeviceId;
  assert.equal(media.cameraOn, true);
  const gum = navigator.mediaDevices.getUserMedia;
  navigator.mediaDevices.getUserMedia = (c) => {
    if (c.video && c.video.deviceId && c.video.deviceId.exact === 'cam-busy') {
      return Promise.reject(Object.assign(new Error('Could not start video source'), { name: 'NotReadableError' }));
    }
    return gum(c);
  };
  t.after(() => { navigator.mediaDevices.getUserMedia = gum; });
  prejoin.camSelect.value = 'cam-busy';
  await prejoin._chooseCamera();
  assert.equal(media.cameraOn, prejoin.wantCamera, 'the camera button and the camera disagree');
  assert.equal(media.cameraOn, true, 'the camera that worked is off');
  assert.notEqual(media.cameraDeviceId, 'cam-busy');
  assert.ok(working);
});

test('a page without camera access (no secure context) says why once, not once per device', async (t) => {
  const { t: tr } = await import('../static/js/i18n.js');
  const devices = navigator.mediaDevices;
  navigator.mediaDevices = undefined;
  t.after(() => { navigator.mediaDevices = devices; });
  const { prejoin } = make(t, { mic: true, camera: true });
  await prejoin.start();
  const text = prejoin.errorBox.textContent;
  assert.equal(text.split(tr('media.insecure')).length - 1, 1, `said ${text}`);
});

// After a reload the page opens the devices to resume (meeting-start.js startPage); when resuming
// gives up and no name is known, the pre-join screen opens them again (prejoin.start).
// The microphone opened first was left running, out of reach: its light stayed on
// until the tab was closed.
test('opening the devices again stops the microphone opened before', async (t) => {
  const media = new LocalMedia();
  t.after(() => media.stopAll());
  await media.acquire({ mic: true, camera: true }); // for the resume
  const first = { mic: media.micTrack, camera: media.cameraTrack };
  await media.acquire({ mic: true, camera: true }); // the pre-join screen after giving up
  assert.equal(first.camera.readyState, 'ended', 'the first camera is still running');
  assert.equal(first.mic.readyState, 'ended', 'the first microphone is still running');
});
