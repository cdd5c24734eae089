// Participant ids are bound as their UTF-8 bytes in every tag, salt and AAD
// (e2ee/FORMAT.md, "Participant ids"), but the roster, the replay memory and the chat
// counters know them as JavaScript strings. TextEncoder writes every lone surrogate as
// U+FFFD, so "p-x\uD800" and "p-x\uFFFD" would be two members to the page and one id to
// the cryptography: a lying server could replay one member's identity, key envelopes,
// texts and frames as another's (a member who left brought back under a twin id, her old
// texts shown again, her frames in another's tile). Such ids are refused, and announcing
// one is a warning.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { UNREADABLE } from '../static/js/e2ee/session-chat.js';
import { CAMERA, KeyRing, VP8 } from '../static/js/e2ee/frame.js';
import { randomBytes, validId } from '../static/js/e2ee/keys.js';
import { MediaRings } from '../static/js/e2ee/media-rings.js';
import { FakeMedia, KeyRelay } from './harness.mjs';

const X = 'p-x\uFFFD'; // a well-formed id: U+FFFD is a character like any other
const TWINS = ['p-x\uD800', 'p-x\uDC00', 'p-x\uDBFF']; // the same bytes as X when encoded

class Room extends KeyRelay {
  constructor() {
    super();
    this.out = []; // every key message a member sent: {from, to, data}
  }
  send(from, to, data) {
    this.out.push({ from, to, data: JSON.parse(data) });
    this.relay(from, to, data);
  }
  sendBatch(from, envelopes) {
    for (const { to, data } of envelopes) this.send(from, to, data);
  }
  async join(id, secret, name) {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const media = new FakeMedia();
    const keys = new SessionKeys({
      meeting, media, name,
      send: (to, data) => this.send(id, to, data),
      sendBatch: (envelopes) => this.sendBatch(id, envelopes),
    });
    return this.admit(id, { id, keys, media, log: [] });
  }
}

test('ids with lone surrogates are refused; U+FFFD and characters outside the BMP are not', () => {
  for (const twin of TWINS) {
    assert.deepEqual(new TextEncoder().encode(twin), new TextEncoder().encode(X), 'the twins do encode alike');
    assert.equal(validId(twin), false, JSON.stringify(twin));
  }
  for (const id of [X, 'p-0123456789abcdef', 'p-\u{1F600}', 'ä']) assert.equal(validId(id), true, id);
});

test('an id longer than 64 bytes of UTF-8 is refused, counted in characters or in bytes', () => {
  // The server makes "p-" and 16 hex digits and takes no id longer than 64 bytes in
  // anything a client sends (signaling/PROTOCOL.md): a longer one is a lying server's,
  // and the page would keep it among its 20,000 dead ids (e2ee/roster.js MAX_DEAD_IDS).
  const fox = '\u{1F98A}'; // 4 bytes, 2 code units
  for (const [id, want] of [
    ['p-' + 'a'.repeat(62), true], ['p-' + 'a'.repeat(63), false],
    ['\u00e4'.repeat(32), true], ['\u00e4'.repeat(32) + 'a', false], // 33 characters, 65 bytes
    ['\u20ac'.repeat(21) + 'a', true], ['\u20ac'.repeat(22), false], // 3 bytes each: 64 and 66
    [fox.repeat(16), true], [fox.repeat(16) + 'a', false], // 32 code units, 64 and 65 bytes
    ['p-' + 'x'.repeat(65536), false],
  ]) {
    assert.equal(new TextEncoder().encode(id).length <= 64, want, 'the vector itself');
    assert.equal(validId(id), want, `${id.length} characters, ${new TextEncoder().encode(id).length} bytes`);
  }
});

test('a member who left is not brought back under a twin id: no name, no key, no old text, a warning', async (t) => {
  const room = new Room();
  t.after(() => room.close()); // a failed assertion too: its timers would keep the process alive
  const secret = randomBytes(16);
  const a = await room.join('p-a', secret, 'Alice');
  const x = await room.join(X, secret, 'Xavier');
  await room.settle();
  const said = await x.keys.encryptChat('yes, I agree');
  assert.equal(await a.keys.decryptChat(X, said), 'yes, I agree');
  const identity = room.out.find((m) => m.from === X && m.data.t === 'identity' && !m.to);
  const envelope = room.out.filter((m) => m.from === X && m.to === 'p-a' && m.data.t === 'key').at(-1);
  room.leave(X);
  await room.settle();
  const before = a.keys.warnings().count;

  for (const twin of TWINS) {
    room.out.length = 0;
    a.keys.peerJoined(twin);
    room.deliver(a, twin, JSON.stringify(identity.data));
    room.deliver(a, twin, JSON.stringify(envelope.data));
    await room.settle();
    assert.deepEqual(
      { state: a.keys.stateOf(twin), name: a.keys.nameOf(twin), shown: await a.keys.decryptChat(twin, said) },
      { state: 'unverified', name: undefined, shown: UNREADABLE }, JSON.stringify(twin));
    assert.equal(room.out.some((m) => m.from === 'p-a' && m.to === twin), false, 'nothing was sent to the twin');
  }
  assert.ok(a.keys.warnings().count >= before + TWINS.length, 'each twin announced is a warning');
});

test('a welcome listing a twin id beside its original: the twin is never a member', async (t) => {
  const meeting = await MeetingCrypto.fromSecret(randomBytes(16));
  const keys = new SessionKeys({ meeting, media: new FakeMedia(), name: 'Bea', send: () => {}, sendBatch: () => {} });
  t.after(() => keys.close());
  await keys.start('p-b', [X, TWINS[0]]);
  assert.equal(keys.stateOf(TWINS[0]), 'unverified');
  assert.equal(keys.warnings().count, 1);
});

test('a frame is never opened for a twin id', async () => {
  const raw = randomBytes(32);
  const sender = new KeyRing();
  await sender.set(3, raw);
  const frame = await sender.encrypt(X, Uint8Array.from([0x31, 9, 9, 9, 9, 9, 9, 9]), VP8, CAMERA);
  const rings = new MediaRings();
  for (const twin of TWINS) {
    await assert.rejects(rings.setPeer(twin, 3, raw).then(() => {
      rings.route(7, twin, CAMERA);
      return rings.decrypt(7, frame, VP8);
    }), JSON.stringify(twin));
  }
});
