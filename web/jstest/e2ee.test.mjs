// Behaviour of the browser E2EE modules beyond the vectors: round trips,
// tampering, wrong keys, the ratchet's one-way property, key ring switching.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { decode, encode } from '../static/js/e2ee/b64.js';
import {
  frameKey, generateIdentity, identityTag, meetingKeys, newMediaKey, newMeetingSecret,
  pairwiseKey, parseMeetingSecret, ratchet, unwrapKey, verifyIdentity, wrapKey, fitName,
} from '../static/js/e2ee/keys.js';
import { CAMERA, KeyRing, MICROPHONE, OPUS, VP8, decryptFrame, encryptFrame, frameKeyIndex } from '../static/js/e2ee/frame.js';
import { CHAT, NAME, decryptText, encryptText } from '../static/js/e2ee/text.js';

// sourceOf is the source of a track of kind in these tests: the microphone for Opus, the camera for VP8.
const sourceOf = (kind) => (kind === OPUS ? MICROPHONE : CAMERA);

const A = 'p-alice'; // the sender of the frames below

const bytes = (...xs) => Uint8Array.from(xs);
const range = (n, start = 0) => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const hex = (x) => Buffer.from(new Uint8Array(x)).toString('hex');

async function rejects(promise, code) {
  await assert.rejects(promise, (err) => err.name === 'E2EEError' && err.code === code);
}

const keyframe = () => new Uint8Array([0x50, 0x2a, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xf0, 0x00, ...range(200)]);
const delta = () => new Uint8Array([0x31, ...range(120)]);

test('meeting secret: new, parse, refuse short or bad', async () => {
  const s = newMeetingSecret();
  assert.equal(parseMeetingSecret(s).length, 16);
  assert.throws(() => parseMeetingSecret(encode(range(15))), (e) => e.code === 'bad-input');
  assert.throws(() => parseMeetingSecret('abc=='), (e) => e.code === 'malformed');
  await rejects(meetingKeys(range(8)), 'bad-input');
});

test('identity, pairwise key and wrapping between two fresh participants', async () => {
  const { identityKey } = await meetingKeys(parseMeetingSecret(newMeetingSecret()));
  const other = await meetingKeys(range(16));
  const alice = await generateIdentity();
  const bob = await generateIdentity();
  assert.equal(alice.publicKey.length, 32);
  const tag = await identityTag(identityKey, 'p-a', alice.publicKey);
  assert.equal(await verifyIdentity(identityKey, 'p-a', alice.publicKey, tag), true);
  assert.equal(await verifyIdentity(identityKey, 'p-b', alice.publicKey, tag), false, 'other id');
  assert.equal(await verifyIdentity(identityKey, 'p-a', bob.publicKey, tag), false, 'other key');
  assert.equal(await verifyIdentity(other.identityKey, 'p-a', alice.publicKey, tag), false, 'other meeting');
  assert.equal(await verifyIdentity(identityKey, 'p-a', alice.publicKey, tag.subarray(0, 31)), false, 'short tag');
  assert.equal(await verifyIdentity(identityKey, '', alice.publicKey, tag), false, 'empty id');

  const kwA = await pairwiseKey(alice.privateKey, bob.publicKey, 'p-a', 'p-b');
  const kwB = await pairwiseKey(bob.privateKey, alice.publicKey, 'p-b', 'p-a');
  const raw = newMediaKey();
  const w = await wrapKey(kwA, 'p-a', 'p-b', { counter: 9, raw });
  assert.equal(w.length, 69);
  const got = await unwrapKey(kwB, 'p-a', 'p-b', w);
  assert.equal(got.counter, 9);
  assert.equal(got.keyIndex, 9);
  assert.equal(got.past, false);
  assert.equal(hex(got.raw), hex(raw));
  assert.equal(got.name, '');
  // The sender's name travels in the envelope, bound to the pair (FORMAT.md, "Names").
  const named = await wrapKey(kwA, 'p-a', 'p-b', { counter: 9, raw }, 'Zoë 🎻');
  assert.equal(named.length, 69 + 9);
  assert.equal((await unwrapKey(kwB, 'p-a', 'p-b', named)).name, 'Zoë 🎻');
  await rejects(unwrapKey(kwB, 'p-b', 'p-a', named), 'auth');
  await rejects(wrapKey(kwA, 'p-a', 'p-b', { counter: 9, raw }, 'x'.repeat(201)), 'malformed');
  assert.equal(new TextEncoder().encode(fitName('ü'.repeat(150))).length, 200, 'cut at a character boundary');
  assert.equal(fitName('ab🎻'.repeat(64)).length <= 200, true);
  assert.equal(fitName('Ann'), 'Ann');
  await rejects(unwrapKey(kwB, 'p-b', 'p-a', w), 'auth'); // reflected back to its sender
  await rejects(unwrapKey(kwB, 'p-a', 'p-c', w), 'auth'); // forwarded to someone else
  await rejects(wrapKey(kwA, 'p-a', 'p-b', { counter: 2 ** 53, raw }), 'bad-input');
  await rejects(wrapKey(kwA, 'p-a', 'p-b', { counter: -1, raw }), 'bad-input');
  await rejects(wrapKey(kwA, 'p-a', 'p-b', { counter: 1.5, raw }), 'bad-input');
  // The index is the counter mod 256 (version 3); a past key says so.
  const w456 = await unwrapKey(kwB, 'p-a', 'p-b', await wrapKey(kwA, 'p-a', 'p-b', { counter: 456, raw, past: true }));
  assert.deepEqual([w456.counter, w456.keyIndex, w456.past], [456, 200, true]);
  await rejects(wrapKey(kwA, 'p-a', 'p\0b', { counter: 1, raw }), 'bad-id');
  await rejects(pairwiseKey(alice.privateKey, bob.publicKey, 'p-a', 'p-a'), 'bad-id');
  await rejects(pairwiseKey(alice.privateKey, new Uint8Array(32), 'p-a', 'p-b'), 'malformed'); // low-order point
  await rejects(pairwiseKey(alice.privateKey, range(31), 'p-a', 'p-b'), 'bad-input');
});

test('frames round-trip with the right clear part, random IVs', async () => {
  const key = await frameKey(newMediaKey());
  const lookup = (i) => (i === 3 ? key : null);
  for (const [frame, kind, clear] of [[keyframe(), VP8, 10], [delta(), VP8, 3], [range(80, 0xf8), OPUS, 1], [bytes(0x10), VP8, 1], [bytes(), OPUS, 0]]) {
    const a = new Uint8Array(await encryptFrame(key, A, 3, frame.buffer, kind, sourceOf(kind)));
    const b = new Uint8Array(await encryptFrame(key, A, 3, frame, kind, sourceOf(kind)));
    assert.equal(a.length, frame.length + 30);
    assert.notEqual(hex(a), hex(b), 'a fresh IV per frame');
    assert.equal(hex(a.subarray(0, clear)), hex(frame.subarray(0, clear)));
    assert.equal(hex(a.subarray(a.length - 2)), '0c03');
    assert.equal(frameKeyIndex(a), 3);
    assert.equal(hex(await decryptFrame(lookup, A, a.buffer, kind, sourceOf(kind))), hex(frame));
  }
  // Views into a larger buffer work (encoded frames may be such views).
  const big = new Uint8Array(300);
  big.set(delta(), 50);
  const view = big.subarray(50, 50 + delta().length);
  const enc = await encryptFrame(key, A, 3, view, VP8, CAMERA);
  assert.equal(hex(await decryptFrame(lookup, A, enc, VP8, CAMERA)), hex(delta()));
});

test('tampered frames and wrong keys are rejected', async () => {
  const key = await frameKey(newMediaKey());
  const wrong = await frameKey(newMediaKey());
  for (const [frame, kind] of [[keyframe(), VP8], [delta(), VP8], [range(40, 0xf8), OPUS]]) {
    const enc = new Uint8Array(await encryptFrame(key, A, 0, frame, kind, sourceOf(kind)));
    for (let i = 0; i < enc.length; i++) {
      const bad = enc.slice();
      bad[i] ^= 0x04;
      await assert.rejects(decryptFrame((j) => (j === 0 ? key : null), A, bad, kind, sourceOf(kind)), `bit flip at ${i}`);
    }
    await rejects(decryptFrame(() => wrong, A, enc, kind, sourceOf(kind)), 'auth');
    await rejects(decryptFrame(() => null, A, enc, kind, sourceOf(kind)), 'unknown-key');
    await rejects(decryptFrame(() => key, A, enc.subarray(0, 29), kind, sourceOf(kind)), 'too-short');
    await rejects(decryptFrame(() => key, A, enc.subarray(1), kind, sourceOf(kind)), 'auth');
  }
  await rejects(decryptFrame(() => key, A, new Uint8Array(40), 'h264', CAMERA), 'bad-input');
});

test('ratchet is forward-only: a newcomer with R\' cannot read frames under R', async () => {
  const sender = new KeyRing();
  const member = new KeyRing();
  const r0 = newMediaKey();
  await sender.set(5, r0);
  await member.set(5, r0);
  const before = await sender.encrypt(A, delta(), VP8, CAMERA);

  const given = await sender.ratchet(); // a newcomer joins
  assert.equal(given.index, 6);
  assert.equal(hex(given.raw), hex(await ratchet(r0)));
  const newcomer = new KeyRing();
  await newcomer.set(given.index, given.raw);
  const after = await sender.encrypt(A, delta(), VP8, CAMERA);

  assert.equal(hex(await newcomer.decrypt(A, after, VP8, CAMERA)), hex(delta()));
  await rejects(newcomer.decrypt(A, before, VP8, CAMERA), 'unknown-key');
  // Even putting its key (or its ratchets) into the old slot does not help.
  for (const raw of [given.raw, await ratchet(given.raw)]) {
    const ring = new KeyRing();
    await ring.set(5, raw);
    await rejects(ring.decrypt(A, before, VP8, CAMERA), 'auth');
  }
  // The member derives R' itself on the first frame under index 6, and keeps index 5.
  assert.equal(hex(await member.decrypt(A, after, VP8, CAMERA)), hex(delta()));
  assert.equal(member.currentIndex, 6);
  assert.equal(hex(await member.decrypt(A, before, VP8, CAMERA)), hex(delta()));
});

test('key ring: several ratchets at once, rotation is not guessed, wrap-around', async () => {
  const sender = new KeyRing();
  const member = new KeyRing();
  const r = newMediaKey();
  await sender.set(254, r);
  await member.set(254, r);
  await sender.ratchet();
  await sender.ratchet(); // two joins in quick succession: index 0
  assert.equal(sender.currentIndex, 0);
  const f = await sender.encrypt(A, range(50, 0xf8), OPUS, MICROPHONE);
  assert.equal(hex(await member.decrypt(A, f, OPUS, MICROPHONE)), hex(range(50, 0xf8)));
  assert.equal(member.currentIndex, 0);

  // A rotation (leave) moves to index 1 with a fresh key: the member cannot
  // derive it, drops the frames, and reads them once the wrapped key is set.
  const rotated = await sender.rotate();
  assert.equal(rotated.index, 1);
  const g = await sender.encrypt(A, delta(), VP8, CAMERA);
  await rejects(member.decrypt(A, g, VP8, CAMERA), 'unknown-key');
  await rejects(member.decrypt(A, g, VP8, CAMERA), 'unknown-key'); // the cached candidate, same answer
  assert.equal(member.currentIndex, 0, 'a failed guess installs nothing');
  await member.set(rotated.index, rotated.raw);
  assert.equal(hex(await member.decrypt(A, g, VP8, CAMERA)), hex(delta()));
  // The previous key still works while the switch propagates.
  assert.equal(hex(await member.decrypt(A, f, OPUS, MICROPHONE)), hex(range(50, 0xf8)));

  // Beyond maxRatchet steps nothing is derived.
  const far = new KeyRing({ maxRatchet: 2 });
  await far.set(0, r);
  let raw = r;
  for (let i = 0; i < 3; i++) raw = await ratchet(raw);
  const k3 = new KeyRing();
  await k3.set(3, raw);
  await rejects(far.decrypt(A, await k3.encrypt(A, delta(), VP8, CAMERA), VP8, CAMERA), 'unknown-key');
});

test('key ring: set without switching, use, the last 16 installs kept, index reuse after 256 keys, clear', async () => {
  const ring = new KeyRing();
  await rejects(ring.encrypt(A, delta(), VP8, CAMERA), 'unknown-key');
  const a = newMediaKey();
  const b = newMediaKey();
  await ring.set(0, a);
  await ring.set(1, b, { current: false });
  assert.equal(ring.currentIndex, 0);
  assert.equal(frameKeyIndex(await ring.encrypt(A, delta(), VP8, CAMERA)), 0);
  ring.use(1);
  assert.equal(frameKeyIndex(await ring.encrypt(A, delta(), VP8, CAMERA)), 1);
  assert.throws(() => ring.use(7), (e) => e.code === 'unknown-key');

  // Only the last 16 installs stay.
  const old = await ring.encrypt(A, delta(), VP8, CAMERA);
  for (let i = 0; i < 16; i++) await ring.rotate();
  assert.equal(ring.currentIndex, 17);
  assert.equal(ring.size, 16);
  assert.equal(ring.has(1), false);
  await rejects(ring.decrypt(A, old, VP8, CAMERA), 'unknown-key');
  // After 256 rotations index 1 holds a new key: frames under the old one fail.
  for (let i = 0; i < 256 - 16; i++) await ring.rotate();
  assert.equal(ring.currentIndex, 1);
  assert.equal(ring.size, 16);
  await rejects(ring.decrypt(A, old, VP8, CAMERA), 'auth');
  ring.clear();
  assert.equal(ring.currentIndex, -1);
  assert.equal(ring.has(1), false);
  await rejects(ring.set(256, a), 'bad-input');
});

test('texts: round trip, bound to kind and sender', async () => {
  const { chatKey } = await meetingKeys(range(16));
  const other = await meetingKeys(range(16, 1));
  for (const text of ['', 'hi', 'Grüße 👋'.repeat(200), '\uFEFF']) {
    const s = await encryptText(chatKey, CHAT, 'p-a', text);
    assert.ok(s.startsWith('e1.'));
    assert.equal(await decryptText(chatKey, CHAT, 'p-a', s), text);
    await rejects(decryptText(chatKey, CHAT, 'p-b', s), 'auth');
    await rejects(decryptText(chatKey, NAME, '', s), 'auth');
    await rejects(decryptText(other.chatKey, CHAT, 'p-a', s), 'auth');
  }
  const n = await encryptText(chatKey, NAME, '', 'Alice');
  assert.equal(await decryptText(chatKey, NAME, '', n), 'Alice');
  await rejects(encryptText(chatKey, NAME, 'p-a', 'Alice'), 'bad-id');
  await rejects(encryptText(chatKey, CHAT, '', 'x'), 'bad-id');
  await rejects(encryptText(chatKey, 'title', '', 'x'), 'bad-input');
  await rejects(decryptText(chatKey, CHAT, 'p-a', 'hello'), 'malformed');
});

test('base64url is strict', () => {
  for (let n = 0; n < 40; n++) {
    const x = range(n, 250);
    assert.equal(encode(x), Buffer.from(x).toString('base64url'));
    assert.equal(hex(decode(encode(x))), hex(x));
  }
  for (const bad of ['A', 'AA=', 'AA==', 'A+', 'A/', 'AB', 'AAB', 'AA\n', ' AA', 'AÄ']) {
    assert.throws(() => decode(bad), (e) => e.code === 'malformed', JSON.stringify(bad));
  }
});
