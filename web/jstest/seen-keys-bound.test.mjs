// What a page remembers of each member's media keys over a long day of one meeting
// (seen-keys.js: newKey, pastKey, keysKept). Every leave makes every sending member
// rotate its key and every join ratchets it, so a member's key counter climbs all day:
// the record of a member's earlier keys holds those that can still change a verdict of
// judgeKey (at most MAX_RATCHET below its newest), not every key of the day, and its
// verdicts are those of a record that forgets nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { newSeen, judgeKey, newKey, pastKey, keysKept, hex } from '../static/js/e2ee/seen-keys.js';
import { KEY_INDEX_COUNT, MAX_RATCHET } from '../static/js/e2ee/keys.js';
import { ROTATE_DELAY_MS } from '../static/js/e2ee/rotations.js';
import { FakeClock, dayRoom } from './harness.mjs';

const hexOf = (b) => Buffer.from(b).toString('hex');

test('a long day of joins and leaves: a member\'s remembered keys stay bounded, the newest still taken', async () => {
  const clock = new FakeClock();
  const { relay, join, 'p-a': a, 'p-b': b } = await dayRoom(clock, ['p-a', 'p-b']);
  try {
    // ROUNDS people come and go, one after another: a ratchets for each join (b follows
    // by itself) and rotates for each leave (b takes the rotated key's envelope): twice
    // as many key changes, half of them envelopes b remembers. A record that forgot
    // nothing would hold ROUNDS earlier keys, ten times MAX_RATCHET; and a's counter
    // passes KEY_INDEX_COUNT + MAX_RATCHET, so its key index wraps and a record that
    // judged by index, not counter, would keep the keys from before the wrap. (It was
    // 500 rounds, 10 s of the suite; nothing here depends on more than these two.)
    const ROUNDS = 10 * MAX_RATCHET;
    for (let i = 0; i < ROUNDS; i++) {
      const id = `p-x${i}`;
      await join(id);
      relay.leave(id);
      await relay.settle();
      clock.advance(ROTATE_DELAY_MS);
      await relay.settle();
    }
    const counter = a.keys.own.seq - 1;
    assert.ok(counter > KEY_INDEX_COUNT + MAX_RATCHET, `a made only ${counter + 1} keys: its key index did not wrap`);
    const seen = b.keys.seen.get('p-a');
    assert.equal(seen.current, hexOf(a.keys.own.raw), 'b does not hold a\'s newest key as current');
    assert.equal(b.keys.stateOf('p-a'), 'verified');
    assert.ok(seen.past.size <= MAX_RATCHET,
      `b remembers ${seen.past.size} earlier keys of a, whose counter is ${counter}: more than MAX_RATCHET (${MAX_RATCHET})`);
    for (const c of seen.past.values()) assert.ok(counter - c <= MAX_RATCHET, `a key at counter ${c} kept, ${counter - c} below the newest`);
    // The newest key reaches b's media (the frames read under it).
    const got = b.media.received.get('p-a');
    assert.equal(hexOf(got[got.length - 1].raw), hexOf(a.keys.own.raw));
  } finally {
    relay.close();
  }
});

test('a member back from many drops of its connection leaves no key of its earlier pages in the others\' record', async () => {
  const clock = new FakeClock();
  const room = await dayRoom(clock, ['p-a', 'p-b']);
  const { relay, join, 'p-b': b } = room;
  let a = room['p-a'];
  try {
    const earlier = []; // every key of a's pages before the current one
    let guest = 0;
    for (let drop = 0; drop < 25; drop++) {
      // Two people come and go: a ratchets and rotates, b takes the rotated keys.
      for (let i = 0; i < 2; i++) {
        const id = `p-x${guest++}`;
        await join(id);
        relay.leave(id);
        await relay.settle();
        clock.advance(ROTATE_DELAY_MS);
        await relay.settle();
      }
      earlier.push(hexOf(a.keys.own.raw));
      earlier.push(...b.keys.seen.get('p-a').past.keys());
      a = await join('p-a', { resumed: true }); // a's link dropped: its page is back
      await relay.settle();
    }
    assert.equal(b.keys.stateOf('p-a'), 'verified');
    const seen = b.keys.seen.get('p-a');
    assert.equal(seen.current, hexOf(a.keys.own.raw), 'b does not hold the resumed page\'s key as a\'s current');
    const old = [seen.current, ...seen.past.keys()].filter((k) => earlier.includes(k));
    assert.equal(old.length, 0, `b remembers ${old.length} keys of a's pages before its last resume (${seen.past.size} earlier keys in all)`);
    assert.ok(seen.past.size <= MAX_RATCHET);
    assert.equal(seen.pubs.size, 26, 'a\'s identities, refused after its resumes, are kept');
  } finally {
    relay.close();
  }
});

/** rng is a small seeded generator (mulberry32): the same day every run. */
function rng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** full is the record that forgets nothing (the page's before keysKept): its verdict for key. */
function fullJudge(full, newest, key) {
  const seen = { pubs: new Set(), current: full.current, counter: newest, past: full.past };
  return judgeKey(seen, newest, key);
}

test('a bounded record judges every envelope of a long day as one that forgets nothing does', () => {
  const rand = rng(76);
  const keyAt = (c) => {
    const raw = new Uint8Array(32);
    new DataView(raw.buffer).setUint32(0, c);
    raw[31] = 0x5a;
    return raw;
  };
  const seen = newSeen();
  const full = { current: '', past: new Map() }; // never forgets
  let newest = -1; // the receiver's (member-keys.js p.newest)
  let made = 0; // the member's counter: keys 0 .. made - 1 exist
  const sent = []; // every envelope the member sent: the server may replay any of them
  let differ = 0;
  let largest = 0;
  for (let step = 0; step < 20000; step++) {
    let env;
    const r = rand();
    if (r < 0.3 || made === 0) {
      env = { counter: made, past: false, raw: keyAt(made) }; // a new key (ratchet or rotation)
      made++;
    } else if (r < 0.4) {
      const c = made - 1;
      env = { counter: c, past: false, raw: keyAt(c) }; // the newest sent again
    } else if (r < 0.55) {
      const c = Math.max(0, made - 1 - Math.floor(rand() * 24)); // a past key for chat texts
      env = { counter: c, past: true, raw: keyAt(c) };
    } else {
      env = sent[Math.floor(rand() * sent.length)]; // the server replays one, however old
    }
    sent.push(env);
    const v = judgeKey(seen, newest, env);
    const want = fullJudge(full, newest, env);
    if (v !== want) {
      // Only a key forgotten for its age: the record that forgets nothing calls it a
      // replay, the bounded one stale; both are dropped and nothing changes.
      assert.equal(want, 'replay', `envelope at ${env.counter} (newest ${newest}): ${v}, not ${want}`);
      assert.equal(v, 'stale');
      assert.ok(newest - env.counter > MAX_RATCHET, `a key ${newest - env.counter} below the newest forgotten`);
      differ++;
    }
    if (v === 'newest') {
      newKey(seen, env.raw, env.counter);
      if (full.current && full.current !== hex(env.raw)) full.past.set(full.current, newest);
      full.current = hex(env.raw);
      newest = env.counter;
    } else if (v === 'past') {
      pastKey(seen, env.raw, env.counter);
      full.past.set(hex(env.raw), env.counter);
    }
    largest = Math.max(largest, seen.past.size);
  }
  assert.ok(made > 5000, `only ${made} keys made`);
  assert.ok(largest <= MAX_RATCHET, `the record held ${largest} earlier keys of ${made}, more than MAX_RATCHET`);
  assert.ok(differ > 0, 'no replay of a forgotten key came: the check proves nothing');
  assert.ok(full.past.size > 5000);
});

test('keysKept forgets nothing at MAX_RATCHET below the newest, and what is older', () => {
  const seen = newSeen();
  const raw = (n) => Uint8Array.from({ length: 32 }, () => n);
  newKey(seen, raw(1), 10);
  pastKey(seen, raw(2), 3);
  newKey(seen, raw(3), 19); // 10 is 9 below, 3 is 16 below: both kept
  assert.deepEqual([...seen.past.values()].sort((x, y) => x - y), [3, 10]);
  newKey(seen, raw(4), 20); // 3 is 17 below: forgotten
  assert.deepEqual([...seen.past.values()].sort((x, y) => x - y), [10, 19]);
  keysKept(seen);
  assert.equal(seen.past.size, 2);
  assert.equal(judgeKey(seen, 20, { counter: 3, past: true, raw: raw(2) }), 'stale');
  assert.equal(judgeKey(seen, 20, { counter: 10, past: true, raw: raw(1) }), 'replay');
});
