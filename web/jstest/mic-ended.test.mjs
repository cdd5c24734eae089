// The microphone's track ends (a headset unplugged, a Bluetooth link dropped): the mic
// button opens a microphone again, as if there had been none, instead of flipping the
// mute flag of the dead track.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, opened } from './media-standins.mjs';
import { eventually } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');

test('after the mic track ended, the mic button opens a microphone again', async (t) => {
  const media = new LocalMedia();
  await media.acquire({ mic: true, camera: false });
  let session = null;
  const controls = new Controls({ media, grid: gridStandIn(), session: () => session });
  session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
  t.after(() => { session.end(); media.stopAll(); });
  session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, participants: [] });
  await eventually(() => session.publisher, 'the publisher');
  media.micTrack.readyState = 'ended'; // the device went away
  const mics = () => opened.filter((tr) => tr.kind === 'audio').length;
  const before = mics();
  await controls.toggleMic();
  assert.equal(mics(), before + 1, 'no microphone was asked for');
  assert.equal(media.micOn, true);
  await eventually(() => sent.some((m) => m.type === 'media_state' && m.payload.mic === true), 'the microphone announced on');
});
