// How the meeting page's stay stops (meeting-end.js stopped): what belonged to the
// meeting leaves the screen before the one that follows (left, an error, the waiting
// room again). Among it the toasts of who joined and left (presence-toasts.js): shown
// over "You left" they were news of a meeting the person is no longer in, and a rejoin
// gathered its joins into them. meeting.js, which calls stopped, does not load in Node;
// meeting-end.js does, with the page's parts as stand-ins that record what was asked.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, region, seen, toastStacks } from './mini-dom.mjs';
import { FakeClock } from './harness.mjs';

const doc = installMiniDOM();
const { PresenceToasts } = await import('../static/js/presence-toasts.js');
const { TOAST_OUT_MS, toast, announce } = await import('../static/js/dom.js');
const { setLanguage, t } = await import('../static/js/i18n.js');
const { meetingEnd } = await import('../static/js/meeting-end.js');

/** page builds meeting.html's #toasts and the elements stopped hides. */
function page() {
  const box = toastStacks(doc);
  const others = ['invite-card', 'btn-enable-audio', 'meeting-locked'].map((id) => region(doc, id));
  doc.body.replaceChildren(box, ...others, region(doc, 'live', 'polite'));
  return { box, others };
}

/** parts are the page's parts stopped reaches, each recording the calls it gets in asked. */
function parts(presence, asked) {
  const part = (name, ...methods) => Object.fromEntries(methods.map((m) => [m, (...args) => { asked.push(`${name}.${m}(${args.join(',')})`); }]));
  return {
    held: part('held', 'forget'),
    roster: part('roster', 'renderRoster'),
    presence,
    media: part('media', 'stopScreen', 'stopAll'),
    rules: part('rules', 'reset'),
    panels: part('panels', 'openPanel'),
    waitingRoom: part('waitingRoom', 'setEnabled'),
    e2eeStatus: part('e2eeStatus', 'render'),
    selfLinkWarning: part('selfLinkWarning', 'render'),
    banner: (key) => { asked.push(`banner(${key})`); },
    lobbyScreen: part('lobbyScreen', 'hide'),
    prejoin: part('prejoin', 'stop'),
    reconnect: part('reconnect', 'left'),
    showLeft: () => { asked.push('showLeft()'); },
    currentTimer: () => 0,
    currentSession: () => null,
  };
}

test('the stay stops: the toasts of who joined and left close with it, and the meeting leaves the screen', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const { box, others } = page();
  const presence = new PresenceToasts({ clock, say: () => {} });
  presence.joined({ id: 'p-anna', name: 'Anna' });
  presence.left({ id: 'p-ben', name: 'Ben' });
  const shown = () => box.querySelectorAll('.toast:not(.toast-out)').map((n) => seen(n));
  assert.deepEqual(shown(), ['Anna joined', 'Ben left']);
  const asked = [];
  meetingEnd(parts(presence, asked)).stopped();
  assert.deepEqual(shown(), [], 'the toasts close as the stay stops');
  clock.advance(TOAST_OUT_MS);
  assert.deepEqual(box.querySelectorAll('.toast'), [], 'and are taken away once faded');
  assert.deepEqual(others.map((n) => n.hidden), [true, true, true], 'the invite card, "Enable audio" and "locked" are hidden');
  assert.deepEqual(asked, [
    'held.forget()', 'roster.renderRoster()', 'media.stopScreen()', 'rules.reset()', 'panels.openPanel()',
    'waitingRoom.setEnabled(false)', 'e2eeStatus.render()', 'selfLinkWarning.render()', 'banner(null)',
    'lobbyScreen.hide()', 'prejoin.stop()',
  ]);
});

// The other toasts stayed: a refusal ("Password not saved: only moderators can change
// it.", which the server may send just before the bye of the meeting's end), a hand
// lowered by a moderator, "Password saved", each on screen for 4 to 12 s and in its live
// region, floated over "The meeting has ended" or the waiting room, stale or false
// there, and a screen reader that had not come to one yet read it out after the end
// screen's heading. They go as the stay stops, at once (out of the live regions too, not
// left to fade there), with what waited to be announced; what the next screen toasts
// is its own and stays.
test('the stay stops: every toast of the meeting leaves the screen and its live region, the next screen\'s own toasts stay', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const realSetTimeout = globalThis.setTimeout;
  globalThis.setTimeout = clock.setTimeout; // dom.js toast and announce time with the page's timers
  try {
    const { box } = page();
    const presence = new PresenceToasts({ clock, say: () => {} });
    presence.joined({ id: 'p-anna', name: 'Anna' });
    const refused = t('settings.password.refused.not-allowed');
    const lowered = t('modctl.hands.loweredByModerator');
    toast(refused, { kind: 'error', timeout: 8000 });
    toast(lowered);
    announce(t('meeting.joined'));
    const inStack = (id) => doc.getElementById(id).querySelectorAll('.toast').map((n) => seen(n));
    assert.deepEqual([inStack('toasts-alert'), inStack('toasts-polite')], [[refused], [lowered]]);

    meetingEnd(parts(presence, [])).stopped();
    assert.deepEqual(box.querySelectorAll('.toast').map((n) => seen(n)), [], 'toasts of the meeting are left over the next screen');
    clock.advance(1000);
    assert.equal(doc.getElementById('live').textContent, '', 'what waited to be announced is said over the next screen');

    // The next screen's own toast (let in again from the waiting room) stays its time.
    const letIn = t('meeting.let-in');
    toast(letIn, { kind: 'success' });
    clock.advance(3000); // the old toasts' timers fall due meanwhile
    assert.deepEqual(box.querySelectorAll('.toast:not(.toast-out)').map((n) => seen(n)), [letIn]);
    for (const key of ['settings.password.refused.not-allowed', 'modctl.hands.loweredByModerator', 'meeting.let-in']) assert.notEqual(t(key), key);
  } finally {
    globalThis.setTimeout = realSetTimeout;
  }
});
