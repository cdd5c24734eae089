// In an encrypted meeting a member whose sealed name has not opened is shown as "…" and one
// that did not verify as "Name unknown"; the participant list and the waiting room read the
// "…" out as "Name not yet received" (its label, e2ee-names.js fillName). The raised
// hands' list and the chat's sender line showed the "…" without it, so a screen reader
// heard "…" or nothing; both carry the label now, in the language switched to. And a
// moderator's own hand was lowered by "Lower Mona (you)'s hand": it says "Lower your hand".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, append, seen, spoken } from './mini-dom.mjs';
import { eventually } from './harness.mjs';

const doc = installMiniDOM();
append(doc, 'div', 'live');
for (const id of ['btn-leave', 'btn-people', 'people-list', 'grid']) append(doc, id.startsWith('btn') ? 'button' : 'div', id);
// hands.js marks tiles and people-list rows ('#people-list > .person'), none here, with selectors mini-dom lacks.
const selectAll = doc.querySelectorAll;
doc.querySelectorAll = (selector) => (selector.includes('>') ? [] : selectAll(selector));

const { Hands } = await import('../static/js/hands.js');
const { Chat } = await import('../static/js/chat.js');
const { placeholder, PENDING_TEXT, PENDING_LABEL, UNKNOWN_TEXT } = await import('../static/js/e2ee-names.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const { t, setLanguage } = await import('../static/js/i18n.js');

const media = { mic: true, camera: true, screen: true };
/** The members as the roster has them: a placeholder's texts read from the catalogue when read. */
const pending = () => placeholder({ id: 'p-pen', role: 'participant', media }, PENDING_TEXT, PENDING_LABEL, t);
const unknown = () => placeholder({ id: 'p-unk', role: 'participant', media }, UNKNOWN_TEXT, UNKNOWN_TEXT, t);
const named = (id, name) => ({ id, name, nameLabel: null, role: 'participant', media });

/** label is what a screen reader reads of a name element (mini-dom spoken), and its tooltip: [read, title]. */
const label = (node) => [spoken(node), node.getAttribute('title')];

function moderatorHands(t0) {
  // As session.js everyone() gives them: the own entry first, the others' names read when listed.
  const everyone = () => [{ ...named('p-me', 'Mona'), self: true }, { ...pending() }, { ...unknown() }, named('p-ida', 'Ida')];
  const session = { joined: true, ended: false, participantId: 'p-me', isModerator: true, everyone };
  const hands = new Hands({ session: () => session, send() {}, moderate() {}, openPeople() {} });
  t0.after(() => { hands.reset(); setLanguage('en'); });
  hands.update({ hands: everyone().map((p) => ({ participantId: p.id })) });
  return () => hands.list.children; // each test's own (#hands-list is the first one's)
}

test('a raised hand whose name is a placeholder is read out by its label, in the language switched to', (t0) => {
  setLanguage('en');
  const entries = moderatorHands(t0);
  for (const [lang, want] of [
    ['en', [['Mona (you)', null], ['Name not yet received', 'Name not yet received'], ['Name unknown', 'Name unknown'], ['Ida', null]]],
    ['de', [['Mona (Sie)', null], ['Name noch nicht empfangen', 'Name noch nicht empfangen'], ['Name unbekannt', 'Name unbekannt'], ['Ida', null]]],
    ['en', [['Mona (you)', null], ['Name not yet received', 'Name not yet received'], ['Name unknown', 'Name unknown'], ['Ida', null]]],
  ]) {
    setLanguage(lang); // the list is drawn again at the switch (hands.js onLanguageChange)
    const names = entries().map((li) => li.querySelector('.hand-name'));
    assert.deepEqual(names.map(label), want, lang);
    // Shown as the participant list shows it.
    assert.deepEqual(names.map(seen), [want[0][0], '…', want[2][0], 'Ida'], lang);
  }
});

test('a moderator lowers their own hand by "Lower your hand", in English and German', (t0) => {
  setLanguage('en');
  const entries = moderatorHands(t0);
  for (const [lang, own, ida] of [['en', 'Lower your hand', "Lower Ida's hand"], ['de', 'Ihre Hand senken', 'Hand von Ida senken']]) {
    setLanguage(lang);
    const lower = entries().map((li) => li.querySelector('.btn-lower-hand').getAttribute('aria-label'));
    assert.equal(lower[0], own, lang);
    assert.equal(lower[3], ida, lang);
  }
});

test('the chat\'s sender line of a member whose name is a placeholder is read out by its label, in the language switched to', async (t0) => {
  t0.after(() => setLanguage('en'));
  setLanguage('en');
  const list = append(doc, 'ol');
  const chat = new Chat({ list, input: append(doc, 'textarea'), send: append(doc, 'button'), badge: append(doc, 'span'), onSend: () => true });
  chat.selfId = 'p-me';
  chat.setOpen(true);
  // As an encrypted meeting's session gives the chat its lines (session-roster.js).
  const session = Object.assign(Object.create(rosterMethods), {
    joined: true, ended: false, e2ee: true, participantId: 'p-me', name: 'Mia', chat, chatQueue: [], participants: new Map(),
    keys: { decryptChat: async () => 'Slide 4, please' },
    _shownName: (id) => ({ 'p-pen': pending(), 'p-unk': unknown() })[id],
  });
  // Two from the same sender within a minute: the second is grouped under the first's header.
  const sentAt = '2026-12-06T10:00:00Z';
  for (const [messageId, from] of [['m1', 'p-pen'], ['m2', 'p-pen'], ['m3', 'p-unk']]) {
    session._chat({ messageId, from, name: 'from the server', text: 'sealed', sentAt });
    await eventually(() => list.querySelectorAll('.chat-message').length === Number(messageId[1]), messageId);
  }
  // A switch of language writes the times again from their dateTime property, which mini-dom's <time> lacks.
  const dated = () => { for (const time of list.querySelectorAll('time')) time.dateTime = time.getAttribute('datetime'); };
  dated();
  // The first line's header, the second's hidden sender (grouped under it), the third's header.
  const senders = () => list.querySelectorAll('.chat-message').map((m) => m.querySelector('.chat-name') || m.querySelector('.chat-sender-name'));
  for (const [lang, wait, unk] of [['en', 'Name not yet received', 'Name unknown'], ['de', 'Name noch nicht empfangen', 'Name unbekannt'], ['en', 'Name not yet received', 'Name unknown']]) {
    setLanguage(lang);
    assert.deepEqual(senders().map(label), [[wait, wait], [wait, wait], [unk, unk]], lang);
    assert.deepEqual(senders().map(seen), ['…', '…', unk], lang);
  }
  assert.ok(senders()[1].classList.contains('chat-sender-name'), 'the second line is grouped under the first');

  // A waiting text whose sender's name came with its key shows the name, and no label.
  const line = chat.add({ messageId: 'm4', from: 'p-pia', sentAt, pending: true }, pending());
  const pia = list.querySelectorAll('.chat-message').at(-1).querySelector('.chat-name');
  assert.deepEqual(label(pia), ['Name not yet received', 'Name not yet received']);
  line.fill('Agreed', 'Pia');
  dated();
  setLanguage('de');
  assert.deepEqual(label(pia), ['Pia', null]);
});
