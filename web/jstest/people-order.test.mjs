// The people panel (people.js): the list was in join order, so in a class of 30 the
// teacher searched for a name among the order people happened to come in. It is
// sorted now: oneself first, then the moderators, then everyone else, each by display
// name in the collation of the page's language; it holds still while people speak or
// turn their media on and off. And the person menu button is a disclosure of a group
// of buttons (aria-expanded, aria-controls), not a "menu" popup it never was.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
const { renderPeople, sortPeople } = await import('../static/js/people.js');
const { participantActions } = await import('../static/js/moderator.js');

const list = doc.createElement('ul');
doc.body.append(list);
const shownIds = () => list.querySelectorAll('li.person').map((li) => li.dataset.participantId);

// In join order, as Session.everyone() gives them (oneself first).
const joined = [
  { id: 'p-me', name: 'Ute', role: 'participant', media: {}, self: true },
  { id: 'p-zoe', name: 'zoë', role: 'participant', media: {} },
  { id: 'p-10', name: 'Anna 10', role: 'participant', media: {} },
  { id: 'p-mod2', name: 'Bernd', role: 'moderator', media: {} },
  { id: 'p-ae', name: 'Ärne', role: 'presenter', media: {} },
  { id: 'p-2', name: 'Anna 2', role: 'participant', media: {} },
  { id: 'p-mod1', name: 'Adele', role: 'moderator', media: {} },
  { id: 'p-dots', name: '…', nameLabel: 'Name not yet known', role: 'participant', media: {} },
  { id: 'p-bea', name: 'bea', role: 'participant', media: {} },
  { id: 'p-bea2', name: 'Bea', role: 'participant', media: {} },
];

test('oneself, then moderators, then everyone by name in the page\'s collation', () => {
  renderPeople(list, joined, {});
  assert.deepEqual(shownIds(), ['p-me', 'p-mod1', 'p-mod2', 'p-2', 'p-10', 'p-ae', 'p-bea', 'p-bea2', 'p-zoe', 'p-dots']);
  // German collation puts Ä with A as well; Swedish after Z.
  assert.deepEqual(sortPeople(joined.filter((p) => !p.self && p.role !== 'moderator'), 'de').map((p) => p.id),
    ['p-2', 'p-10', 'p-ae', 'p-bea', 'p-bea2', 'p-zoe', 'p-dots']);
  assert.deepEqual(sortPeople([joined[4], joined[1]], 'sv').map((p) => p.id), ['p-zoe', 'p-ae']);
});

test('speaking, muting and sharing never move anyone; a role or name change does', () => {
  renderPeople(list, joined, { moderator: true, actions: (p) => participantActions(p, () => {}) });
  const before = shownIds();
  const busy = joined.map((p, i) => ({ ...p, media: { mic: i % 2 === 0, camera: i % 3 === 0, screen: i === 5 }, speaking: i === 9 }));
  renderPeople(list, busy, { moderator: true, actions: (p) => participantActions(p, () => {}) });
  assert.deepEqual(shownIds(), before, 'the list moved while people spoke and changed their media');
  renderPeople(list, joined.map((p) => (p.id === 'p-zoe' ? { ...p, role: 'moderator' } : p)), {});
  assert.deepEqual(shownIds().slice(0, 4), ['p-me', 'p-mod1', 'p-mod2', 'p-zoe']);
});

test('a meeting of 300 is sorted with one collator, not one per comparison', () => {
  const Real = Intl.Collator;
  let made = 0;
  Intl.Collator = function Collator(...args) { made++; return new Real(...args); };
  const localeCompare = String.prototype.localeCompare;
  let compared = 0;
  String.prototype.localeCompare = function counted(...args) { compared++; return localeCompare.apply(this, args); };
  try {
    const many = Array.from({ length: 300 }, (_, i) => ({ id: `p-${i}`, name: `Person ${(i * 7919) % 300}`, role: i % 50 ? 'participant' : 'moderator', media: {} }));
    for (let i = 0; i < 5; i++) renderPeople(list, many, {});
    assert.equal(shownIds().length, 300);
    assert.equal(shownIds()[0], 'p-0'); // a moderator named "Person 0"
    assert.ok(made <= 1, `${made} collators made for five drawings`);
    assert.equal(compared, 0, 'localeCompare sets up a collator for each comparison');
  } finally {
    Intl.Collator = Real;
    String.prototype.localeCompare = localeCompare;
  }
});

test('the person menu button is a disclosure: aria-expanded and aria-controls, no aria-haspopup', () => {
  const draw = () => renderPeople(list, joined, { moderator: true, actions: (p) => participantActions(p, () => {}) });
  draw();
  const button = () => list.querySelector('.participant-menu[data-participant-id="p-zoe"]');
  assert.equal(button().getAttribute('aria-haspopup'), null, 'it announces a menu, and opens a group of buttons');
  assert.equal(button().getAttribute('aria-expanded'), 'false');
  assert.equal(button().getAttribute('aria-controls'), null);
  button().click();
  const group = list.querySelector('.person-actions');
  assert.equal(button().getAttribute('aria-expanded'), 'true');
  assert.ok(group.id, 'the open group has no id');
  assert.equal(button().getAttribute('aria-controls'), group.id);
  assert.equal(group.getAttribute('role'), 'group');
  assert.equal(doc.getElementById(group.id), group);
  button().click();
  assert.equal(button().getAttribute('aria-expanded'), 'false');
  assert.equal(button().getAttribute('aria-controls'), null);
});

test('with a person\'s actions open the list still holds one list item per person, the group inside its row', () => {
  renderPeople(list, joined, { moderator: true, actions: (p) => participantActions(p, () => {}) });
  list.querySelector('.participant-menu[data-participant-id="p-zoe"]').click();
  const group = list.querySelector('.person-actions');
  assert.ok(group, 'no group of actions opened');
  // A list's children are list items (WCAG 1.3.1): an <li> that is a group is none, and
  // a screen reader said "list, 10 items" of nine people.
  assert.equal(list.children.length, joined.length, 'the list has more items than people');
  for (const item of list.children) {
    assert.equal(item.tagName, 'LI');
    assert.equal(item.getAttribute('role'), null, `the item ${item.className} is no list item`);
  }
  assert.equal(group.parentNode, list.querySelector('li.person[data-participant-id="p-zoe"]'), 'the group is not in its person\'s row');
  assert.equal(group.getAttribute('role'), 'group');
  list.querySelector('.participant-menu[data-participant-id="p-zoe"]').click();
});
