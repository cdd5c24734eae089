// Liveness and safety of the key schedule under churn, with an HONEST server
// (churn-sim.mjs): members join in bursts, leave, are removed, drop and resume (the
// same id on a new page), while the server keeps each connection in order and
// interleaves connections at random. Once the churn stops, every current member must
// verify every other and read its frames and chat within seconds, with no warning (a
// warning says the server may be tampering: a false one cries wolf); a page never
// gets a key its sender had before it heard of that page's arrival; nothing is sent
// after a leave under a key the one who left can follow.
//
// The first tests are the smallest schedules the simulation found failing, written out.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { Sim } from './churn-sim.mjs';
import { runSchedule } from './churn-schedule.mjs';

/** settled: three members that know each other, one of them sending. */
async function three(seed) {
  const sim = await Sim.create(seed);
  const a = sim.admit({ sends: true });
  const b = sim.admit({ sends: true });
  const r = sim.admit({ sends: false });
  await sim.flushAll();
  await sim.advance(1000);
  await sim.flushAll();
  assert.deepEqual(await sim.problems(), []);
  return { sim, a, b, r };
}

/** handAll gives page everything waiting for it in one go (its key queue busy meanwhile). */
function handAll(page) {
  const msgs = page.inbox.splice(0);
  for (const m of msgs) page.deliver(m);
  return msgs.map((m) => m.type);
}

test('a resumed page gets no key from before its resume, however its identity and the resume arrive', async () => {
  const { sim, a, r } = await three(11);
  try {
    sim.drop(r.id, 0);
    const r2 = sim.resume(r.id, { sends: false });
    handAll(r2); // its welcome: it broadcasts a new identity
    await sim.rest();
    while (r2.outbox.length) sim.handle(r2, r2.outbox.shift());
    // a gets participant_resumed and the new identity together: its queue takes both
    // before the resume's step runs.
    assert.deepEqual(handAll(a), ['resumed', 'e2ee']);
    await sim.rest();
    await sim.flushAll();
    await sim.advance(3000);
    await sim.flushAll();
    assert.deepEqual(await sim.checkSafety(), [], 'the ratchet for the resume comes before any key to it');
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('a member that resumes and leaves at once is no dead id returning (no false warning)', async () => {
  const { sim, a, r } = await three(12);
  try {
    sim.drop(r.id, 0);
    sim.resume(r.id, { sends: false });
    sim.removeMember(r.id, 'remove'); // removed (or gone) right after coming back
    assert.deepEqual(handAll(a), ['resumed', 'left']);
    await sim.rest();
    await sim.flushAll();
    await sim.advance(3000);
    await sim.flushAll();
    assert.deepEqual(a.keys.warnings(), { count: 0, kinds: {} });
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('the simulation\'s pages take a participant_resumed for an id that left as a page does: a warning (only a lying server sends one)', async () => {
  // churn-page.mjs copies session-roster.js's handling; a page that passed over such a
  // resume could not show a false warning of it in an honest run.
  const { sim, a, r } = await three(13);
  try {
    sim.removeMember(r.id, 'remove');
    assert.deepEqual(handAll(a), ['left']);
    await sim.rest();
    a.inbox.push({ type: 'resumed', id: r.id, name: `${r.id}#9` }); // what no honest server sends
    handAll(a);
    await sim.rest();
    await sim.flushAll();
    assert.deepEqual(a.keys.warnings().kinds, { 'departed-rejoin': 1 }, 'the resume of one who left was passed over');
    assert.equal(a.participants.has(r.id), false);
    assert.notEqual(a.keys.stateOf(r.id), 'verified');
  } finally {
    sim.close();
  }
});

test('leaves less than the rotation delay apart do not keep frames under the first leaver\'s key', async () => {
  const sim = await Sim.create(13);
  try {
    const a = sim.admit({ sends: true });
    const others = [];
    for (let i = 0; i < 5; i++) others.push(sim.admit({ sends: false }));
    await sim.flushAll();
    await sim.advance(1000);
    await sim.flushAll();
    assert.ok(a.publishing);
    // Four leave 200 ms apart (a meeting emptying): each rotation is used 300 ms after it
    // was sent, not put off by the next one.
    for (const o of others.slice(0, 4)) {
      sim.removeMember(o.id, 'leave');
      await sim.flushAll();
      for (let t = 0; t < 200; t += 50) {
        await sim.advance(50);
        await sim.frames();
      }
    }
    await sim.advance(1000);
    await sim.frames();
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

// Random schedules, fixed seeds: 10 to 24 members, bursts of joins, leaves, removals,
// drops, resumes (also of a connection the server still held), expiries, chat and
// frames, each connection's messages in order and the connections interleaved at random.
for (const seed of [3, 4]) {
  test(`churn with an honest server, seed ${seed}: everyone reads everyone soon after, nothing unsafe`, async () => {
    const r = await runSchedule(seed, { initial: 10, steps: 130, max: 24 });
    const why = `\n${r.log.slice(-40).join('\n')}`;
    assert.deepEqual(r.errors, [], why);
    assert.deepEqual(r.safety, [], why);
    assert.deepEqual(r.warned, [], `pages that showed a warning${why}`);
    assert.deepEqual(r.problems, [], why);
    // converged is read on the simulation's clock (churn-sim.mjs mocks Date with the
    // timers), which moves only when the simulation moves it: a seed converges in the
    // same milliseconds however fast the machine runs (seed 3: 197).
    assert.ok(r.converged >= 0 && r.converged <= 20000, `converged in ${r.converged} ms${why}`);
  });
}
