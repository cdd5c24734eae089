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
import { installMiniDOM, seen } from './mini-dom.mjs';
import { FakeClock } from './harness.mjs';

const doc = installMiniDOM();
Object.assign(globalThis.window, { location: { origin: 'https://meet.example', pathname: '/m/m1', search: '', hash: '' }, history: { replaceState() {} } });
const { toast, announce } = await import('../static/js/dom.js');
const { setLanguage, t } = await import('../static/js/i18n.js');
const { onFailed } = await import('../static/js/meeting-failed.js');

/** page builds meeting.html's #toasts, #live and #meeting-error, the page in state. */
function page(state) {
  const make = (id, live) => {
    const n = doc.createElement('div');
    n.setAttribute('id', id);
    if (live) n.setAttribute('aria-live', live);
    return n;
  };
  const box = make('toasts');
  box.append(make('toasts-alert', 'assertive'), make('toasts-polite', 'polite'), make('toasts-quiet', 'off'));
  doc.body.replaceChildren(box, make('live', 'polite'), make('meeting-error'));
  doc.body.dataset.state = state;
  return box;
}

/** fail runs onFailed(kind) with the page's parts as stand-ins; prejoinToast, if given, is toasted as the pre-join screen comes back. */
function fail(kind, prejoinToast = '') {
  const deps = {
    reconnect: { failed: () => false, forget() {} },
    showError: (k) => assert.fail(`an error screen for ${k}`),
    setState: (s) => { doc.body.dataset.state = s; },
    lobbyScreen: { hide() {} },
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
    announce(t('lobby.announce')); // waits behind the first
    const own = t('common.copy-failed');
    fail(kind, own);
    assert.equal(doc.body.dataset.state, 'prejoin');
    assert.deepEqual(box.querySelectorAll('.toast').map((n) => seen(n)), [own],
      `${kind}: the waiting room's toasts are left over the pre-join screen`);
    clock.advance(3000);
    const said = doc.getElementById('live').textContent;
    assert.ok(!said.includes(t('lobby.announce')), `${kind}: what waited to be said in the waiting room is said over the pre-join screen: ${said}`);
  }
  for (const key of ['devices.speakerGone', 'settings.password.refused.not-allowed', 'lobby.reknocked', 'lobby.announce', 'common.copy-failed']) assert.notEqual(t(key), key);
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
