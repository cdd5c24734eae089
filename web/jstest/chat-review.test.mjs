// Review of the past keys (FORMAT.md, "Chat (version 3)", "The newest key"; SessionKeys._pastKeys, judgeKey)
// and of ChatKeys' ring: the promises the other tests did not hold, each one failing
// with its guard taken out.
//   - a past key the server sends again is refused: installed once, waking the waiting
//     texts once (without it, every replay installs it again and wakes a sender's
//     waiting texts: MAX_TRYING tries of up to MAX_RATCHET steps each, as often as the
//     server likes);
//   - a past key never goes to the media worker (frames use the newest only);
//   - a sender gives no past key more than MAX_RATCHET key changes before the current
//     one: the receiver would drop it (judgeKey: stale), a message of the budget for nothing;
//   - ChatKeys never drops a sender's newest key from its ring (where ratchet guesses
//     start), however many earlier keys come after it.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { settled, handAll, serveAll } from './chat-sim.mjs';
import { ChatKeys, encryptChat } from '../static/js/e2ee/chat-keys.js';
import { MAX_RATCHET, RING_SIZE, randomBytes, ratchet } from '../static/js/e2ee/keys.js';
import { FakeClock } from './harness.mjs';

const isKey = (m) => m.type === 'e2ee' && JSON.parse(m.data).t === 'key';

/**
 * lateNewcomer: r joins, a (which sends media) writes a text under the ratchet for r,
 * then `joins` more members come (a ratchets for each) before a verifies r; then
 * everything flows. The key messages a gives r are recorded as they are delivered.
 */
async function lateNewcomer(seed, joins) {
  const { sim, a } = await settled(seed, 2);
  const r = sim.admit({ sends: false });
  handAll(r);
  await sim.rest();
  assert.ok(handAll(a).includes('joined'));
  await sim.rest();
  const heard = a.heard.get(r.name);
  a.chat();
  await sim.rest();
  serveAll(sim, a);
  for (let i = 0; i < joins; i++) {
    sim.admit({ sends: false });
    assert.ok(handAll(a).includes('joined'));
    await sim.rest();
    serveAll(sim, a);
  }
  const given = [];
  const deliver = r.deliver.bind(r);
  r.deliver = (m) => {
    if (m.from === a.id && isKey(m)) given.push(m);
    return deliver(m);
  };
  for (let t = 0; t < 3000; t += 250) {
    await sim.flushAll();
    await sim.advance(250);
  }
  return { sim, a, r, heard, given };
}

test('a past key the server sends again is refused: installed once, never again', async () => {
  const { sim, a, r, heard, given } = await lateNewcomer(61, 1);
  try {
    const P = a.ownHist[heard];
    const past = r.chatInstalled.filter((k) => k.pid === a.id && k.past);
    assert.deepEqual(past.map((k) => k.raw), [P], 'the key of the text before a verified r, as a past key');
    assert.ok(given.length >= 2, 'the current key, then the past one (then the current one again: answers)');
    // The server replays every key envelope a gave r, many times.
    const pastCount = () => r.chatInstalled.filter((k) => k.pid === a.id && k.past).length;
    const replays = given.splice(0);
    for (let i = 0; i < 20; i++) for (const m of replays) r.deliver({ ...m });
    await sim.rest();
    assert.equal(pastCount(), 1, 'a replayed past key installs nothing (and wakes no text)');
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('a past key never reaches the media worker', async () => {
  const { sim, a, r, heard } = await lateNewcomer(62, 2);
  try {
    const past = r.installed.filter((k) => k.pid === a.id && k.past).map((k) => k.raw);
    assert.deepEqual(past, [a.ownHist[heard]]);
    const media = [...new Set(r.installed.filter((k) => k.pid === a.id && !k.past).map((k) => k.raw))];
    assert.ok(media.length > 0);
    for (const raw of past) assert.ok(!media.includes(raw), 'a past key given to the worker');
    assert.deepEqual(media, [a.ownHist[a.ownHist.length - 1]], 'the worker has a\'s current key only');
  } finally {
    sim.close();
  }
});

test('a key more than MAX_RATCHET changes before the current one is not given as a past key (the receiver would drop it)', async () => {
  const { sim, a, r, heard } = await lateNewcomer(63, MAX_RATCHET + 1);
  try {
    const current = a.ownHist[a.ownHist.length - 1];
    assert.ok(a.ownHist.length - 1 - heard > MAX_RATCHET, 'the text\'s key is beyond MAX_RATCHET ratchets');
    const fromA = r.installed.filter((k) => k.pid === a.id);
    assert.deepEqual(fromA.filter((k) => k.raw === a.ownHist[heard]), [], 'the text\'s key is not given');
    assert.deepEqual([...new Set(fromA.map((k) => k.raw))], [current], 'only the current key, and it stays the newest');
    const st = r.keys.chatKeys.senders.get(a.id);
    assert.equal(Buffer.from(st.keys.get(st.newest)).toString('hex'), current);
    assert.deepEqual(await sim.checkSafety(), []);
  } finally {
    sim.close();
  }
});

test('ChatKeys keeps a sender\'s newest key however many earlier keys come after it', async () => {
  const ck = new ChatKeys({ clock: new FakeClock() });
  const newest = randomBytes(32);
  ck.setKey('p-a', 100, newest);
  for (let i = 1; i <= RING_SIZE; i++) ck.setKey('p-a', 100 - i, randomBytes(32), { past: true });
  const st = ck.senders.get('p-a');
  assert.equal(st.newest, 100);
  assert.ok(st.keys.size <= RING_SIZE, 'the ring stays bounded');
  assert.ok(st.keys.has(100), 'the newest is still held');
  assert.equal(await ck.open('p-a', await encryptChat(newest, 100, 'p-a', 'under the newest', 1)), 'under the newest');
  assert.equal(await ck.open('p-a', await encryptChat(await ratchet(newest), 101, 'p-a', 'a ratchet of it', 2)), 'a ratchet of it');
  ck.close();
});
