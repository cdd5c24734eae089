// Frames are bound to their sender (issue 14): a frame the server re-attributes
// to another participant decodes nowhere, and a receiver tries exactly one
// sender's keys per frame (media-rings.js, the worker's key state).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { frameKey, newMediaKey } from '../static/js/e2ee/keys.js';
import { CAMERA, KeyRing, MICROPHONE, OPUS, SCREEN, VP8, decryptFrame, encryptFrame } from '../static/js/e2ee/frame.js';
import { MediaRings } from '../static/js/e2ee/media-rings.js';

// sourceOf is the source of a track of kind in these tests: the microphone for Opus, the camera for VP8.
const sourceOf = (kind) => (kind === OPUS ? MICROPHONE : CAMERA);

const hex = (x) => Buffer.from(new Uint8Array(x)).toString('hex');
const delta = () => new Uint8Array([0x31, ...Array.from({ length: 60 }, (_, i) => i)]);

async function rejects(promise, code) {
  await assert.rejects(promise, (err) => err.name === 'E2EEError' && err.code === code);
}

// countDecrypts counts AES-GCM decryptions while fn runs.
async function countDecrypts(fn) {
  const subtle = globalThis.crypto.subtle;
  const original = subtle.decrypt;
  let n = 0;
  subtle.decrypt = function (...args) {
    n++;
    return original.apply(this, args);
  };
  try {
    await fn();
  } finally {
    subtle.decrypt = original;
  }
  return n;
}

test('a frame is bound to its sender id, even under the same key and index', async () => {
  const raw = newMediaKey();
  const key = await frameKey(raw);
  const lookup = (i) => (i === 4 ? key : null);
  for (const kind of [VP8, OPUS]) {
    const enc = await encryptFrame(key, 'p-alice', 4, delta(), kind, sourceOf(kind));
    assert.equal(hex(await decryptFrame(lookup, 'p-alice', enc, kind, sourceOf(kind))), hex(delta()));
    for (const other of ['p-bob', 'p-alic', 'P-alice', 'p-alice ']) {
      await rejects(decryptFrame(lookup, other, enc, kind, sourceOf(kind)), 'auth');
    }
  }
  await rejects(encryptFrame(key, '', 4, delta(), VP8, CAMERA), 'bad-id');
  await rejects(encryptFrame(key, 'a\0b', 4, delta(), VP8, CAMERA), 'bad-id');
  await rejects(decryptFrame(lookup, '', new Uint8Array(40), VP8, CAMERA), 'bad-id');

  // Through key rings, with the ratchet guess too: Bob's ring holding Alice's key
  // one step behind does not take her frame as Bob's.
  const alice = new KeyRing();
  await alice.set(4, raw);
  await alice.ratchet();
  const bobs = new KeyRing();
  await bobs.set(4, raw);
  const f = await alice.encrypt('p-alice', delta(), VP8, CAMERA);
  await rejects(bobs.decrypt('p-bob', f, VP8, CAMERA), 'unknown-key');
  assert.equal(bobs.currentIndex, 4, 'a failed guess installs nothing');
  assert.equal(hex(await bobs.decrypt('p-alice', f, VP8, CAMERA)), hex(delta()));
});

test('the receiver decrypts only with its route, and the server cannot re-attribute', async () => {
  const raw = newMediaKey();
  // Alice's page encrypts with its own id.
  const alicePage = new MediaRings();
  await alicePage.setOwn(2, raw);
  assert.equal(alicePage.canEncrypt(), false, 'no own id yet: nothing goes out');
  await rejects(alicePage.encrypt(delta(), VP8, CAMERA), 'unknown-key');
  alicePage.setSelf('p-alice');
  assert.equal(alicePage.canEncrypt(), true);
  const frame = await alicePage.encrypt(delta(), VP8, CAMERA);

  // Carol's page holds keys of Alice and of Bob; Bob's ring even holds the very same
  // raw key at the same index (the worst case for re-attribution).
  const carol = new MediaRings();
  carol.setSelf('p-carol');
  await carol.setPeer('p-alice', 2, raw);
  await carol.setPeer('p-bob', 2, raw);
  carol.route(1, 'p-alice', CAMERA);
  carol.route(2, 'p-bob', CAMERA);
  assert.equal(hex(await carol.decrypt(1, frame, VP8)), hex(delta()), "on Alice's receiver");
  await rejects(carol.decrypt(2, frame, VP8), 'auth'); // the server forwards it as Bob's
  await rejects(carol.decrypt(3, frame, VP8), 'unknown-key'); // no route yet: dropped
  carol.route(3, 'p-dave', CAMERA);
  await rejects(carol.decrypt(3, frame, VP8), 'unknown-key'); // a route without keys

  // Forgetting Alice leaves her receiver unreadable; it never falls back to Bob's keys.
  carol.forget('p-alice');
  await rejects(carol.decrypt(1, frame, VP8), 'unknown-key');
  assert.throws(() => carol.setSelf(''), (e) => e.code === 'bad-id');
});

test("the server cannot show a sender's camera as its screen share, nor the reverse", async () => {
  const raw = newMediaKey();
  const alicePage = new MediaRings();
  alicePage.setSelf('p-alice');
  await alicePage.setOwn(5, raw);
  const camera = await alicePage.encrypt(delta(), VP8, CAMERA);
  const screen = await alicePage.encrypt(delta(), VP8, SCREEN);
  await rejects(alicePage.encrypt(delta(), VP8, 'window'), 'bad-input'); // no such source: nothing goes out

  const carol = new MediaRings();
  await carol.setPeer('p-alice', 5, raw);
  carol.route(1, 'p-alice', CAMERA);
  carol.route(2, 'p-alice', SCREEN);
  assert.equal(hex(await carol.decrypt(1, camera, VP8)), hex(delta()), 'the camera on the camera receiver');
  assert.equal(hex(await carol.decrypt(2, screen, VP8)), hex(delta()), 'the screen share on its receiver');
  await rejects(carol.decrypt(2, camera, VP8), 'auth'); // the camera forwarded as the screen share
  await rejects(carol.decrypt(1, screen, VP8), 'auth'); // and the reverse
  // A route without a source it knows carries nobody: its frames are dropped.
  carol.route(3, 'p-alice', undefined);
  await rejects(carol.decrypt(3, camera, VP8), 'unknown-key');
  carol.route(1, 'p-alice', 'window');
  await rejects(carol.decrypt(1, camera, VP8), 'unknown-key');
});

test('a junk frame costs one decryption, however many senders there are', async () => {
  const carol = new MediaRings();
  carol.setSelf('p-carol');
  const raw = newMediaKey();
  for (let i = 0; i < 20; i++) await carol.setPeer(`p-${i}`, 2, raw);
  carol.route(7, 'p-3', CAMERA);
  const junk = new Uint8Array(80);
  junk[junk.length - 2] = 12;
  junk[junk.length - 1] = 2; // a key index every ring holds
  const n = await countDecrypts(() => assert.rejects(carol.decrypt(7, junk, VP8)));
  assert.equal(n, 1);
  // Under an index one step ahead (no key there): one ratchet guess, of that ring only.
  junk[junk.length - 1] = 3;
  const m = await countDecrypts(() => assert.rejects(carol.decrypt(7, junk, VP8)));
  assert.equal(m, 1);
  // On a receiver without a route, nothing is tried.
  junk[junk.length - 1] = 2;
  assert.equal(await countDecrypts(() => assert.rejects(carol.decrypt(99, junk, VP8))), 0);
});
