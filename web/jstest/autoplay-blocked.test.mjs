// The browser blocks the others' sound until the person interacts with the page (a
// reload resumes the meeting with no click: autoplay policy). The page shows a button
// "Click to hear the others" — and says so once, for a screen reader too: the button
// alone appeared silently, and someone who cannot see it sat in a meeting they could
// not hear without being told why.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop, element } from './media-standins.mjs';
import { eventually } from './harness.mjs';
import { liveRegion } from './live-region.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { t: tr } = await import('../static/js/i18n.js');

const said = [];
const live = liveRegion({ said });
document.getElementById = (id) => (id === 'live' ? live : null);
const button = { hidden: true };
const sink = element();
document.querySelector = ((q) => (sel) => (sel === '#btn-enable-audio' ? button : sel === '#audio-sink' ? sink : q(sel)))(document.querySelector);

test('sound blocked by the browser: the button shows and the person is told, once', async (t) => {
  globalThis.Audio = class { play() { return Promise.reject(Object.assign(new Error('blocked'), { name: 'NotAllowedError' })); } remove() {} };
  const media = new LocalMedia();
  const session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
  t.after(() => { session.end(); media.stopAll(); });
  session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, participants: [{ id: 'p-bob', name: 'Bob' }, { id: 'p-cy', name: 'Cy' }] });
  await eventually(() => session.joined, 'joined');
  session._remoteTrack({ participantId: 'p-bob', kind: 'audio', mid: '1', track: {} });
  session._remoteTrack({ participantId: 'p-cy', kind: 'audio', mid: '2', track: {} });
  await eventually(() => !button.hidden, 'the button shown');
  await new Promise((resolve) => setTimeout(resolve, 120)); // announce() says it a task later
  assert.equal(said.filter((s) => s === tr('meeting.enable-audio')).length, 1, `said: ${JSON.stringify(said)}`);
});
