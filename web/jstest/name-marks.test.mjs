// Names that look alike are told apart (name-marks.js, session-marks.js): anyone with a
// link chooses their name, and a late joiner could call itself "Dr. Weber" beside the
// real Dr. Weber, "Аnna" with a Cyrillic А beside Anna, or "Moderator" beside the badge
// of that role, and be shown exactly as they are. Every entry whose name collides is
// shown with a number now, on its tile, in the participant list, on its chat lines, in
// its toasts and on the knock card, and keeps it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, append, seen, spoken, toastStacks } from './mini-dom.mjs';
import { FakeClock, eventually } from './harness.mjs';
import { liveRegion } from './live-region.mjs';

const doc = installMiniDOM();
globalThis.ResizeObserver = class { observe() {} disconnect() {} };
const { Grid } = await import('../static/js/grid.js');
const { Chat } = await import('../static/js/chat.js');
const { renderPeople } = await import('../static/js/people.js');
const { Announcer, HOLD_MS } = await import('../static/js/announcer.js');
const { PresenceToasts } = await import('../static/js/presence-toasts.js');
const { MemberNames } = await import('../static/js/e2ee-names.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const { e2eeMethods } = await import('../static/js/session-e2ee.js');
const { Session } = await import('../static/js/session.js');
const { nameKey } = await import('../static/js/name-marks.js');
const { setLanguage } = await import('../static/js/i18n.js');

/**
 * meeting is a joined moderator's session, Mia's, as the roster, the names and the chat
 * see it: its tiles on a real Grid, its chat a real Chat, its join toasts real ones.
 */
function meeting({ e2ee = false, name = 'Mia' } = {}) {
  const root = doc.createElement('div');
  const list = doc.createElement('ol');
  const box = toastStacks(doc);
  doc.body.replaceChildren(root, list, box);
  const clock = new FakeClock();
  const announcer = new Announcer(liveRegion(), clock);
  const chat = new Chat({ list, input: append(doc, 'textarea'), send: append(doc, 'button'), badge: append(doc, 'span'), onSend: () => true });
  chat.selfId = 'p-me';
  chat.setOpen(true);
  const changed = { waiting: null };
  const s = Object.assign(Object.create(Session.prototype), rosterMethods, e2eeMethods, {
    ended: false, joined: true, e2ee, participantId: 'p-me', name, role: 'moderator',
    media: { micOn: true, cameraOn: false, screenOn: false },
    participants: new Map(), departed: new Set(), strayTracks: new Map(), names: new MemberNames(),
    keys: e2ee ? { peerJoined() {}, peerLeft() {}, stateOf: () => 'verified', decryptChat: async () => 'hello' } : null,
    grid: new Grid(root), chat, chatQueue: [],
    presence: new PresenceToasts({ clock, say: (text, o) => announcer.say(text, o) }),
    ui: { rosterChanged() {}, waitingChanged(w) { changed.waiting = w; } },
    knockWrong: new Set(), waitingSeq: 0, warned: {}, knockNonces: [], identities: [],
  });
  return { s, clock, box, list, changed };
}

/** join lets id in, called name (a plain meeting's server gives it); isNew: after the page. */
function join(s, id, name, isNew = true) {
  s._participant({ id, name, role: 'participant', media: { mic: true } }, isNew);
}

/** shown is how member id is named: its tile (seen, read out), its row of the list (seen, read out). */
function shown(s, id) {
  const { nameEl, node } = s.grid.get(id);
  const people = doc.createElement('ul');
  renderPeople(people, s.everyone(), { moderator: false });
  const row = people.children.find((li) => li.dataset.participantId === id).querySelector('.person-name');
  return [nameEl.textContent, node.getAttribute('aria-label'), seen(row), spoken(row)];
}

const marked = (name) => [name, name, name, name];

test('names that look alike to the eye have one key; names that only resemble each other do not', () => {
  for (const alike of ['Anna', 'anna', 'ANNA', ' Anna ', '\u0410nna', '\u0391nna', 'Ann\u0430', 'ＡＮＮＡ', 'An\u200bna',
    'An\u200dna', 'Anna\ufe0f', '\u202eAnna', 'Anna (2)', 'Anna (1) (3)', 'An\u3164na']) {
    assert.equal(nameKey(alike), 'anna', JSON.stringify(alike));
  }
  assert.equal(nameKey('Dr.   Weber'), nameKey('dr. weber'));
  assert.equal(nameKey('AIice'), nameKey('Alice')); // a capital I is drawn as a small l
  assert.equal(nameKey('\u0410\u041d\u041d\u0410'), nameKey('AHHA')); // Cyrillic capitals Н look like H, not N
  for (const other of ['Anne', 'Anná', 'Hanna', 'Anna B.', 'Аня']) assert.notEqual(nameKey(other), 'anna', other);
  assert.equal(nameKey('\u3164'), '');
  assert.equal(nameKey('(2)'), '(2)'); // a name of its own, not a mark
});

test("a late joiner with a member's name is marked, and so is the member, on tiles, in the list and on chat lines", async (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const { s, clock, box, list } = meeting();
  join(s, 'p-weber', 'Dr. Weber', false); // in the welcome
  join(s, 'p-ann', 'Ann', false);
  assert.deepEqual(shown(s, 'p-weber'), marked('Dr. Weber'), 'nobody else is called so yet');
  join(s, 'p-eve', 'dr.  WEBER');
  assert.deepEqual(shown(s, 'p-weber'), marked('Dr. Weber (1)'));
  assert.deepEqual(shown(s, 'p-eve'), marked('dr.  WEBER (2)'));
  assert.deepEqual(shown(s, 'p-ann'), marked('Ann'), 'a name nobody shares is not marked');
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(box.querySelectorAll('.toast').map(seen), ['dr.  WEBER (2) joined']);

  for (const [messageId, from] of [['m1', 'p-weber'], ['m2', 'p-eve']]) {
    s._chat({ messageId, from, name: 'Dr. Weber', text: 'hello', sentAt: `2026-12-06T10:0${messageId[1]}:00Z` });
  }
  await eventually(() => list.querySelectorAll('.chat-message').length === 2, 'both lines');
  assert.deepEqual(list.querySelectorAll('.chat-name').map(seen), ['Dr. Weber (1)', 'dr.  WEBER (2)']);
  // A switch of language writes the times again from their dateTime property, which mini-dom's <time> lacks.
  for (const time of list.querySelectorAll('time')) time.dateTime = time.getAttribute('datetime');
});

test('the marks stay with their members: one that is left alone keeps its number, a new one takes the next', () => {
  const { s } = meeting();
  join(s, 'p-a', 'Kim', false);
  join(s, 'p-b', 'Kim');
  s._participantLeft('p-a');
  assert.deepEqual(shown(s, 'p-b'), marked('Kim (2)'), 'its number did not move to another');
  join(s, 'p-c', 'KIM');
  assert.deepEqual(shown(s, 'p-c'), marked('KIM (3)'), 'never a number given before');
  join(s, 'p-d', 'Kim (2)'); // passing for the marked one
  assert.deepEqual(shown(s, 'p-d'), marked('Kim (2) (4)'));
  s._participant({ id: 'p-b', role: 'presenter', media: { mic: true } }, false); // an update keeps the name
  assert.deepEqual(shown(s, 'p-b'), marked('Kim (2)'));
});

test("look-alike letters of another script and invisible characters collide with the Latin name", () => {
  const { s } = meeting();
  join(s, 'p-anna', 'Anna', false);
  join(s, 'p-cyr', '\u0410nna'); // Cyrillic capital A
  join(s, 'p-zw', 'An\u200bna');
  join(s, 'p-fill', 'Anna\u3164');
  assert.deepEqual(['p-anna', 'p-cyr', 'p-zw', 'p-fill'].map((id) => shown(s, id)[0]), ['Anna (1)', '\u0410nna (2)', 'Anna (3)', 'Anna (4)']);
});

test("a name like the page's own person's, a role's badge, Guest or You is marked, in either language", (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('de');
  const { s } = meeting();
  const names = ['MIA', 'Moderator', 'Moderation', 'Vortragend', 'presenter', 'Guest', 'Gast', 'You', 'Mia (you)', 'Mia (Sie)', 'Name unknown'];
  names.forEach((name, i) => join(s, `p-${i}`, name));
  assert.deepEqual(names.map((_, i) => shown(s, `p-${i}`)[0]),
    ['MIA (2)', 'Moderator (1)', 'Moderation (1)', 'Vortragend (1)', 'presenter (1)', 'Guest (1)', 'Gast (1)', 'You (1)',
      'Mia (you) (1)', 'Mia (Sie) (1)', 'Name unknown (1)']);
  join(s, 'p-ann', 'Ann');
  assert.equal(shown(s, 'p-ann')[0], 'Ann');
});

test("a name like a screen's tile or the spoken placeholder is marked, in either language", (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const { s } = meeting();
  const names = ['Anna', 'Anna (screen)', 'anna (Bildschirm)', 'Your screen', 'Ihr Bildschirm', 'Name not yet received', 'Name noch nicht empfangen', 'Mia (Sie)'];
  names.forEach((name, i) => join(s, `p-${i}`, name));
  assert.deepEqual(names.map((_, i) => shown(s, `p-${i}`)[0]),
    ['Anna', 'Anna (screen) (1)', 'anna (Bildschirm) (1)', 'Your screen (1)', 'Ihr Bildschirm (1)', 'Name not yet received (1)',
      'Name noch nicht empfangen (1)', 'Mia (Sie) (1)']);
  join(s, 'p-bo', 'Bo (screen)'); // nobody called Bo: no screen of that name
  assert.equal(shown(s, 'p-bo')[0], 'Bo (screen)');
});

test("in an encrypted meeting the names from key envelopes are marked, and the join toast waits for the mark", (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const { s, clock, box } = meeting({ e2ee: true });
  join(s, 'p-weber', 'the server says', false);
  s.names.received('p-weber', 'Dr. Weber');
  s._namesChanged();
  join(s, 'p-eve', 'Dr. Weber too, the server says');
  s.names.received('p-eve', 'Dr. W\u0435ber'); // Cyrillic е
  s._namesChanged();
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(shown(s, 'p-weber'), marked('Dr. Weber (1)'));
  assert.deepEqual(shown(s, 'p-eve'), marked('Dr. W\u0435ber (2)'));
  assert.equal(s._chatName('p-eve').name, 'Dr. W\u0435ber (2)');
  assert.deepEqual(box.querySelectorAll('.toast').map(seen), ['Dr. W\u0435ber (2) joined']);
  s.names.received('p-eve', 'Eve'); // a new name, nobody else's
  s._namesChanged();
  assert.deepEqual(shown(s, 'p-eve'), marked('Eve'));
  assert.deepEqual(shown(s, 'p-weber'), marked('Dr. Weber (1)'));
});

test("a knocker called like a member is marked on the knock card, plain and sealed, and keeps its number once let in", async () => {
  const plain = meeting();
  join(plain.s, 'p-weber', 'Dr. Weber', false);
  await plain.s._waitingList([{ participantId: 'w1', name: 'Dr. Weber', waitingMs: 1000 }, { participantId: 'w2', name: 'Bo', waitingMs: 10 }]);
  assert.deepEqual(plain.changed.waiting.map((w) => w.name), ['Dr. Weber (2)', 'Bo']);
  assert.deepEqual(shown(plain.s, 'p-weber'), marked('Dr. Weber (1)'));
  join(plain.s, 'w1', 'Dr. Weber'); // admitted
  assert.deepEqual(shown(plain.s, 'w1'), marked('Dr. Weber (2)'));

  const sealed = meeting({ e2ee: true });
  join(sealed.s, 'p-weber', '', false);
  sealed.s.names.received('p-weber', 'Dr. Weber');
  sealed.s._namesChanged();
  sealed.s._knockLink = async () => 'verified';
  sealed.s._knockName = async () => 'DR. WEBER'; // as the knocker's page sealed it
  await sealed.s._waitingList([{ participantId: 'w1', waitingMs: 1000 }]);
  assert.deepEqual(sealed.changed.waiting.map((w) => w.name), ['DR. WEBER (2)']);
});

test('the marks survive the page\'s own resume', () => {
  const { s } = meeting();
  join(s, 'p-a', 'Kim', false);
  join(s, 'p-b', 'Kim');
  const after = meeting();
  after.s.nameMarks = s.carriedOver().nameMarks; // as Session's constructor takes it with a resume
  join(after.s, 'p-b', 'Kim', false); // the welcome of the resume, in another order
  join(after.s, 'p-a', 'Kim', false);
  assert.deepEqual(['p-a', 'p-b'].map((id) => shown(after.s, id)[0]), ['Kim (1)', 'Kim (2)']);
});

test("a tile's pin is named after whose tile it is, as the tile shows the name: marked, renamed, in either language", async (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const { Layout } = await import('../static/js/layout.js');
  const { s } = meeting();
  const layout = new Layout(s.grid);
  s.grid.ensure({ participantId: 'p-me', source: 'camera', self: true, name: 'Mia' });
  s.grid.ensure({ participantId: 'p-me', source: 'screen', self: true, name: 'Mia' });
  join(s, 'p-anna', 'Anna Muster', false);
  s.grid.ensure({ participantId: 'p-anna', source: 'screen', name: 'Anna Muster' });
  const pin = (id, source = 'camera') => s.grid.get(id, source).node.querySelector('.tile-pin').getAttribute('aria-label');
  const pins = () => [pin('p-me'), pin('p-me', 'screen'), pin('p-anna'), pin('p-anna', 'screen')];
  assert.deepEqual(pins(), ['Pin Mia (you)', 'Pin your screen', 'Pin Anna Muster', 'Pin Anna Muster (screen)']);

  join(s, 'p-eve', 'anna  MUSTER'); // a collision: both get their mark
  assert.equal(pin('p-anna'), 'Pin Anna Muster (1)');
  assert.equal(pin('p-anna', 'screen'), 'Pin Anna Muster (1) (screen)');
  assert.equal(pin('p-eve'), 'Pin anna  MUSTER (2)');
  layout.pin('p-eve/camera'); // pinned, the name stays; aria-pressed says it
  assert.equal(pin('p-eve'), 'Pin anna  MUSTER (2)');
  assert.equal(s.grid.get('p-eve').node.querySelector('.tile-pin').getAttribute('aria-pressed'), 'true');

  s._participant({ id: 'p-eve', name: 'Eva', role: 'participant', media: { mic: true } }, false); // renamed
  assert.equal(pin('p-eve'), `Pin ${s.grid.get('p-eve').nameEl.textContent}`);
  assert.equal(pin('p-eve'), 'Pin Eva');

  setLanguage('de');
  assert.deepEqual(pins(), ['Mia (Sie) anheften', 'Ihren Bildschirm anheften', 'Anna Muster (1) anheften', 'Anna Muster (1) (Bildschirm) anheften']);
  assert.equal(pin('p-eve'), 'Eva anheften');
  setLanguage('en');
  assert.equal(pin('p-anna'), 'Pin Anna Muster (1)');
});

test("a pin of a tile whose name is not received yet, or that has none, names the person as a sentence does", async (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const { Layout } = await import('../static/js/layout.js');
  const { placeholder, PENDING_TEXT, PENDING_LABEL, UNKNOWN_TEXT } = await import('../static/js/e2ee-names.js');
  const { t: tr } = await import('../static/js/i18n.js');
  const { s } = meeting();
  new Layout(s.grid);
  const pending = placeholder({}, PENDING_TEXT, PENDING_LABEL, tr);
  s.grid.ensure({ participantId: 'p-pen', source: 'camera' }).nameFrom(pending);
  s.grid.ensure({ participantId: 'p-pen', source: 'screen' }).nameFrom(pending);
  s.grid.ensure({ participantId: 'p-unk', source: 'camera' }).nameFrom(placeholder({}, UNKNOWN_TEXT, UNKNOWN_TEXT, tr));
  s.grid.ensure({ participantId: 'p-gst', source: 'camera', name: '' });
  s.grid.ensure({ participantId: 'p-gst', source: 'screen', name: '' });
  const pin = (id, source = 'camera') => s.grid.get(id, source).node.querySelector('.tile-pin').getAttribute('aria-label');
  const pins = () => [pin('p-pen'), pin('p-pen', 'screen'), pin('p-unk'), pin('p-gst'), pin('p-gst', 'screen')];
  // Not "Pin Name not yet received", "Name noch nicht empfangen anheften", "Gast anheften".
  assert.deepEqual(pins(), ['Pin this person', "Pin this person's screen", 'Pin this person', 'Pin Guest', 'Pin Guest (screen)']);
  setLanguage('de');
  assert.deepEqual(pins(), ['Diese Person anheften', 'Bildschirm dieser Person anheften', 'Diese Person anheften', 'Diesen Gast anheften', 'Bildschirm dieses Gastes anheften']);
  s.grid.get('p-pen').nameFrom({ name: 'Anna', nameLabel: null }); // the name received
  assert.equal(pin('p-pen'), 'Anna anheften');
});
