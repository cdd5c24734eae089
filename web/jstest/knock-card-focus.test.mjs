// The knock card's View and close buttons (waiting.js): a moderator who reached one by
// the keyboard, as a knock arrived, kept the focus on it while the card stood; when the
// knock it showed was let in by another moderator, denied, or left, the list that
// followed hid the card with the focus on a hidden button, and the browser dropped it
// to the top of the page. It goes to the waiting-room button, as from the card's Admit
// and Deny all.
import { test, mock } from 'node:test';
import './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, append } from './mini-dom.mjs';
import { liveRegion } from './live-region.mjs';

const doc = installMiniDOM();
globalThis.Element = doc.body.constructor;
for (const [tag, id] of [['button', 'btn-waiting'], ['span', 'waiting-badge'], ['span', 'waiting-count'], ['button', 'waiting-close'],
  ['ul', 'waiting-list'], ['p', 'waiting-empty'], ['button', 'btn-deny-all'], ['button', 'btn-admit-all'], ['div', 'knock-card'],
  ['div', 'toasts'], ['div', 'toasts-polite'], ['main', 'grid']]) append(doc, tag, id);
doc.getElementById('grid').setAttribute('tabindex', '-1');
// The knock card's parts inside it, as meeting.html has them.
for (const [tag, id] of [['span', 'knock-text'], ['button', 'knock-view'], ['button', 'knock-deny-all'], ['button', 'knock-admit'], ['button', 'knock-close']]) {
  const n = doc.createElement(tag);
  n.setAttribute('id', id);
  doc.getElementById('knock-card').append(n);
}
const live = liveRegion({ said: [] });
const findById = doc.getElementById;
doc.getElementById = (id) => (id === 'live' ? live : findById(id));
const $ = (id) => doc.getElementById(id);

const { WaitingRoom } = await import('../static/js/waiting.js');

mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_700_000_000_000 });
const knock = (id, name) => ({ participantId: id, name, since: new Date().toISOString() });

function room(t0) {
  const r = new WaitingRoom({
    admit() {}, deny() {}, admitAll() {}, openPanel() {}, isPanelOpen: () => false,
    moderate: () => '1', settings: () => ({ lobby: true, locked: false }),
  });
  t0.after(() => r.setEnabled(false));
  r.setEnabled(true);
  return r;
}

for (const id of ['knock-view', 'knock-close']) {
  test(`the focus on the knock card's ${id} goes to the waiting-room button when the card goes, not to the page`, (t0) => {
    const r = room(t0);
    r.update([knock('k1', 'Kai')]);
    assert.equal($('knock-card').hidden, false);
    $(id).focus();
    assert.equal(doc.activeElement, $(id));
    // Another knock comes: the card stays, and so does the focus.
    r.update([knock('k1', 'Kai'), knock('k2', 'Kim')]);
    assert.equal(doc.activeElement, $(id), 'the focus left the card while it stood');
    // Both let in elsewhere (another moderator), or gone: the card goes.
    r.update([]);
    assert.equal($('knock-card').hidden, true);
    assert.equal(doc.activeElement, $('btn-waiting'), `the focus was left on the hidden card's ${id}`);
  });
}

// The moderator role lost (another moderator took it, meeting.js applyRole: setEnabled
// false) with the focus on the knock card, or on the waiting-room button (where closing
// the waiting panel gives it back): the card and the button go with the role, and the
// focus goes to the meeting's main region, not to the top of the page (the card's
// View and close buttons gave it to the waiting-room button, hidden with them).
for (const id of ['knock-view', 'knock-close', 'knock-admit', 'btn-waiting']) {
  test(`the focus on ${id} goes to the meeting's main region when the moderator role goes`, (t0) => {
    const r = room(t0);
    r.update([knock('k1', 'Kai')]);
    $(id).focus();
    assert.equal(doc.activeElement, $(id));
    r.setEnabled(false);
    assert.equal($('knock-card').hidden, true);
    assert.equal($('btn-waiting').hidden, true);
    const f = doc.activeElement;
    assert.equal(f, $('grid'), `the focus was left on ${f === doc.body ? 'the body' : f.id} (hidden: ${f.hidden}), want the meeting's main region`);
  });
}
