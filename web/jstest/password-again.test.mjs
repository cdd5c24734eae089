// A password asked, wrong or guessed too often brings the pre-join screen back with its
// password field (meeting-failed.js onFailed). Come from the waiting room (sent back, or
// knocking again after a drop, when a moderator changed the password meanwhile), the
// toasts of the screen before stayed over it (a speaker gone, a refusal that came after
// the bye) and were still read out by their live regions, and what waited to be
// announced ("Your request was kept …") was said over the password field; a bye clears
// both (meeting-end.js stopped), this screen did not. Come from the pre-join screen
// itself (Join pressed), its own toasts stay: they are that screen's news.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, region, seen, toastStacks } from './mini-dom.mjs';
import { FakeClock } from './harness.mjs';

const doc = installMiniDOM();
Object.assign(globalThis.window, { location: { origin: 'https://meet.example', pathname: '/m/m1', search: '', hash: '' }, history: { replaceState() {} } });
const { toast, announce } = await import('../static/js/dom.js');
const { setLanguage, t } = await import('../static/js/i18n.js');
const { onFailed } = await import('../static/js/meeting-failed.js');
const { LobbyScreen, SENT_BACK } = await import('../static/js/lobby.js');

/** page builds meeting.html's #toasts, #live and #meeting-error, the page in state. */
function page(state) {
  const box = toastStacks(doc);
  doc.body.replaceChildren(box, region(doc, 'live', 'polite'), region(doc, 'meeting-error'));
  doc.body.dataset.state = state;
  return box;
}

/** lobbyScreen is meeting.html's waiting screen, entered with note (a key, or none), the knock on its way. */
function lobbyScreen(note = '') {
  for (const [tag, id] of [['section', 'lobby'], ['h1', 'lobby-title'], ['video', 'lobby-video'], ['p', 'lobby-status'], ['p', 'lobby-note'], ['button', 'lobby-leave'],
    ['button', 'lobby-mic'], ['button', 'lobby-camera'], ['span', 'lobby-name'], ['span', 'lobby-avatar'], ['p', 'lobby-link'], ['div', 'lobby-video-off']]) {
    const n = doc.createElement(tag);
    n.setAttribute('id', id);
    doc.body.append(n);
  }
  const screen = new LobbyScreen({ cameraTrack: null, cameraOn: false, micOn: false }, { leave() {}, toggleMic() {}, toggleCamera() {} });
  screen.enter({ name: 'Ann', note });
  return screen;
}

/** fail runs onFailed(kind) with the page's parts as stand-ins; prejoinToast, if given, is toasted as the pre-join screen comes back. */
function fail(kind, prejoinToast = '', lobby = lobbyScreen()) {
  const deps = {
    reconnect: { failed: () => false, forget() {} },
    showError: (k) => assert.fail(`an error screen for ${k}`),
    setState: (s) => { doc.body.dataset.state = s; },
    lobbyScreen: lobby,
    prejoin: { needsPassword: true, resume() { if (prejoinToast) toast(prejoinToast, { kind: 'error' }); }, askPassword() {} },
    password: 'old',
  };
  onFailed(kind, {}, deps);
}

function withClock(ctx) {
  const clock = new FakeClock();
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = clock.setTimeout; // dom.js toast and announce time with the page's timers
  ctx.after(() => { globalThis.setTimeout = realSetTimeout; });
  return clock;
}

test('the password asked again from the waiting room clears its toasts and what waited to be said', (ctx) => {
  setLanguage('en');
  const clock = withClock(ctx);
  for (const kind of ['wrong_password', 'password_required', 'too_many_attempts']) {
    const box = page('lobby');
    const gone = t('devices.speakerGone');
    const refused = t('settings.password.refused.not-allowed');
    toast(gone);
    toast(refused, { kind: 'error', timeout: 8000 });
    announce(t('lobby.reknocked'));
    announce(t('lobby.waiting')); // waits behind the first (lobby.js: a moderator came)
    const own = t('common.copy-failed');
    fail(kind, own);
    assert.equal(doc.body.dataset.state, 'prejoin');
    assert.deepEqual(box.querySelectorAll('.toast').map((n) => seen(n)), [own],
      `${kind}: the waiting room's toasts are left over the pre-join screen`);
    clock.advance(3000);
    const said = doc.getElementById('live').textContent;
    assert.ok(!said.includes(t('lobby.waiting')), `${kind}: what waited to be said in the waiting room is said over the pre-join screen: ${said}`);
  }
  for (const key of ['devices.speakerGone', 'settings.password.refused.not-allowed', 'lobby.reknocked', 'lobby.waiting', 'common.copy-failed']) assert.notEqual(t(key), key);
});

test('the password asked after Join on the pre-join screen keeps that screen\'s toasts', (ctx) => {
  setLanguage('en');
  withClock(ctx);
  const box = page('joining');
  const copied = t('meeting.invite.copied');
  toast(copied, { kind: 'success' });
  fail('password_required');
  assert.deepEqual(box.querySelectorAll('.toast').map((n) => seen(n)), [copied], 'the pre-join screen\'s own toast went');
});

// Sent back by a moderator, the page knocks again at once, and a password may meet it (a
// moderator who came in by the moderator link never typed the meeting's; or it changed
// meanwhile): the waiting screen that said why the meeting was left was gone within a
// moment, and its announcement with the waiting room's others. The pre-join screen asked
// for a password with no word of why the person was no longer in the meeting.
test('the password asked of a person sent back to the waiting room still says that a moderator sent them back', (ctx) => {
  const clock = withClock(ctx);
  for (const lang of ['en', 'de']) {
    setLanguage(lang);
    for (const kind of ['password_required', 'wrong_password']) {
      const box = page('lobby');
      const lobby = lobbyScreen(SENT_BACK);
      lobby.setStatus(true); // the server's answer to the knock, announced (lobby.js), not said yet
      fail(kind, '', lobby);
      const toasts = box.querySelectorAll('.toast').map((n) => seen(n));
      assert.deepEqual(toasts, [t('lobby.sent-back')], `${lang} ${kind}: the pre-join screen does not say that a moderator sent the person back`);
      assert.ok(doc.getElementById('toasts-polite').contains(box.querySelector('.toast')), 'not read out as it comes');
      clock.advance(3000);
      assert.ok(!doc.getElementById('live').textContent.includes(t('lobby.waiting')), 'the waiting room\'s announcement is said over the pre-join screen');
    }
    // Knocked again after a drop, not sent back: nothing of the kind.
    const box = page('lobby');
    fail('wrong_password', '', lobbyScreen('lobby.reknocking'));
    assert.deepEqual(box.querySelectorAll('.toast').map((n) => seen(n)), [], 'a knock again after a drop said the person was sent back');
  }
  setLanguage('en');
});
