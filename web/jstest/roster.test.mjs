// The roster rule of the key schedule (web/static/js/e2ee/session-keys.js, roster.js;
// e2ee/FORMAT.md, "Identity per session"): key messages are taken only from ids the
// server announced and that did not leave, keys go only to them, an id that left is
// never verified again, and whatever is refused is counted as a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { Roster, WARNING_KINDS } from '../static/js/e2ee/roster.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { FakeMedia, KeyRelay } from './harness.mjs';

/**
 * Room relays key messages in order like the server, and records every message a
 * member sends (the wire a hostile server sees) so that a test can replay one.
 */
class Room extends KeyRelay {
  constructor(secret) {
    super();
    this.secret = secret;
    this.wire = []; // {from, to, data}
  }
  send(from, to, data) {
    this.wire.push({ from, to, data });
    this.relay(from, to, data);
  }
  async join(id) {
    const meeting = await MeetingCrypto.fromSecret(this.secret);
    const m = { keys: null, media: new FakeMedia(), changes: 0 };
    m.keys = new SessionKeys({ meeting, media: m.media, send: (to, data) => this.send(id, to, data), onChange: () => { m.changes++; } });
    return this.admit(id, m);
  }
  /** sentTo lists the key messages (t: 'key') sent to id after wire position `since`. */
  keysTo(id, since = 0) {
    return this.wire.slice(since).filter((w) => w.to === id && JSON.parse(w.data).t === 'key');
  }
}

/** identityOf returns the first identity message id broadcast (as a server recorded it). */
function identityOf(room, id) {
  const w = room.wire.find((x) => x.from === id && !x.to && JSON.parse(x.data).t === 'identity');
  assert.ok(w, `an identity broadcast by ${id}`);
  return w.data;
}

test('a replayed identity of a member who left gets no key and is a warning', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.join('p-a');
  const b = await room.join('p-b');
  await room.join('p-c');
  const replay = identityOf(room, 'p-c');
  room.leave('p-c');
  await room.settle();
  const mark = room.wire.length;
  for (const m of [a, b]) room.deliver(m, 'p-c', replay);
  await room.settle();
  assert.deepEqual(room.keysTo('p-c', mark), [], 'no key goes to the id that left');
  for (const m of [a, b]) {
    assert.deepEqual(m.keys.verified(), m === a ? ['p-b'] : ['p-a']);
    assert.equal(m.keys.stateOf('p-c'), 'unverified', 'shown as unverified if it were still listed');
    assert.deepEqual(m.keys.warnings(), { count: 1, kinds: { [WARNING_KINDS.DEAD]: 1 } });
  }
  assert.equal(a.keys.code, b.keys.code);
  room.close();
});

test('an identity from an id the server never announced is dropped as a warning', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.join('p-a');
  await room.join('p-b');
  // A valid identity (the link's key) from a member the server hides from a.
  const meeting = await MeetingCrypto.fromSecret(room.secret);
  const hidden = new SessionKeys({ meeting, media: new FakeMedia(), send: (to, data) => room.send('p-x', to, data) });
  await hidden.start('p-x', []);
  await room.settle(); // its broadcast reached a and b, neither of which was told of p-x
  const mark = room.wire.length;
  const before = a.changes;
  room.deliver(a, 'p-x', identityOf(room, 'p-x'));
  await room.settle();
  assert.equal(a.keys.stateOf('p-x'), null);
  assert.deepEqual(a.keys.verified(), ['p-b']);
  assert.deepEqual(room.wire.slice(mark).filter((w) => w.to === 'p-x'), [], 'not even an identity back');
  assert.equal(a.keys.warnings().kinds[WARNING_KINDS.UNKNOWN], 2);
  assert.ok(a.changes > before, 'the page hears of the warning');
  hidden.close();
  room.close();
});

test('a join announced for an id that left keeps it dead', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.join('p-a');
  const b = await room.join('p-b');
  const c = await room.join('p-c');
  const replay = identityOf(room, 'p-c');
  room.leave('p-c');
  await room.settle();
  const mark = room.wire.length;
  // The server announces p-c again and replays its identity.
  a.keys.peerJoined('p-c');
  room.deliver(a, 'p-c', replay);
  await room.settle();
  assert.equal(a.keys.stateOf('p-c'), 'unverified', 'listed again by the server, shown as unverified');
  assert.deepEqual(a.keys.verified(), ['p-b']);
  assert.deepEqual(room.wire.slice(mark).filter((w) => w.to === 'p-c'), [], 'neither identity nor key');
  assert.deepEqual(a.keys.warnings().kinds, { [WARNING_KINDS.REJOIN]: 1, [WARNING_KINDS.DEAD]: 1 });
  assert.deepEqual(b.keys.warnings(), { count: 0, kinds: {} });
  c.keys.close();
  room.close();
});

test('a second different identity for a verified member is refused as a warning', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.join('p-a');
  await room.join('p-b');
  const first = identityOf(room, 'p-b');
  // Another valid identity for p-b (a second tab with the link, the server splicing it in).
  const meeting = await MeetingCrypto.fromSecret(room.secret);
  const twin = new SessionKeys({ meeting, media: new FakeMedia(), send: () => {} });
  const sent = [];
  twin.sendRaw = (to, data) => sent.push(data);
  await twin.start('p-b', []);
  // a's verification of p-b must be done before the code is read: join() returns
  // before every key message has been handled, which on a loaded machine it is not.
  await room.settle();
  assert.deepEqual(a.keys.verified(), ['p-b']);
  const codeBefore = a.keys.code;
  room.deliver(a, 'p-b', first); // the same identity again: nothing to warn about
  await room.settle();
  assert.equal(a.keys.warnings().count, 0);
  room.deliver(a, 'p-b', sent[0]);
  await room.settle();
  assert.deepEqual(a.keys.warnings().kinds, { [WARNING_KINDS.SECOND]: 1 });
  assert.equal(a.keys.code, codeBefore, 'the first verified identity stays');
  twin.close();
  room.close();
});

test('join, leave and resume flows are unchanged and warn about nothing', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.join('p-a');
  const b = await room.join('p-b');
  await room.join('p-c');
  room.leave('p-c');
  await room.settle();
  const d = await room.join('p-d');
  // p-b reloads: a new identity on a new connection, announced as participant_resumed.
  b.keys.close();
  const meeting = await MeetingCrypto.fromSecret(room.secret);
  const media = new FakeMedia();
  const b2 = { keys: new SessionKeys({ meeting, media, send: (to, data) => room.send('p-b', to, data) }), media };
  room.members.set('p-b', b2);
  const mark = room.wire.length;
  a.keys.peerResumed('p-b');
  d.keys.peerResumed('p-b');
  await b2.keys.start('p-b', ['p-a', 'p-d']);
  await room.settle();
  for (const [id, m] of room.members) {
    assert.deepEqual(m.keys.verified().sort(), [...room.members.keys()].filter((x) => x !== id).sort(), id);
    assert.deepEqual(m.keys.warnings(), { count: 0, kinds: {} }, id);
  }
  assert.ok(room.keysTo('p-b', mark).length >= 2, 'the resumed member gets keys again');
  // The safety code is a slow hash: wait for each member's latest computation.
  await Promise.all([a, b2, d].map((m) => m.keys.codePending));
  assert.notEqual(a.keys.code, '');
  assert.equal(a.keys.code, b2.keys.code);
  assert.equal(a.keys.code, d.keys.code);
  room.close();
});

test('Roster: announced ids, dead ids, counted warnings', () => {
  const r = new Roster();
  r.announce(['p-a', 'p-b']);
  assert.ok(r.admits('p-a'));
  assert.equal(r.admits('p-z'), false);
  r.leave('p-a');
  assert.equal(r.admits('p-a'), false);
  assert.equal(r.join('p-a'), false);
  r.announce(['p-a']);
  assert.equal(r.admits('p-a'), false, 'a welcome cannot bring back a dead id either');
  assert.ok(r.join('p-c'));
  r.refuse('p-a');
  r.refuse('p-z');
  assert.deepEqual(r.warnings(), { count: 3, kinds: { [WARNING_KINDS.REJOIN]: 1, [WARNING_KINDS.DEAD]: 1, [WARNING_KINDS.UNKNOWN]: 1 } });
});
