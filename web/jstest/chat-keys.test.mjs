// Chat texts of version 3 (web/static/js/e2ee/chat-keys.js, e2ee/FORMAT.md "Chat
// (version 3)") against the Go reference's vectors (e2ee/testdata/chat.json; regenerate
// with `go test ./e2ee -run TestChatVectors -update`), and ChatKeys: a text opens with
// its sender's media key only, follows ratchets, waits (on a fake clock) for a key that
// has not come and asks for it, and is refused when re-attributed to another sender.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { decode, encode } from '../static/js/e2ee/b64.js';
import {
  CHAT_ASK_MS, CHAT_WAIT_MS, ChatKeys, chatKeyBytes, decryptChat, decryptChatUnder, encryptChat, parseChat,
} from '../static/js/e2ee/chat-keys.js';
import { meetingKeyBytes, randomBytes, ratchet, subtle } from '../static/js/e2ee/keys.js';
import { FakeClock, eventually } from './harness.mjs';

const v = JSON.parse(readFileSync(new URL('../../e2ee/testdata/chat.json', import.meta.url), 'utf8'));

/** state reports a pending promise's outcome without waiting: 'pending', or its value/error code. */
function watch(p) {
  const w = { state: 'pending' };
  p.then((x) => { w.state = 'ok'; w.value = x; }, (err) => { w.state = 'error'; w.code = err.code; });
  return w;
}

test('texts match the Go reference and open as their sender\'s', async () => {
  assert.ok(v.texts.length >= 4);
  for (const c of v.texts) {
    assert.equal(encode(await chatKeyBytes(decode(c.rawKey))), c.chatKey);
    assert.equal(await encryptChat(decode(c.rawKey), c.keyIndex, c.senderId, c.text, c.counter, decode(c.iv)), c.cipher);
    assert.deepEqual(await decryptChat(decode(c.rawKey), c.senderId, c.cipher), { text: c.text, counter: c.counter });
    assert.equal(parseChat(c.cipher).keyIndex, c.keyIndex);
    // The AAD as FORMAT.md spells it, and the text opens under it on plain WebCrypto:
    // counter (8 bytes, big-endian) || utf8(text).
    const te = new TextEncoder();
    const aad = Uint8Array.from([...te.encode(`conclave/v3 chat\0${c.senderId}\0`), c.keyIndex]);
    assert.equal(encode(aad), c.aad, `${c.senderId}/${c.keyIndex}: aad`);
    const body = decode(c.cipher.slice(3));
    assert.equal(body[0], c.keyIndex);
    const kt = await subtle().importKey('raw', decode(c.chatKey), 'AES-GCM', false, ['decrypt']);
    const plain = new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: body.subarray(1, 13), additionalData: aad }, kt, body.subarray(13)));
    assert.equal(new DataView(plain.buffer).getBigUint64(0), BigInt(c.counter), 'counter, big-endian');
    assert.equal(new TextDecoder('utf-8', { ignoreBOM: true }).decode(plain.subarray(8)), c.text);
  }
});

test('refused texts fail with the Go reference\'s error', async () => {
  assert.ok(v.refused.length >= 10);
  for (const r of v.refused) {
    await assert.rejects(decryptChat(decode(r.rawKey), r.senderId, r.cipher), (err) => err.code === r.error, r.why);
  }
});

test('ChatKeys holds the keys the Go reference\'s ChatRing holds (keyDrops: past keys, ratchet guesses dropped by a newer key)', async () => {
  // Expected results written by hand (e2ee/chatring_test.go, chatKeyDrops), not by
  // either implementation: which index is the newest, which are held, what each text gives.
  assert.ok(v.keyDrops.length >= 6);
  for (const c of v.keyDrops) {
    const ck = new ChatKeys({ clock: new FakeClock() });
    for (const [i, st] of c.steps.entries()) {
      const what = `${c.name}, step ${i} (${st.op})`;
      if (st.op === 'set') {
        const counter = st.counter ?? 0; // the Go generator leaves a zero counter out
        ck.setKey(c.senderId, counter % 256, decode(st.rawKey), { past: st.past === true, counter });
      } else if (st.op === 'open') {
        if (st.result === 'ok') assert.equal((await ck.tryOpen(c.senderId, st.cipher)).text, st.text, what);
        else await assert.rejects(ck.tryOpen(c.senderId, st.cipher), (err) => err.code === st.result, what);
      } else {
        assert.fail(`${what}: unknown op`);
      }
      const s = ck.senders.get(c.senderId);
      const held = [...s.keys.keys()].sort((x, y) => x - y);
      assert.deepEqual({ newest: s.newest, held, order: s.order.length }, { newest: st.newest, held: st.held, order: st.held.length }, what);
    }
    ck.close();
  }
});

test('no key the link secret gives opens a text', async () => {
  const secret = randomBytes(16);
  const raw = randomBytes(32);
  const s = await encryptChat(raw, 4, 'p-a', 'after the meeting, nobody reads this', 1);
  const { identity, chat } = await meetingKeyBytes(secret);
  for (const k of [identity, chat]) {
    await assert.rejects(decryptChat(k, 'p-a', s), (err) => err.code === 'auth');
    await assert.rejects(decryptChatUnder(k, 'p-a', s), (err) => err.code === 'auth');
  }
  assert.equal((await decryptChat(raw, 'p-a', s)).text, 'after the meeting, nobody reads this');
});

test('ChatKeys: the key at the index, a ratchet of the newest, never another sender\'s', async () => {
  const ck = new ChatKeys({ clock: new FakeClock() });
  const a = randomBytes(32);
  const b = randomBytes(32);
  ck.setKey('p-a', 3, a);
  ck.setKey('p-b', 3, b);
  const s = await encryptChat(a, 3, 'p-a', 'hi', 1);
  assert.equal(await ck.open('p-a', s), 'hi');
  // Re-attributed by the server: p-b's key at the same index does not open it, at once.
  await assert.rejects(ck.open('p-b', s), (err) => err.code === 'auth');
  // Same raw key for both senders: still bound to the sender's id.
  ck.setKey('p-c', 3, a);
  await assert.rejects(ck.open('p-c', s), (err) => err.code === 'auth');
  // Two joins later the sender ratcheted twice: followed, and the key kept.
  const a5 = await ratchet(await ratchet(a));
  assert.equal(await ck.open('p-a', await encryptChat(a5, 5, 'p-a', 'later', 2)), 'later');
  assert.equal((await ck.tryOpen('p-a', await encryptChat(a5, 5, 'p-a', 'again', 3))).text, 'again');
  assert.equal((await ck.tryOpen('p-a', s)).text, 'hi', 'the older key stays for texts still on the way');
  ck.close();
});

test('ChatKeys: a sender\'s counter must go up: a text the server sends again, or after a later one, is refused', async () => {
  const ck = new ChatKeys({ clock: new FakeClock() });
  const a = randomBytes(32);
  ck.setKey('p-a', 3, a);
  ck.setKey('p-b', 3, a);
  const first = await encryptChat(a, 3, 'p-a', 'yes, I agree', 1);
  const second = await encryptChat(a, 3, 'p-a', 'to the first point only', 2);
  const fourth = await encryptChat(a, 3, 'p-a', 'bye', 4);
  assert.equal(await ck.open('p-a', first), 'yes, I agree');
  await assert.rejects(ck.open('p-a', first), (err) => err.code === 'replay');
  assert.equal(await ck.open('p-a', fourth), 'bye', 'a gap (a text refused by the server) is fine');
  await assert.rejects(ck.open('p-a', second), (err) => err.code === 'replay', 'moved behind a later one');
  // Counters are per sender.
  assert.equal(await ck.open('p-b', await encryptChat(a, 3, 'p-b', 'mine', 1)), 'mine');
  // A resumed sender (forgotten, then keyed anew) counts on from its clock; its last
  // counter stays, so a text of its old page under a key it gets again is still refused.
  ck.forget('p-a');
  ck.setKey('p-a', 3, a);
  await assert.rejects(ck.open('p-a', fourth), (err) => err.code === 'replay');
  assert.equal(await ck.open('p-a', await encryptChat(a, 3, 'p-a', 'back', 1796428800123)), 'back');
  // A text still being opened when its sender is forgotten (a resume announced right
  // behind it) counts too: shown once, refused when it comes again under the key.
  const late = await encryptChat(a, 3, 'p-a', 'once only', 1796428800200);
  const opening = ck.open('p-a', late);
  ck.forget('p-a');
  assert.equal(await opening, 'once only');
  ck.setKey('p-a', 3, a);
  await assert.rejects(ck.open('p-a', late), (err) => err.code === 'replay');
  ck.close();
});

test('ChatKeys: a text whose key has not come waits, asks the sender, and opens when it comes', async () => {
  const clock = new FakeClock();
  const asked = [];
  const ck = new ChatKeys({ ask: (pid) => asked.push([pid, clock.now()]), clock });
  const t0 = clock.now();
  const old = randomBytes(32);
  const rotated = randomBytes(32); // a rotation: not a ratchet of the held key
  ck.setKey('p-a', 1, old);
  const w = watch(ck.open('p-a', await encryptChat(rotated, 2, 'p-a', 'after the rotation', 1)));
  await eventually(() => asked.length === 1, 'the first key request');
  assert.deepEqual(asked, [['p-a', t0]]);
  await eventually(() => clock.timers.size === 1, 'the wait');
  clock.advance(CHAT_ASK_MS);
  await eventually(() => asked.length === 2, 'the second key request');
  assert.deepEqual(asked.map(([, at]) => at - t0), [0, CHAT_ASK_MS], 'asked again after 2 s');
  assert.equal(w.state, 'pending');
  ck.setKey('p-a', 2, rotated);
  await eventually(() => w.state !== 'pending', 'the text');
  assert.deepEqual(w, { state: 'ok', value: 'after the rotation' });
  ck.close();
});

test('ChatKeys: a key that never comes: unknown-key after CHAT_WAIT_MS, asking every 2 s meanwhile', async () => {
  const clock = new FakeClock();
  const asked = [];
  const ck = new ChatKeys({ ask: (pid) => asked.push(clock.now()), clock });
  const t0 = clock.now();
  const w = watch(ck.open('p-a', await encryptChat(randomBytes(32), 0, 'p-a', 'lost', 1)));
  for (let ms = 0; ms < CHAT_WAIT_MS; ms += CHAT_ASK_MS) {
    await eventually(() => clock.timers.size === 1, `the wait at ${ms} ms`);
    assert.equal(w.state, 'pending', 'still waiting before 10 s');
    clock.advance(CHAT_ASK_MS);
  }
  await eventually(() => w.state !== 'pending', 'the refusal');
  assert.equal(w.state, 'error');
  assert.equal(w.code, 'unknown-key');
  assert.deepEqual(asked.map((at) => at - t0), [0, 2000, 4000, 6000, 8000]);
  ck.close();
});

test('ChatKeys: a text that waits for its sender\'s key holds back only that sender\'s later texts, each waiting from its own arrival; a key that comes at once is no wait', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const a = randomBytes(32);
  ck.setKey('p-a', 0, a);
  // p-w holds no key here (a member without the link's key, sending junk): its two
  // texts wait; p-a's text behind them opens at once.
  const waits = [];
  const junk = (n) => watch(ck.open('p-w', 'e3.' + encode(new Uint8Array(40).fill(n)), () => waits.push(n)));
  const w1 = junk(1);
  const w2 = junk(2);
  const hi = watch(ck.open('p-a', await encryptChat(a, 0, 'p-a', 'hi', 1)));
  await eventually(() => hi.state !== 'pending', "p-a's text");
  assert.deepEqual(hi, { state: 'ok', value: 'hi' });
  // Said to wait once a round went by without the key (a text that comes just before
  // its key is not).
  // Each text waits for its sender's key on its own (tried as it came: chat-churn.test.mjs).
  await eventually(() => clock.timers.size === 2, 'the first wait');
  assert.deepEqual(waits, []);
  clock.advance(CHAT_ASK_MS);
  await eventually(() => waits.length === 2, 'both junk texts waiting');
  assert.deepEqual(waits, [1, 2], 'the second told that it waits, behind the first');
  assert.equal(w1.state, 'pending');
  assert.equal(w2.state, 'pending');
  // Both came at once, so both are given up CHAT_WAIT_MS after that (not the second
  // CHAT_WAIT_MS after the first was).
  for (let ms = CHAT_ASK_MS; ms < CHAT_WAIT_MS; ms += CHAT_ASK_MS) {
    await eventually(() => clock.timers.size === 2, `the wait at ${ms} ms`);
    clock.advance(CHAT_ASK_MS);
  }
  await eventually(() => w1.state !== 'pending' && w2.state !== 'pending', 'both given up');
  assert.deepEqual([w1.code, w2.code], ['unknown-key', 'unknown-key']);
  assert.equal(ck.queues.size, 0, 'nothing kept of the texts once opened or given up');
  ck.close();
});

test('ChatKeys: a text that comes just before its key opens with it, never said to wait', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const a = randomBytes(32);
  let waited = false;
  const w = watch(ck.open('p-a', await encryptChat(a, 4, 'p-a', 'right behind', 1), () => { waited = true; }));
  await eventually(() => clock.timers.size === 1, 'the wait for the key');
  ck.setKey('p-a', 4, a);
  await eventually(() => w.state !== 'pending', 'the text');
  assert.deepEqual(w, { state: 'ok', value: 'right behind' });
  assert.equal(waited, false);
  ck.close();
});

test('ChatKeys: a text queued behind its sender\'s earlier one is said to wait CHAT_ASK_MS after it came, however late each key comes', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const k1 = randomBytes(32);
  const k2 = randomBytes(32); // a rotation: no ratchet of k1
  const waited = [];
  const t1 = watch(ck.open('p-a', await encryptChat(k1, 1, 'p-a', 'one', 1), () => waited.push(1)));
  const t2 = watch(ck.open('p-a', await encryptChat(k2, 2, 'p-a', 'two', 2), () => waited.push(2)));
  await eventually(() => clock.timers.size === 1, "the first text's wait");
  // Each key comes just short of the first round: the first text opens unflagged.
  clock.advance(CHAT_ASK_MS - 100);
  ck.setKey('p-a', 1, k1);
  await eventually(() => t1.state !== 'pending', 'the first text');
  assert.deepEqual(t1, { state: 'ok', value: 'one' });
  await eventually(() => clock.timers.size === 1, "the second text's wait");
  assert.deepEqual(waited, []);
  // The second came with the first: CHAT_ASK_MS after that it is said to wait.
  clock.advance(100);
  await eventually(() => waited.length === 1, 'the second text said to wait');
  assert.deepEqual(waited, [2]);
  ck.setKey('p-a', 2, k2);
  await eventually(() => t2.state !== 'pending', 'the second text');
  assert.deepEqual(t2, { state: 'ok', value: 'two' });
  ck.close();
});
