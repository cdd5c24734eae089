// A raised hand's id is checked as a member's is (keys.js validId: at most MAX_ID_BYTES =
// 64 bytes, the server's bound), as every other per-member memory of the page checks it
// (waiting-ids.test.mjs): hands.js took any string, so a lying server's hands of ids of
// 100,000 characters were kept in the queue, drawn in the list and counted in the chip,
// each with a button that sent the id back to lower it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, append } from './mini-dom.mjs';

const doc = installMiniDOM();
append(doc, 'div', 'live');
for (const id of ['btn-leave', 'btn-people', 'people-list', 'grid']) append(doc, id.startsWith('btn') ? 'button' : 'div', id);
// hands.js marks tiles and people-list rows ('#people-list > .person'), none here, with selectors mini-dom lacks.
const selectAll = doc.querySelectorAll;
doc.querySelectorAll = (selector) => (selector.includes('>') ? [] : selectAll(selector));

const { Hands } = await import('../static/js/hands.js');
const { MAX_ID_BYTES } = await import('../static/js/e2ee/keys.js');

const AT_BOUND = `p-${'y'.repeat(MAX_ID_BYTES - 2)}`; // 64 bytes: a server's id may be this long
const BAD = [`p-${'x'.repeat(100000)}`, `p-${'y'.repeat(MAX_ID_BYTES - 1)}`, 'p-\0x', 'p-x\uD800', '', 7, null];
// Long ids are named by their length: a failure would print 100,000 characters.
const named = (ids) => ids.map((id) => (typeof id === 'string' && id.length > 64 ? `${id.length} characters` : id));

test('a hand whose id no member can have is neither kept, drawn, counted nor offered to lower', (t) => {
  const session = { joined: true, ended: false, participantId: 'p-me', isModerator: true, everyone: () => [{ id: 'p-me', name: 'Mona', self: true }] };
  const lowered = [];
  const hands = new Hands({ session: () => session, send() {}, moderate: (type, p) => lowered.push(p.participantId), openPeople() {} });
  t.after(() => hands.reset());
  hands.update({ hands: ['p-ida', ...BAD.slice(0, 3), AT_BOUND, ...BAD.slice(3), 'p-me'].map((participantId) => ({ participantId })) });
  const want = ['p-ida', AT_BOUND, 'p-me'];
  assert.deepEqual(named(hands.queue), named(want), 'a hand of an id no member can have is kept');
  assert.deepEqual(named(hands.list.children.map((li) => li.dataset.participantId)), named(want), 'a hand of an id no member can have is drawn');
  assert.equal(hands.chip.querySelector('.hands-chip-count').textContent, '3', 'a hand of an id no member can have is counted');
  for (const li of hands.list.children) li.querySelector('.btn-lower-hand').click();
  assert.deepEqual(named(lowered), named(want), 'a moderator is offered to lower a hand of an id no member can have');
});

test('a hand listed twice is one hand, in the place it was first listed', (t) => {
  const session = { joined: true, ended: false, participantId: 'p-me', isModerator: true, everyone: () => [{ id: 'p-me', name: 'Mona', self: true }] };
  const lowered = [];
  const hands = new Hands({ session: () => session, send() {}, moderate: (type, p) => lowered.push(p.participantId), openPeople() {} });
  t.after(() => hands.reset());
  hands.update({ hands: ['p-ida', 'p-bo', 'p-ida', 'p-me', 'p-bo', 'p-ida'].map((participantId) => ({ participantId })) });
  const want = ['p-ida', 'p-bo', 'p-me'];
  assert.deepEqual(hands.queue, want, 'a hand listed twice is kept twice');
  assert.deepEqual(hands.list.children.map((li) => li.dataset.participantId), want, 'a hand listed twice is drawn twice');
  assert.equal(hands.chip.querySelector('.hands-chip-count').textContent, '3', 'a hand listed twice is counted twice');
  for (const li of hands.list.children) li.querySelector('.btn-lower-hand').click();
  assert.deepEqual(lowered, want, 'a moderator is offered to lower a hand listed twice twice');
});
