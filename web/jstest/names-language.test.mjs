// A member's placeholder name in an encrypted meeting ("…", read out as "Name not yet
// received", until its key envelope brings the name; "Name unknown" when it did not
// verify) and "Guest" for a member without a name were written on its tiles and into the
// participant list in the language of the moment they came: after a switch of language
// the tiles and the list, drawn again in the new language around them (meeting.js
// onLanguageChange), showed and read out "Name unknown" and "Name not yet received" in
// the language switched from until the name changed. Their texts are read from the
// catalogue when read now (e2ee-names.js placeholder), as the waiting list's are.
//
// A tile's text built from the name ("Guest (you)", "Name unknown (screen)") was written
// with the name of the moment, and a switch wrote it again with that name: only a live
// session's members' plain names were given again (Session.languageChanged, now gone).
// The grid follows a switch by itself, every tile it holds, whoever put it there.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, seen, spoken } from './mini-dom.mjs';

const doc = installMiniDOM();
globalThis.ResizeObserver = class { observe() {} disconnect() {} };
const { Grid } = await import('../static/js/grid.js');
const { renderPeople } = await import('../static/js/people.js');
const { MemberNames } = await import('../static/js/e2ee-names.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const { e2eeMethods } = await import('../static/js/session-e2ee.js');
const { Session } = await import('../static/js/session.js');
const { setLanguage } = await import('../static/js/i18n.js');

/**
 * encryptedSession is a joined session of an encrypted meeting as the roster and the
 * names see it (session-roster.js, session-e2ee.js, session.js everyone), with the
 * key schedule's verdict per member in states, its tiles on a real Grid.
 */
function encryptedSession(states) {
  const root = doc.createElement('div');
  doc.body.append(root);
  return Object.assign(Object.create(Session.prototype), rosterMethods, e2eeMethods, {
    ended: false, joined: true, e2ee: true, participantId: 'p-me', name: 'Mia', role: 'moderator',
    media: { micOn: true, cameraOn: false, screenOn: false },
    participants: new Map(), departed: new Set(), strayTracks: new Map(), names: new MemberNames(),
    keys: { peerJoined() {}, peerLeft() {}, stateOf: (id) => states[id] || 'pending' },
    grid: new Grid(root),
    presence: { joined() {}, left() {} }, // the join toasts: presence-toasts.test.mjs
    ui: { rosterChanged() {} },
  });
}

/** tile: a member's camera tile as the eye sees it, its placeholder's tooltip, and as it is read out. */
function tile(session, id) {
  const { nameEl, node } = session.grid.get(id);
  // (mini-dom does not reflect the title property to the attribute setName removes)
  return [nameEl.textContent, nameEl.dataset.namePending ? nameEl.title : null, node.getAttribute('aria-label')];
}

/** listed: a member's name in the participant list, drawn as meeting.js draws it: as seen, and as read out. */
function listed(session, id) {
  const list = doc.createElement('ul');
  renderPeople(list, session.everyone(), { moderator: false });
  const entry = list.children.find((li) => li.dataset.participantId === id);
  const name = entry.querySelector('.person-name');
  return [seen(name), spoken(name)];
}

test('the placeholder names and "Guest" on the tiles and in the participant list follow a switch of language', (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const states = { 'p-ann': 'pending', 'p-bo': 'unverified', 'p-cy': 'verified' };
  const s = encryptedSession(states);
  s.names.received('p-cy', ''); // verified, and sent no name
  for (const id of ['p-ann', 'p-bo', 'p-cy']) s._participant({ id, name: 'from the server', role: 'participant', media: { mic: true } }, true);
  assert.deepEqual(tile(s, 'p-ann'), ['…', 'Name not yet received', 'Name not yet received']);
  assert.deepEqual(tile(s, 'p-bo'), ['Name unknown', 'Name unknown', 'Name unknown']);
  assert.deepEqual(tile(s, 'p-cy'), ['Guest', null, 'Guest']);
  assert.deepEqual(listed(s, 'p-ann'), ['…', 'Name not yet received']);
  assert.deepEqual(listed(s, 'p-bo'), ['Name unknown', 'Name unknown']);

  setLanguage('de'); // the tiles follow by themselves (grid.js); the list is drawn again
  assert.deepEqual(tile(s, 'p-ann'), ['…', 'Name noch nicht empfangen', 'Name noch nicht empfangen'],
    'the tile kept the placeholder of the language switched from');
  assert.deepEqual(tile(s, 'p-bo'), ['Name unbekannt', 'Name unbekannt', 'Name unbekannt']);
  assert.deepEqual(tile(s, 'p-cy'), ['Gast', null, 'Gast'], 'the tile kept "Guest"');
  assert.deepEqual(listed(s, 'p-ann'), ['…', 'Name noch nicht empfangen'],
    'the participant list kept the placeholder of the language switched from');
  assert.deepEqual(listed(s, 'p-bo'), ['Name unbekannt', 'Name unbekannt']);

  // A name that comes replaces the placeholder, and nothing is taken for a change of it.
  let changes = 0;
  s.ui.rosterChanged = () => { changes++; };
  s._namesChanged();
  assert.equal(changes, 0, 'a switch of language was taken for a new name');
  states['p-ann'] = 'verified';
  s.names.received('p-ann', 'Ann');
  s._namesChanged();
  assert.equal(changes, 1);
  assert.deepEqual(tile(s, 'p-ann'), ['Ann', null, 'Ann']);
  assert.deepEqual(listed(s, 'p-ann'), ['Ann', 'Ann']);
});

test('a tile\'s text built from a name follows a switch of language: "Guest (you)", a placeholder\'s screen', (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const s = encryptedSession({ 'p-bo': 'unverified' });
  s.name = ''; // a reload into an encrypted meeting whose tab kept no name: "Guest"
  s.grid.ensure({ participantId: 'p-me', source: 'camera', self: true, name: '' });
  s.renderSelf();
  s._participant({ id: 'p-ann', name: 'x', role: 'participant', media: { mic: true } }, true);
  s._participant({ id: 'p-bo', name: 'x', role: 'participant', media: { mic: false } }, true);
  // The screens come with the subscribe connection (session-roster.js _remoteTrack; no picture here).
  const screen = (id) => {
    s._remoteTrack({ participantId: id, kind: 'video', source: 'screen', track: null, mid: `${id}-s` });
    const tl = s.grid.get(id, 'screen');
    return () => [seen(tl.nameEl), tl.node.getAttribute('aria-label')];
  };
  const pending = screen('p-ann');
  const unknown = screen('p-bo');
  const self = () => { const tl = s.grid.get('p-me'); return [seen(tl.nameEl), tl.node.getAttribute('aria-label')]; };
  assert.deepEqual(self(), ['Guest (you)', 'Guest (you)']);
  assert.deepEqual(pending(), ['… (screen)', 'Name not yet received (screen)']);
  assert.deepEqual(unknown(), ['Name unknown (screen)', 'Name unknown (screen)']);

  setLanguage('de'); // nothing but the switch: no session is told (one may be reconnecting)
  assert.deepEqual(self(), ['Gast (Sie)', 'Gast (Sie)'], 'the own tile kept "Guest" of the language switched from');
  assert.deepEqual(pending(), ['… (Bildschirm)', 'Name noch nicht empfangen (Bildschirm)'],
    'the screen tile kept the placeholder of the language switched from');
  assert.deepEqual(unknown(), ['Name unbekannt (Bildschirm)', 'Name unbekannt (Bildschirm)']);
  assert.deepEqual(tile(s, 'p-bo'), ['Name unbekannt', 'Name unbekannt', 'Name unbekannt, Mikrofon aus']);
});
