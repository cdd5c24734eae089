// Rotations in flight (own-keys.js, _flush): each rotation is used ROTATE_DELAY_MS
// after it was sent unless a newer key is in use. What that asks of a receiver (its
// ring keeps the keys of the last RING_SIZE installs per sender: frame.js), and what a
// close in the middle of a rotation or ratchet leaves behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { FakeMedia, KeyRelay } from './harness.mjs';
import { Sim } from './churn-sim.mjs';

/** room: p-a, p-b and p-c verified each other; close(id) is called from within a's sends when set. */
async function room() {
  const relay = new KeyRelay();
  const secret = randomBytes(16);
  const hooks = { onSend: () => {} };
  const join = async (id) => {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const media = new FakeMedia();
    const keys = new SessionKeys({
      meeting, media,
      send: (to, data) => { hooks.onSend(id); relay.relay(id, to, data); },
      sendBatch: (envelopes) => { hooks.onSend(id); for (const { to, data } of envelopes) relay.relay(id, to, data); },
    });
    return relay.admit(id, { id, keys, media }, {});
  };
  const a = await join('p-a');
  await join('p-b');
  await join('p-c');
  await relay.settle();
  return { relay, a, hooks, join };
}

test('a close while a rotation\'s keys go out leaves no rotation timer and no key put in use', async () => {
  const { relay, a, hooks } = await room();
  try {
    const before = a.media.own;
    // The page ends while the rotation for c's leave is being sent (a's batch goes out).
    hooks.onSend = (id) => { if (id === 'p-a') a.keys.close(); };
    relay.leave('p-c');
    await relay.settle();
    assert.equal(a.keys.closed, true);
    assert.equal(a.keys.rotateTimers.size, 0, 'a rotation timer made after close');
    assert.equal(a.keys.own, null, 'an own key set after close');
    assert.equal(a.media.own, before);
  } finally {
    relay.close();
  }
});

test('a close while a join\'s ratchet is computed puts no new own key in use', async () => {
  const { relay, a, join } = await room();
  try {
    const before = a.media.own;
    await join('p-d'); // settled: a ratcheted for it
    const after = a.media.own;
    assert.notEqual(after, before);
    a.keys.pendingJoins.add('p-d'); // another join waiting for its ratchet
    const step = a.keys._flush(); // the flush step, as its timer runs it
    a.keys.close(); // the page ends during the ratchet's HKDF
    await step;
    assert.equal(a.keys.own, null, 'an own key set after close');
    assert.equal(a.media.own, after, 'a key given to the media worker after close');
  } finally {
    relay.close();
  }
});

// A meeting emptying fast: leaves 5 ms apart, each handled in its own flush (a rotation
// each). A receiver installs every rotated key as it comes and keeps the last 16; the
// key in use must still be among them. Deterministic: fixed seed, mocked time.
test('more than 16 rotations within the rotation delay: receivers still read the sender', async () => {
  const sim = await Sim.create(21);
  try {
    const a = sim.admit({ sends: true });
    const b = sim.admit({ sends: false });
    const others = [];
    for (let i = 0; i < 30; i++) others.push(sim.admit({ sends: false }));
    await sim.flushAll();
    await sim.advance(1000);
    await sim.flushAll();
    assert.deepEqual(await sim.problems(), []);
    const quick = async () => {
      for (const p of [a, b]) for (const m of p.inbox.splice(0)) p.deliver(m);
      await sim.rest();
      while (a.outbox.length) sim.handle(a, a.outbox.shift());
      for (const m of b.inbox.splice(0)) b.deliver(m);
      await sim.rest();
    };
    const failed = [];
    const check = async () => {
      if (!(await sim.readsFrames(b, a))) failed.push(Date.now() - 1_700_000_000_000);
    };
    for (const o of others) {
      sim.removeMember(o.id, 'leave');
      await quick();
      await sim.advance(5, 5);
      await quick();
      await check();
    }
    for (let t = 0; t < 40; t++) {
      await sim.advance(10, 10);
      await quick();
      await check();
    }
    assert.deepEqual(failed, [], 'b could not read a at these times (ms)');
    assert.deepEqual(await sim.checkSafety(), []);
  } finally {
    sim.close();
  }
});
