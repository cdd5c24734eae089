// Push-to-talk (push-to-talk.js): held, then Ctrl pressed (e.g. Ctrl+E, the camera
// shortcut) and Space let go before Ctrl: the keyup carries ctrlKey and still lets go:
// the microphone is muted again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop } from './media-standins.mjs';
import { eventually, tick } from './harness.mjs';

const handlers = {};
document.addEventListener = (type, fn) => { handlers[type] = fn; };
globalThis.Element = class {};
const qs = document.querySelector;
document.querySelector = (sel) => (sel === 'dialog[open]' ? null : qs(sel));
const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { Controls } = await import('../static/js/controls.js');
const { PushToTalk } = await import('../static/js/push-to-talk.js');

const key = (type, mods = {}) => handlers[type]({ code: 'Space', key: ' ', repeat: false, target: null, preventDefault() {}, ctrlKey: false, metaKey: false, altKey: false, ...mods });

test('Space let go while Ctrl is down mutes the microphone again', { timeout: 10000 }, async (t) => {
  const media = new LocalMedia();
  await media.acquire({ mic: true, camera: false });
  media.setMicMuted(true);
  let session = null;
  const controls = new Controls({ media, grid: gridStandIn(), session: () => session });
  session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
  t.after(() => session.end());
  session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, participants: [] });
  await tick(10);
  new PushToTalk({ media, controls, session: () => session, canUnmute: () => true, unmuted() {} });
  key('keydown'); // hold Space: talking
  assert.equal(media.micOn, true);
  // Ctrl goes down (Ctrl+E turns the camera on while talking), Space comes up first.
  key('keyup', { ctrlKey: true });
  await tick(10);
  await eventually(() => media.micMuted, 'the microphone muted again');
  assert.equal(document.body.dataset.pushToTalk, undefined);
});
