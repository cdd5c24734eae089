// The waiting room's status (lobby.js setStatus): the person is told it on coming in (the
// focused heading's description), and after that each change once, through #live. A
// moderator who came and went before the first change was said (a page reloaded, a
// moderator's connection that flapped) left the person told "No moderator is here yet"
// a second time, as news, where nothing had changed for them; and a status withdrawn
// unsaid counted as told, so that the same status coming again was never said.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';
import { liveRegion } from './live-region.mjs';
import { FakeClock } from './harness.mjs';

const doc = installMiniDOM();
const live = liveRegion({ said: [] });
const findById = doc.getElementById;
doc.getElementById = (id) => (id === 'live' ? live : findById(id));
const { setLanguage, t } = await import('../static/js/i18n.js');
const { LobbyScreen } = await import('../static/js/lobby.js');

for (const [tag, id] of [['section', 'lobby'], ['h1', 'lobby-title'], ['video', 'lobby-video'], ['p', 'lobby-status'], ['p', 'lobby-note'], ['button', 'lobby-leave'],
  ['button', 'lobby-mic'], ['button', 'lobby-camera'], ['span', 'lobby-name'], ['span', 'lobby-avatar'], ['p', 'lobby-link'], ['div', 'lobby-video-off']]) {
  const n = doc.createElement(tag);
  n.setAttribute('id', id);
  doc.body.append(n);
}

/** entered: a person come into the waiting room with moderatorPresent, nothing said yet. */
function entered(ctx, moderatorPresent) {
  const clock = new FakeClock();
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = clock.setTimeout; // dom.js announce times with the page's timers
  ctx.after(() => { globalThis.setTimeout = realSetTimeout; });
  const screen = new LobbyScreen({ cameraTrack: null, cameraOn: false, micOn: false }, { leave() {}, toggleMic() {}, toggleCamera() {} });
  screen.enter({ name: 'Ann', moderatorPresent });
  clock.advance(10_000);
  live.said.length = 0;
  return { screen, clock };
}

test('a moderator who came and went before it was said leaves nothing to say', (ctx) => {
  setLanguage('en');
  const { screen, clock } = entered(ctx, false);
  screen.setStatus(true);
  screen.setStatus(false);
  clock.advance(10_000);
  assert.deepEqual(live.said, [], 'the status the person was given on coming in was said again as news');
  // Then one comes and stays: said once; and goes: said once.
  screen.setStatus(true);
  clock.advance(10_000);
  screen.setStatus(false);
  clock.advance(10_000);
  assert.deepEqual(live.said, [t('lobby.waiting'), t('lobby.no-moderator')]);
});

test('a status withdrawn before it was said is said when it comes again', (ctx) => {
  setLanguage('de');
  const { screen, clock } = entered(ctx, true);
  screen.setStatus(false);
  screen.show({ name: 'Ann', note: 'lobby.reknocking' }); // a drop: knocking again, the status on its way
  clock.advance(10_000);
  assert.deepEqual(live.said, [], 'said although the status moved on before it was written');
  screen.setStatus(false); // the knock again's answer: still no moderator, never said
  clock.advance(10_000);
  assert.deepEqual(live.said, [t('lobby.no-moderator')], 'the status the person was never told was not said');
  setLanguage('en');
});
