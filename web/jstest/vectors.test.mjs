// Checks the browser modules against every known-answer vector that the Go
// reference writes (e2ee/testdata/vectors.json; regenerate with
// `go test ./e2ee -run TestVectors -update`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { decode, encode } from '../static/js/e2ee/b64.js';
import {
  frameKeyBytes, identityTag, importIdentity, meetingKeyBytes, meetingKeys, pairwiseKey,
  pairwiseKeyBytes, ratchet, unwrapKey, verifyIdentity, wrapKey, frameKey, nextIndex,
} from '../static/js/e2ee/keys.js';
import { KeyRing, decryptFrame, encryptFrame } from '../static/js/e2ee/frame.js';
import { decryptText, encryptText } from '../static/js/e2ee/text.js';
import { subtle } from '../static/js/e2ee/keys.js';
import { newSeen, judgeKey, keysKept } from '../static/js/e2ee/seen-keys.js';

const v = JSON.parse(readFileSync(new URL('../../e2ee/testdata/vectors.json', import.meta.url), 'utf8'));
const b = decode;
const hex = (x) => Buffer.from(x).toString('hex');
const utf8 = new TextEncoder();
const cat = (...parts) => Uint8Array.from(parts.flatMap((x) => [...(typeof x === 'string' ? utf8.encode(x) : x)]));

/** openRaw is AES-GCM open straight on WebCrypto, with an AAD the test spells out. */
async function openRaw(key, iv, sealed, aad) {
  const k = await subtle().importKey('raw', key, 'AES-GCM', false, ['decrypt']);
  return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv, additionalData: aad }, k, sealed));
}

const same = (got, want, what) => assert.equal(hex(new Uint8Array(got)), hex(b(want)), what);

async function rejects(promise, code, what) {
  await assert.rejects(promise, (err) => {
    assert.equal(err.name, 'E2EEError', `${what}: ${err}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    return true;
  });
}

test('vector file has every section', () => {
  for (const k of ['meeting', 'identities', 'pairwise', 'wraps', 'badWraps', 'ratchet', 'frames', 'badFrames', 'ringCases', 'ringDrops', 'keyCases', 'texts', 'badTexts']) {
    assert.ok(v[k], k);
  }
  assert.ok(v.frames.length >= 4 && v.texts.length >= 2 && v.ratchet.length === 4);
});

test('meeting keys', async () => {
  const { identity, chat } = await meetingKeyBytes(b(v.meeting.secret));
  same(identity, v.meeting.identityKey, 'KI');
  same(chat, v.meeting.chatKey, 'KC');
});

test('identities: public keys and tags', async () => {
  const { identityKey } = await meetingKeys(b(v.meeting.secret)); // the non-extractable path
  for (const id of v.identities) {
    const { publicKey } = await importIdentity(b(id.privateKey));
    same(publicKey, id.publicKey, `public key of ${id.participantId}`);
    same(await identityTag(identityKey, id.participantId, b(id.publicKey)), id.tag, `tag of ${id.participantId}`);
    assert.equal(await verifyIdentity(identityKey, id.participantId, b(id.publicKey), b(id.tag)), true);
    assert.equal(await verifyIdentity(identityKey, `${id.participantId}x`, b(id.publicKey), b(id.tag)), false);
  }
});

test('pairwise wrapping keys, both sides', async () => {
  const [a, c] = v.identities;
  const alice = await importIdentity(b(a.privateKey));
  const bob = await importIdentity(b(c.privateKey));
  for (const p of v.pairwise) {
    same(await pairwiseKeyBytes(alice.privateKey, b(c.publicKey), p.idA, p.idB), p.wrapKey, `KW ${p.idA}/${p.idB}`);
    same(await pairwiseKeyBytes(bob.privateKey, b(a.publicKey), p.idB, p.idA), p.wrapKey, `KW ${p.idB}/${p.idA}`);
  }
});

test('wrapped media keys', async () => {
  for (const w of v.wraps) {
    const kw = b(w.wrapKey);
    const key = { counter: w.counter, past: w.past, raw: b(w.rawKey) };
    same(await wrapKey(kw, w.senderId, w.recipientId, key, w.name, b(w.iv)), w.wrapped, 'wrap');
    const { counter, keyIndex, past, raw, name } = await unwrapKey(kw, w.senderId, w.recipientId, b(w.wrapped));
    assert.equal(counter, w.counter);
    assert.equal(keyIndex, w.keyIndex);
    assert.equal(keyIndex, w.counter % 256, 'the index is the counter mod 256');
    assert.equal(past, w.past);
    assert.equal(name, w.name, 'the name in the envelope');
    same(raw, w.rawKey, 'unwrapped key');
    // The AAD as FORMAT.md spells it, and the envelope opens under it on plain WebCrypto.
    same(cat('conclave/v3 media-key\0', w.senderId, '\0', w.recipientId), w.aad, 'wrap aad');
    const env = b(w.wrapped);
    const counterBytes = [];
    for (let i = 7; i >= 0; i--) counterBytes.push(Number((BigInt(w.counter) >> BigInt(8 * i)) & 0xffn));
    const plain = cat(counterBytes, [w.past ? 1 : 0], b(w.rawKey), w.name);
    same(plain, w.plaintext, 'wrap plaintext as FORMAT.md spells it');
    same(await openRaw(kw, env.subarray(0, 12), env.subarray(12), b(w.aad)), encode(plain), 'wrap plaintext');
  }
  assert.ok(v.wraps.some((w) => w.counter === Number.MAX_SAFE_INTEGER), 'the largest counter');
  assert.ok(v.wraps.some((w) => w.past) && v.wraps.some((w) => w.counter > 255), 'a past key, a counter past 255');
  // The CryptoKey path gives the same envelope.
  const [a, c] = v.identities;
  const kwKey = await pairwiseKey((await importIdentity(b(a.privateKey))).privateKey, b(c.publicKey), 'p-alice', 'p-bob');
  const w = v.wraps[0];
  same(await wrapKey(kwKey, w.senderId, w.recipientId, { counter: w.counter, past: w.past, raw: b(w.rawKey) }, w.name, b(w.iv)), w.wrapped, 'wrap with CryptoKey');
  for (const x of v.badWraps) {
    await rejects(unwrapKey(b(x.wrapKey), x.senderId, x.recipientId, b(x.wrapped)), x.error, `bad wrap "${x.name}"`);
  }
});

test('what a receiver does with a key envelope (the newest key, by its counter)', () => {
  const verdicts = new Set();
  for (const c of v.keyCases) {
    const raw = b(c.rawKey);
    const seen = newSeen();
    if (c.newest >= 0) {
      seen.current = hex(b(c.current));
      seen.counter = c.newest;
    }
    if (c.seen && hex(raw) !== seen.current) seen.past.set(hex(raw), c.counter);
    keysKept(seen); // what the page forgets of a long day changes no verdict
    assert.equal(judgeKey(seen, c.newest, { counter: c.counter, past: c.past, raw }), c.verdict, c.name);
    verdicts.add(c.verdict);
  }
  assert.deepEqual([...verdicts].sort(), ['again', 'conflict', 'newest', 'past', 'replay', 'stale']);
});

test('ratchet chain and frame keys', async () => {
  for (let i = 0; i < v.ratchet.length; i++) {
    const r = v.ratchet[i];
    same(await frameKeyBytes(b(r.rawKey)), r.frameKey, `frame key ${i}`);
    if (i > 0) {
      same(await ratchet(b(v.ratchet[i - 1].rawKey)), r.rawKey, `ratchet step ${i}`);
      assert.equal(r.keyIndex, nextIndex(v.ratchet[i - 1].keyIndex));
    }
  }
});

test('frames', async () => {
  for (const f of v.frames) {
    same(await frameKeyBytes(b(f.rawKey)), f.frameKey, `${f.name}: frame key`);
    const key = await frameKey(b(f.rawKey));
    const enc = await encryptFrame(key, f.senderId, f.keyIndex, b(f.plaintext).buffer, f.kind, f.source, b(f.iv));
    assert.ok(enc instanceof ArrayBuffer);
    same(enc, f.encrypted, `${f.name}: encrypted`);
    assert.equal(hex(b(f.encrypted).subarray(0, f.clearBytes)), hex(b(f.plaintext).subarray(0, f.clearBytes)));
    const lookup = (i) => (i === f.keyIndex ? key : null);
    same(await decryptFrame(lookup, f.senderId, b(f.encrypted).buffer, f.kind, f.source), f.plaintext, `${f.name}: decrypted`);
    const ring = new KeyRing();
    await ring.set(f.keyIndex, b(f.rawKey));
    same(await ring.decrypt(f.senderId, b(f.encrypted), f.kind, f.source), f.plaintext, `${f.name}: through a KeyRing`);
    // The AAD as FORMAT.md spells it ("Frame format"), and the frame opens under it on plain WebCrypto.
    const e = b(f.encrypted);
    const n = e.length;
    const clear = e.subarray(0, f.clearBytes);
    same(cat('conclave/v3 frame\0', f.senderId, '\0', f.kind, '\0', f.source, '\0', [f.keyIndex], clear), f.aad, `${f.name}: aad`);
    assert.equal(e[n - 2], 12, `${f.name}: ivLength`);
    assert.equal(e[n - 1], f.keyIndex, `${f.name}: key index in the trailer`);
    const rest = await openRaw(b(f.frameKey), e.subarray(n - 14, n - 2), e.subarray(f.clearBytes, n - 14), b(f.aad));
    same(cat(clear, rest), f.plaintext, `${f.name}: opened on plain WebCrypto`);
  }
  for (const f of v.badFrames) {
    const key = await frameKey(b(f.rawKey));
    await rejects(decryptFrame((i) => (i === f.keyIndex ? key : null), f.senderId, b(f.frame), f.kind, f.source), f.error, `bad frame "${f.name}"`);
  }
});

test('ring cases: following the ratchet past 255, up to 16 steps, and no further', async () => {
  assert.ok(v.ringCases.length >= 5);
  for (const c of v.ringCases) {
    const ring = new KeyRing();
    await ring.set(c.keyIndex, b(c.rawKey));
    if (c.result === 'ok') {
      same(await ring.decrypt(c.senderId, b(c.frame), c.kind, c.source), c.plaintext, c.name);
      assert.equal(ring.currentIndex, b(c.frame).at(-1), `${c.name}: the followed key is current`);
    } else {
      await rejects(ring.decrypt(c.senderId, b(c.frame), c.kind, c.source), c.result, c.name);
      assert.equal(ring.currentIndex, c.keyIndex, `${c.name}: the ring did not move`);
    }
  }
});

test('ring drops: a key set from an envelope drops the keys held for a higher counter', async () => {
  assert.ok(v.ringDrops.length >= 5);
  for (const c of v.ringDrops) {
    const ring = new KeyRing();
    for (const [i, s] of c.steps.entries()) {
      const what = `${c.name}, step ${i} (${s.op})`;
      if (s.op === 'set') {
        const counter = s.counter ?? 0; // the Go generator leaves a zero counter out
        await ring.set(counter % 256, b(s.rawKey), { counter });
      } else if (s.op === 'frame') {
        if (s.result === 'ok') same(await ring.decrypt(c.senderId, b(s.frame), c.kind, c.source), s.plaintext, what);
        else await rejects(ring.decrypt(c.senderId, b(s.frame), c.kind, c.source), s.result, what);
      } else {
        assert.fail(`${what}: unknown op`);
      }
      const held = [];
      for (let index = 0; index < 256; index++) if (ring.has(index)) held.push(index);
      assert.deepEqual({ current: ring.currentIndex, held, size: ring.size }, { current: s.current, held: s.held, size: s.held.length }, what);
    }
  }
});

test('texts', async () => {
  for (const t of v.texts) {
    assert.equal(await encryptText(b(t.chatKey), t.kind, t.senderId, t.text, b(t.iv)), t.encrypted, t.name);
    assert.equal(await decryptText(b(t.chatKey), t.kind, t.senderId, t.encrypted), t.text, t.name);
  }
  const { chatKey } = await meetingKeys(b(v.meeting.secret)); // the non-extractable path
  const t = v.texts[0];
  assert.equal(await encryptText(chatKey, t.kind, t.senderId, t.text, b(t.iv)), t.encrypted);
  for (const x of v.badTexts) {
    await rejects(decryptText(b(x.chatKey), x.kind, x.senderId, x.encrypted), x.error, `bad text "${x.name}"`);
  }
});

test('base64url of every byte string in the vectors round-trips', () => {
  const notBytes = new Set(['format', 'name', 'kind', 'source', 'error', 'result', 'text', 'encrypted', 'participantId', 'senderId', 'recipientId', 'idA', 'idB', 'verdict', 'op']);
  let n = 0;
  JSON.stringify(v, (k, val) => {
    if (typeof val === 'string' && !notBytes.has(k)) {
      assert.equal(encode(decode(val)), val, k);
      n++;
    }
    return val;
  });
  assert.ok(n > 50, `${n} byte strings`);
});
