// The chat counter (e2ee/FORMAT.md, "Chat (version 3)"): a sender counts on its clock,
// the page's injected one (the clock SessionKeys was given), so that a text's counter is
// above its sender's before, also those of its page before a reload. And the page's own
// keys, which its ChatKeys holds without a counter (FORMAT.md, "Chat (version 3)", its
// vectors: why the Go reference's keyDrops cannot cover them).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ROTATE_DELAY_MS } from '../static/js/e2ee/rotations.js';
import { FakeClock, keyRoom } from './harness.mjs';

const EPOCH_MS = 1_796_428_800_000; // the fake clock's wall time, in ms since 1970

function wallClock() {
  const clock = new FakeClock();
  clock.t = EPOCH_MS;
  return clock;
}

test('the own chat counter is the injected clock\'s time, one above the last within a millisecond, and above the old page\'s after a reload', async () => {
  const clock = wallClock();
  const { relay, join, 'p-a': a, 'p-b': b } = await keyRoom(clock, ['p-a', 'p-b']);
  try {
    const taken = () => b.keys.chatKeys.counters.get('p-a');
    assert.equal(await b.keys.decryptChat('p-a', await a.keys.encryptChat('one')), 'one');
    assert.equal(taken(), clock.now(), 'the counter is the clock SessionKeys was given');
    assert.equal(await b.keys.decryptChat('p-a', await a.keys.encryptChat('two')), 'two');
    assert.equal(taken(), clock.now() + 1, 'in the same millisecond: one above the last');
    clock.advance(5000);
    assert.equal(await b.keys.decryptChat('p-a', await a.keys.encryptChat('three')), 'three');
    assert.equal(taken(), clock.now());
    // a reloads: a new page (new keys, counting from 0 again), the same id; b keeps a's last counter.
    clock.advance(1000);
    const a2 = await join('p-a', { resumed: true });
    await relay.settle();
    assert.equal(await b.keys.decryptChat('p-a', await a2.keys.encryptChat('back')), 'back', 'the reloaded page\'s text is above the old page\'s');
    assert.equal(taken(), clock.now());
  } finally {
    relay.close();
  }
});

// The page's clock reads spans on its monotonic now() (a wall clock set back an hour
// asked no sender for a key for the hour) and the chat counter on its wall(): a counter
// of the monotonic clock, which starts near 0 with each page, would be below the old
// page's after a reload, and the members would drop every text of the new one.
test('the own chat counter is the clock\'s wall time where it has one, and counts on when that is set back', async () => {
  const clock = new FakeClock(); // now(): monotonic, from 1 000 000 ms
  let wall = EPOCH_MS;
  clock.wall = () => wall;
  const { relay, 'p-a': a, 'p-b': b } = await keyRoom(clock, ['p-a', 'p-b']);
  try {
    const taken = () => b.keys.chatKeys.counters.get('p-a');
    assert.equal(await b.keys.decryptChat('p-a', await a.keys.encryptChat('one')), 'one');
    assert.equal(taken(), EPOCH_MS, 'the counter is the wall clock\'s');
    wall -= 3_600_000; // set back an hour
    assert.equal(await b.keys.decryptChat('p-a', await a.keys.encryptChat('two')), 'two');
    assert.equal(taken(), EPOCH_MS + 1, 'one above the last');
  } finally {
    relay.close();
  }
});

test('the page\'s own keys come to its chat keys in the order of use, not of counters: a rotated key put in use after a newer one sealed a text drops nothing', async () => {
  const clock = wallClock();
  const { relay, 'p-a': a } = await keyRoom(clock, ['p-a', 'p-b', 'p-c', 'p-d']);
  try {
    relay.leave('p-c');
    await relay.settle(); // a sends media: it rotates, and puts the key in use ROTATE_DELAY_MS on
    const first = a.keys.own;
    clock.advance(ROTATE_DELAY_MS / 2);
    relay.leave('p-d');
    await relay.settle();
    const text = await a.keys.encryptChat('after both left');
    const second = a.keys.own;
    assert.ok(second.seq > first.seq && a.keys.using.seq < first.seq, 'two rotations wait, the newer one sealed the text');
    clock.advance(ROTATE_DELAY_MS / 2); // the first rotation's time: its key goes in use, after the newer one
    assert.equal(a.keys.using, first);
    const own = a.keys.chatKeys.senders.get('p-a');
    assert.ok(own.keys.has(second.index) && own.keys.has(first.index), 'the newer own key is still held');
    assert.equal(await a.keys.decryptChat('p-a', text), 'after both left', 'the own echo opens at once');
  } finally {
    relay.close();
  }
});
