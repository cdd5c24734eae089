// The pre-join screen: another camera is chosen and the camera button clicked while
// the new one opens. The camera's state stays one: the click waits for the choice (it
// is not taken as "off" while a camera opens), so what the button says is what Join
// sends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sent, gridStandIn, uiStandIn, noop, gum, releaseGum } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Prejoin } = await import('../static/js/prejoin.js');
const { Session } = await import('../static/js/session.js');

test('a camera click while a chosen camera opens does not leave the camera on behind an "off" button', async (t) => {
  const media = new LocalMedia();
  let session = null;
  const prejoin = new Prejoin(media, {
    mic: false, camera: true, shareURL: 'https://meet.example/m/x',
    onJoin: ({ name }) => {
      session = new Session({ meetingId: 'm1', name, media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
      session.start();
    },
  });
  t.after(() => { gum.hold = false; releaseGum(); if (session) session.end(); media.stopAll(); });
  await prejoin.start();
  assert.equal(media.cameraOn, true);
  prejoin.nameInput.value = 'Ann';
  gum.hold = true;
  prejoin.camSelect.value = 'cam-other';
  const choosing = prejoin._chooseCamera(); // the person picks the other camera…
  await tick(5);
  await prejoin._toggleCamera(); // …and clicks the camera button while it opens
  releaseGum();
  gum.hold = false;
  await choosing;
  assert.equal(media.cameraOn, prejoin.wantCamera, 'the camera and the button disagree');
  await prejoin.join();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  const join = sent.find((m) => m.type === 'join');
  assert.equal(join.payload.media.camera, media.cameraOn, 'the join says another camera state than the camera');
});
