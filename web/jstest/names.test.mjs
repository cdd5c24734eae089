// Display names in an end-to-end encrypted meeting (e2ee/FORMAT.md, "Names"): a name
// travels only inside its sender's key envelope (session-keys.js), so only verified
// members get it and nothing the server relays carries it in the clear; the page shows
// a placeholder until it came (e2ee-names.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { MemberNames, PENDING_TEXT, PENDING_LABEL, UNKNOWN_TEXT } from '../static/js/e2ee-names.js';
import { FakeMedia, KeyRelay } from './harness.mjs';

class Room extends KeyRelay {
  constructor() {
    super();
    this.wire = []; // every key message as the server relays it
  }
  record(m, from, to, msg) {
    this.wire.push(JSON.stringify(msg));
  }
  async join(id, secret, name) {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const got = new Map(); // what onName reported
    const keys = new SessionKeys({
      meeting, media: new FakeMedia(), name,
      send: (to, data) => this.relay(id, to, data),
      sendBatch: (envelopes) => { for (const { to, data } of envelopes) this.relay(id, to, data); },
      onName: (pid, n) => got.set(pid, n),
    });
    return this.admit(id, { id, keys, got });
  }
}

test('names reach verified members inside key envelopes, never a wrong-link member', async () => {
  const room = new Room();
  const secret = randomBytes(16);
  const names = { 'p-a': 'Ann Quill', 'p-b': 'Bea 🎻 Ümlaut', 'p-c': '' };
  const a = await room.join('p-a', secret, names['p-a']);
  const b = await room.join('p-b', secret, names['p-b']);
  const c = await room.join('p-c', secret, names['p-c']);
  const w = await room.join('p-w', randomBytes(16), 'Mallory');
  await room.settle();
  for (const m of [a, b, c]) {
    for (const [id, name] of Object.entries(names)) {
      if (id === m.id) continue;
      assert.equal(m.keys.nameOf(id), name, `${m.id} has ${id}'s name`);
      assert.equal(m.got.get(id), name, `${m.id} was told ${id}'s name`);
    }
    assert.equal(m.keys.nameOf('p-w'), undefined, 'no name from a wrong-link member');
    assert.equal(m.got.has('p-w'), false);
  }
  assert.equal(w.got.size, 0, 'the wrong-link member gets no name');
  for (const id of Object.keys(names)) assert.equal(w.keys.nameOf(id), undefined);
  // Nothing the server relayed carries a name in the clear. (Each string has a character
  // base64 never uses, or is long enough, so that ciphertext cannot spell it by chance:
  // "Bea" alone is in about one run of 130 among the ~2,000 base64 characters relayed.)
  for (const n of ['Ann Quill', 'Bea 🎻', 'Mallory', 'Ümlaut']) {
    assert.ok(room.wire.every((s) => !s.includes(n)), `"${n}" on the wire`);
  }
  // A rotation (someone left) keeps the names; the one who left has none any more.
  room.leave('p-c');
  await room.settle();
  assert.equal(a.keys.nameOf('p-b'), 'Bea 🎻 Ümlaut');
  assert.equal(a.keys.nameOf('p-c'), undefined);
  room.close();
});

test('a name too long for an envelope is cut to 200 bytes at a character boundary', async () => {
  const room = new Room();
  const secret = randomBytes(16);
  const a = await room.join('p-a', secret, '🦊'.repeat(64)); // 256 bytes
  const b = await room.join('p-b', secret, 'Bo');
  await room.settle();
  assert.equal(b.keys.nameOf('p-a'), '🦊'.repeat(50));
  assert.equal(a.keys.nameOf('p-b'), 'Bo');
  room.close();
});

const t = (key) => `<${key}>`;

test('the page shows a placeholder until the envelope came, and no name for an unverified member', () => {
  const names = new MemberNames();
  const pending = { name: t(PENDING_TEXT), nameLabel: t(PENDING_LABEL) };
  assert.deepEqual(names.shown('p-a', null, t), pending, 'not yet in the key schedule');
  assert.deepEqual(names.shown('p-a', 'pending', t), pending, 'identity not yet checked');
  assert.deepEqual(names.shown('p-a', 'verified', t), pending, 'verified, no envelope yet');
  names.received('p-a', 'Ann');
  assert.deepEqual(names.shown('p-a', 'verified', t), { name: 'Ann', nameLabel: null });
  // A member that is not verified shows no name, whatever came before.
  assert.deepEqual(names.shown('p-a', 'unverified', t), { name: t(UNKNOWN_TEXT), nameLabel: t(UNKNOWN_TEXT) });
  // A member that sent no name is shown like one without a name ("Guest" in the tiles).
  names.received('p-b', '');
  assert.deepEqual(names.shown('p-b', 'verified', t), { name: '', nameLabel: null });
  // A resume: the placeholder until the new identity verified and sent a key; a page
  // reloaded without its name keeps the name it gave before.
  names.resumed('p-a');
  assert.deepEqual(names.shown('p-a', 'verified', t), pending);
  names.received('p-a', '');
  assert.deepEqual(names.shown('p-a', 'verified', t), { name: 'Ann', nameLabel: null });
  names.forget('p-a');
  assert.deepEqual(names.shown('p-a', 'verified', t), pending);
});
