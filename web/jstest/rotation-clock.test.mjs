// The key schedule's own timers run on its injected clock (own-keys.js: the flush
// that handles joins and leaves arriving together; rotations.js: a rotated key used
// ROTATE_DELAY_MS after it was sent), like the rest of the E2EE code: a Node test moves
// them on itself, and a close leaves none behind on that clock. They were the global
// setTimeout, which the clock a page's SessionKeys was given never saw.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ROTATE_DELAY_MS } from '../static/js/e2ee/rotations.js';
import { FakeClock, keyRoom } from './harness.mjs';

test('a leave\'s flush and its rotation wait for the injected clock, to the millisecond', async () => {
  const clock = new FakeClock();
  const { relay, 'p-a': a, 'p-b': b } = await keyRoom(clock);
  try {
    const before = a.media.own.index;
    relay.leave('p-c');
    await a.keys.queue;
    assert.notEqual(a.keys.flushTimer, null, 'no flush waits');
    assert.equal(clock.timers.has(a.keys.flushTimer), true, 'the flush is not on the injected clock');
    clock.advance(0); // the flush
    await relay.settle();
    const rotated = a.keys.own.index;
    assert.notEqual(rotated, before, 'the leave did not rotate');
    assert.ok((b.media.received.get('p-a') || []).some((k) => k.index === rotated), 'b did not get the rotated key');
    assert.equal(a.keys.rotateTimers.size, 1);
    assert.ok([...a.keys.rotateTimers.keys()].every((t) => clock.timers.has(t)), 'the rotation is not on the injected clock');
    assert.equal(a.media.own.index, before, 'the rotated key used before its receivers had time to get it');
    clock.advance(ROTATE_DELAY_MS - 1);
    assert.equal(a.media.own.index, before, 'the rotated key used early');
    clock.advance(1);
    assert.equal(a.media.own.index, rotated, 'the rotated key not used when its time came');
    assert.equal(a.keys.rotateTimers.size, 0);
  } finally {
    relay.close();
  }
});

test('a close while a flush and a rotation wait leaves nothing on the injected clock', async () => {
  const clock = new FakeClock();
  const { relay, 'p-a': a, 'p-b': b } = await keyRoom(clock);
  try {
    relay.leave('p-c');
    await a.keys.queue;
    clock.advance(0);
    await relay.settle();
    assert.equal(a.keys.rotateTimers.size, 1);
    relay.leave('p-b'); // a flush waits again beside the rotation
    await a.keys.queue;
    assert.equal(clock.timers.has(a.keys.flushTimer), true, 'the flush is not on the injected clock');
    a.keys.close();
    b.keys.close();
    assert.equal(clock.timers.size, 0, 'timers left on the clock after close');
  } finally {
    relay.close();
  }
});

test('a close while a join\'s identity is tagged leaves no flush behind on the injected clock', async () => {
  const clock = new FakeClock();
  const { relay, 'p-a': a, 'p-b': b, 'p-c': c } = await keyRoom(clock);
  try {
    a.keys.peerJoined('p-d');
    // The join's step has begun (its member state is there) and waits for its identity
    // tag, a WebCrypto HMAC that settles in a later task: only microtasks run here.
    for (let i = 0; i < 100 && !a.keys.peers.has('p-d'); i++) await Promise.resolve();
    assert.equal(a.keys.peers.has('p-d'), true, 'the join did not begin');
    for (const m of [a, b, c]) m.keys.close();
    await a.keys.queue; // the tag done, the step at its end
    assert.equal(a.keys.flushTimer, null, 'a flush was set after close');
    assert.equal(clock.timers.size, 0, 'timers left on the clock after close');
  } finally {
    relay.close();
  }
});
