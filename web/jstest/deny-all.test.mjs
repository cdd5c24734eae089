// "Deny all" in the moderator's waiting room (waiting.js, waiting-deny.js): against a
// flood of knocks from a leaked link a moderator could only deny them one by one. The
// button asks first (it cannot be undone), names exactly the knocks shown when it was
// pressed (deny_all's participantIds: one that comes while the question is open keeps
// waiting), is said once when the server has done it (not once per person), and leaves
// the keyboard focus somewhere sensible when the list it emptied hides it.
import { test, mock } from 'node:test';
import './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, append, spoken } from './mini-dom.mjs';
import { liveRegion } from './live-region.mjs';

const doc = installMiniDOM();
globalThis.Element = doc.body.constructor;
for (const [tag, id] of [['button', 'btn-waiting'], ['span', 'waiting-badge'], ['span', 'waiting-count'], ['button', 'waiting-close'],
  ['ul', 'waiting-list'], ['p', 'waiting-empty'], ['button', 'btn-deny-all'], ['button', 'btn-admit-all'], ['div', 'knock-card'],
  ['div', 'toasts'], ['div', 'toasts-polite']]) append(doc, tag, id);
// The knock card's parts inside it, as meeting.html has them.
for (const [tag, id] of [['span', 'knock-text'], ['button', 'knock-view'], ['button', 'knock-deny-all'], ['button', 'knock-admit'], ['button', 'knock-close']]) {
  const n = doc.createElement(tag);
  n.setAttribute('id', id);
  doc.getElementById('knock-card').append(n);
}
const dialog = doc.createElement('dialog');
dialog.setAttribute('id', 'confirm-dialog');
dialog.open = false;
dialog.showModal = () => { dialog.open = true; };
dialog.close = () => { if (!dialog.open) return; dialog.open = false; dialog.dispatch('close'); };
for (const [tag, id] of [['h2', 'confirm-title'], ['p', 'confirm-text'], ['button', 'confirm-cancel'], ['button', 'confirm-ok']]) {
  const n = doc.createElement(tag);
  n.setAttribute('id', id);
  dialog.append(n);
}
doc.body.append(dialog);
// #live records what is announced (dom.js announce).
const announced = [];
const live = liveRegion({ said: announced });
const findById = doc.getElementById;
doc.getElementById = (id) => (id === 'live' ? live : findById(id));
const $ = (id) => doc.getElementById(id);

const { WaitingRoom } = await import('../static/js/waiting.js');
const { Confirmations } = await import('../static/js/moderator.js');
const { GAP_MS, HOLD_MS } = await import('../static/js/announcer.js');
const { t, setLanguage, applyTranslations } = await import('../static/js/i18n.js');
// The buttons' texts, and hidden until there are knocks, as meeting.html has them.
for (const id of ['btn-deny-all', 'knock-deny-all']) {
  $(id).setAttribute('data-i18n', 'waiting.deny-all');
  $(id).hidden = true;
}
applyTranslations(doc);

mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_700_000_000_000 });
const spoken_ = () => { for (let ms = 0; ms <= HOLD_MS + GAP_MS; ms += 10) mock.timers.tick(10); };
const settle = async () => { for (let i = 0; i < 5; i++) await null; };
const since = () => new Date().toISOString();
const knock = (id, name, link) => ({ participantId: id, name, since: since(), ...(link ? { link } : {}) });
const toasts = () => $('toasts-polite').children.map((c) => spoken(c));

/**
 * moderatorRoom is a shown waiting room whose moderate sends as modctl.js does: what to
 * say is kept until the server's `done` (Confirmations), which done(id) plays.
 */
function moderatorRoom(t0, settings = { lobby: true, locked: false }) {
  const sent = [];
  const confirms = new Confirmations();
  const room = new WaitingRoom({
    admit() {}, deny() {}, admitAll() {}, openPanel() {}, isPanelOpen: () => false,
    moderate: (type, payload, said) => {
      const id = String(sent.length + 1);
      sent.push({ id, type, payload });
      confirms.expect(id, said);
      return id;
    },
    settings: () => settings,
  });
  t0.after(() => room.setEnabled(false));
  room.setEnabled(true);
  return { room, sent, done: (id) => confirms.done(id) };
}

test('"Deny all" asks first, denies exactly the knocks shown, and says it once when done', async (t0) => {
  const { room, sent, done } = moderatorRoom(t0);
  // A flood: some links wrong or not checked yet. Deny all denies them whatever their link.
  room.update([knock('w1', 'Spam 1', 'wrong'), knock('w2', 'Spam 2', 'checking'), knock('w3', 'Spam 3', 'verified')]);
  spoken_();
  const before = announced.length;
  const button = $('btn-deny-all');
  assert.equal(button.tagName, 'BUTTON');
  assert.equal(button.hidden, false, 'no "Deny all" beside "Admit all"');
  assert.equal(spoken(button), t('waiting.deny-all'));

  // Cancelled: nothing is sent, and the focus comes back.
  button.focus();
  button.click();
  assert.equal(dialog.open, true, 'denied without asking');
  assert.equal(doc.activeElement, $('confirm-cancel'), 'the question does not take the focus');
  $('confirm-cancel').click();
  await settle();
  assert.deepEqual(sent, []);
  assert.equal(doc.activeElement, button);

  // Asked again and confirmed, while another knock came.
  button.click();
  assert.equal($('confirm-title').textContent, t('waiting.deny-all.title', { count: 3 }));
  assert.equal($('confirm-title').textContent, 'Deny all 3 people waiting?');
  assert.equal($('confirm-text').textContent, t('waiting.deny-all.text', { count: 3 }));
  assert.equal($('confirm-ok').textContent, t('waiting.deny-all.ok'));
  assert.deepEqual(sent, [], 'sent before the moderator confirmed');
  room.update([knock('w1', 'Spam 1', 'wrong'), knock('w2', 'Spam 2', 'checking'), knock('w3', 'Spam 3', 'verified'), knock('late', 'Lea')]);
  $('confirm-ok').click();
  await settle();
  assert.deepEqual(sent.map(({ type, payload }) => ({ type, payload })), [{ type: 'deny_all', payload: { participantIds: ['w1', 'w2', 'w3'] } }],
    'the message does not name exactly the knocks shown when Deny all was pressed');
  assert.equal(doc.activeElement, button, 'the focus did not come back to "Deny all"');

  // The server's one list, then its done: said once, not once per person.
  spoken_();
  const beforeDone = announced.length;
  room.update([knock('late', 'Lea')]);
  done(sent[0].id);
  done(sent[0].id);
  spoken_();
  assert.deepEqual(toasts(), [t('waiting.denied-all', { count: 3 })]);
  assert.equal(announced.length, beforeDone, `the list after the denial was announced: ${announced.slice(beforeDone)}`);
  assert.ok(announced.slice(before).every((s) => !s.includes('Spam')), 'someone denied was announced');

  // The list it left has no one: the buttons go, and the focus goes to closing the panel.
  assert.equal(doc.activeElement, button);
  room.update([]);
  assert.equal(button.hidden, true);
  assert.equal(doc.activeElement, $('waiting-close'), 'the focus was left on a hidden button');
});

test('the knock card offers "Deny all" where it offers "Admit all", and gives the focus to the waiting-room button after', async (t0) => {
  const { room, sent } = moderatorRoom(t0);
  room.update([knock('k1', 'Kai')]);
  assert.equal($('knock-card').hidden, false);
  assert.equal($('knock-deny-all').hidden, true, 'one knock: the card\'s choice is its Admit, the entry\'s Deny');
  room.update([knock('k1', 'Kai'), knock('k2', 'Kim')]);
  const cardButton = $('knock-deny-all');
  assert.equal(cardButton.hidden, false, 'no "Deny all" on the card of two knocks');
  assert.equal(spoken(cardButton), t('waiting.deny-all'));
  cardButton.focus();
  cardButton.click();
  assert.equal($('confirm-title').textContent, t('waiting.deny-all.title', { count: 2 }));
  $('confirm-ok').click();
  await settle();
  assert.deepEqual(sent.map((m) => m.payload), [{ participantIds: ['k1', 'k2'] }]);
  room.update([]);
  assert.equal($('knock-card').hidden, true);
  assert.equal(doc.activeElement, $('btn-waiting'), 'the focus was left on the hidden card');
});

test('the question says whether those denied can come back, in English and German', async (t0) => {
  const cases = [
    [{ lobby: true, locked: false }, 'waiting.deny-all.text'],
    [{ lobby: true, locked: true }, 'waiting.deny-all.text-locked'],
    [{ lobby: false, locked: false }, 'waiting.deny-all.text-no-lobby'],
  ];
  for (const [settings, key] of cases) {
    const { room } = moderatorRoom(t0, settings);
    room.update([knock('a', 'Ada'), knock('b', 'Bo')]);
    $('btn-deny-all').click();
    assert.equal($('confirm-text').textContent, t(key, { count: 2 }), JSON.stringify(settings));
    $('confirm-cancel').click();
    await settle();
    room.setEnabled(false);
  }
  // One person waiting: the question names the person, not a count ("1 person").
  const one = moderatorRoom(t0);
  one.room.update([knock('a', 'Ada')]);
  $('btn-deny-all').click();
  assert.equal($('confirm-title').textContent, 'Deny the person waiting?');
  $('confirm-cancel').click();
  await settle();
  one.room.setEnabled(false);
  setLanguage('de');
  const eine = moderatorRoom(t0);
  eine.room.update([knock('a', 'Ada')]);
  $('btn-deny-all').click();
  assert.equal($('confirm-title').textContent, 'Die wartende Person ablehnen?');
  $('confirm-cancel').click();
  await settle();
  eine.room.setEnabled(false);
  t0.after(() => setLanguage('en'));
  const { room } = moderatorRoom(t0);
  room.update([knock('a', 'Ada'), knock('b', 'Bo'), knock('c', 'Cy')]);
  assert.equal(spoken($('btn-deny-all')), 'Alle ablehnen');
  $('btn-deny-all').click();
  assert.equal($('confirm-title').textContent, 'Alle 3 wartenden Personen ablehnen?');
  $('confirm-cancel').click();
  await settle();
});

test('a list that hides "Deny all" while its question is open leaves the focus on what is left after', async (t0) => {
  const { room, sent } = moderatorRoom(t0);
  // The knock card: one of its two knocks goes while the question is open, and the
  // card's "Deny all" with it; cancelled, the focus goes to the card's Admit.
  room.update([knock('k1', 'Kai'), knock('k2', 'Kim')]);
  const cardButton = $('knock-deny-all');
  cardButton.focus();
  cardButton.click();
  room.update([knock('k2', 'Kim')]);
  assert.equal(cardButton.hidden, true);
  $('confirm-cancel').click();
  await settle();
  assert.deepEqual(sent, []);
  assert.equal(doc.activeElement, $('knock-admit'), 'the focus was given back to the card\'s hidden "Deny all"');

  // The panel: everyone goes while the question is open; the question closes by itself
  // (nobody is left to deny), and the focus goes to closing the panel.
  room.update([knock('w1', 'Spam 1'), knock('w2', 'Spam 2')]);
  const button = $('btn-deny-all');
  button.focus();
  button.click();
  room.update([]);
  assert.equal(button.hidden, true);
  await settle();
  assert.equal(dialog.open, false);
  assert.deepEqual(sent, []);
  assert.equal(doc.activeElement, $('waiting-close'), 'the focus was given back to the hidden "Deny all"');
});

// The question counted the knocks shown when "Deny all" was pressed, however many of
// them had left, been let in or been denied by another moderator since: "Deny all 3
// people waiting?" stood over a list of one, "Denied 3 people waiting" followed, and
// with nobody left its OK denied nobody. It counts now those of them still waiting (a
// knock that knocked again among them, by the knock it continues; one that came
// meanwhile not), names only them, and closes by itself once none is left, saying that
// nobody was denied.
test('the question counts those shown that still wait, and closes saying nobody was denied once none does', async (t0) => {
  t0.after(() => setLanguage('en'));
  setLanguage('en');
  const { room, sent, done } = moderatorRoom(t0);
  room.update([knock('w1', 'Spam 1'), knock('w2', 'Spam 2'), knock('w3', 'Spam 3')]);
  $('btn-deny-all').click();
  assert.equal($('confirm-title').textContent, 'Deny all 3 people waiting?');
  // Spam 2 leaves, Spam 3's page knocks again (a new id that continues w3), Lea knocks.
  room.update([knock('w1', 'Spam 1'), { ...knock('w3b', 'Spam 3'), continues: 'w3' }, knock('late', 'Lea')]);
  assert.equal(dialog.open, true);
  assert.equal($('confirm-title').textContent, 'Deny all 2 people waiting?', 'the question counts knocks that have gone, or one that came');
  assert.equal($('confirm-text').textContent, t('waiting.deny-all.text', { count: 2 }));
  // Another moderator lets Spam 1 in.
  room.update([{ ...knock('w3b', 'Spam 3'), continues: 'w3' }, knock('late', 'Lea')]);
  assert.equal($('confirm-title').textContent, 'Deny the person waiting?');
  $('confirm-ok').click();
  await settle();
  assert.deepEqual(sent.map(({ type, payload }) => ({ type, payload })), [{ type: 'deny_all', payload: { participantIds: ['w3b'] } }],
    'the message names knocks that have gone, or one that came during the question');
  done(sent[0].id);
  spoken_();
  assert.equal(toasts().at(-1), 'Denied 1 person waiting');

  // In German: both shown leave while the question is open.
  setLanguage('de');
  room.update([knock('a', 'Ada'), knock('b', 'Bo')]);
  const button = $('btn-deny-all');
  button.focus();
  button.click();
  assert.equal($('confirm-title').textContent, 'Alle 2 wartenden Personen ablehnen?');
  room.update([knock('b', 'Bo'), knock('c', 'Cy')]);
  assert.equal($('confirm-title').textContent, 'Die wartende Person ablehnen?');
  room.update([knock('c', 'Cy')]);
  await settle();
  assert.equal(dialog.open, false, 'the question stays open with nobody left to deny');
  assert.equal(toasts().at(-1), 'Niemand wurde abgelehnt: Die Wartenden sind nicht mehr im Warteraum.');
  assert.equal(sent.length, 1, 'sent a deny_all with nobody left to deny');
  assert.equal(doc.activeElement, button, 'the focus did not come back to "Deny all"');
  // The question cancelled, the toast is not said.
  button.click();
  $('confirm-cancel').click();
  room.update([]);
  await settle();
  assert.equal(toasts().filter((x) => x.startsWith('Niemand')).length, 1, 'a question answered says nobody was denied when the list empties after');
  // The waiting room no longer this moderator's (demoted): the question closes, without a word.
  room.update([knock('d', 'Di')]);
  button.click();
  room.setEnabled(false);
  await settle();
  assert.equal(dialog.open, false, 'the question stays open after the waiting room went');
  assert.equal(sent.length, 1);
  assert.equal(toasts().filter((x) => x.startsWith('Niemand')).length, 1, 'a waiting room gone is said to have left nobody to deny');
});
