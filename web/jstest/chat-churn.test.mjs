// Chat texts under churn with an HONEST server (churn-sim.mjs), the losses the churn
// simulation found, written out small:
//   (a) a text its sender wrote after it heard of a newcomer but before it verified it,
//       whose key then moved on (another join's ratchet) before the verification: the
//       newcomer got only the newer key, and the text waited 10 s, asked, and showed as
//       unreadable. The sender now also gives a member it verifies the keys of its
//       chat texts since it heard of that member (never a key from before the
//       announcement), marked past in their envelopes, also from before a leave's
//       rotation: each envelope carries its key's counter, so a receiver never takes
//       one for its sender's newest (FORMAT.md "Chat (version 3)", "The newest key").
//   (b) a text that cannot open held its sender's later texts for 10 s, by when the
//       sender had rotated, and a later text under a ratchet of a key the receiver held
//       on its arrival no longer opened. Each text is now opened as it arrives (and
//       again at each key of its sender while it waits), and taken in the order texts
//       came (counters, display) as before.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { settled, handAll, serveAll, got } from './chat-sim.mjs';
import { ChatKeys, encryptChat } from '../static/js/e2ee/chat-keys.js';
import { randomBytes, ratchet } from '../static/js/e2ee/keys.js';
import { FakeClock, eventually } from './harness.mjs';

/**
 * newcomer: r joins; a hears of it (and ratchets for it), writes a text before it has
 * r's identity, then `moveOn` changes a's key again, and only then does everything flow.
 */
async function newcomer(seed, moveOn) {
  const { sim, a, others } = await settled(seed, 3);
  try {
    const r = sim.admit({ sends: false });
    assert.deepEqual(handAll(r), ['welcome']);
    await sim.rest(); // r's key schedule starts (its identity waits in its outbox)
    assert.deepEqual(handAll(a), ['joined']);
    await sim.rest(); // a's flush: the ratchet for r
    a.chat(); // under the ratchet for r, before a verified r
    await sim.rest();
    serveAll(sim, a); // the text goes to everyone, r included
    await moveOn({ sim, a, others });
    await sim.rest();
    serveAll(sim, a);
    for (let t = 0; t < 14000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    return { sim, a, r, others };
  } catch (err) {
    sim.close();
    throw err;
  }
}

test('(a) a text written before its sender verified a newcomer, whose key a later join moved on, opens there', async () => {
  const { sim, a, r, others } = await newcomer(21, async ({ sim: s, a: sender }) => {
    s.admit({ sends: false }); // another join: a ratchets on before it verifies r
    assert.ok(handAll(sender).includes('joined'));
  });
  try {
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`]);
    assert.deepEqual(await sim.checkSafety(), [], 'no key from before a heard of r');
    assert.deepEqual(await sim.problems(), []);
    for (const o of others) assert.deepEqual(got(sim, o, a), [`hello from ${a.name}`], o.name);
  } finally {
    sim.close();
  }
});

test('(a) the same with the key moved on by a leave\'s rotation: the key from before the rotation comes as a past key', async () => {
  const { sim, a, r } = await newcomer(22, async ({ sim: s, a: sender, others }) => {
    s.removeMember(others[0].id, 'leave'); // a rotates before it verifies r
    assert.ok(handAll(sender).includes('left'));
  });
  try {
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`]);
    // The text's key (from before the rotation) is r's for chat only; the rotated one is a's newest.
    const st = r.keys.chatKeys.senders.get(a.id);
    assert.equal(Buffer.from(st.keys.get(st.newest)).toString('hex'), Buffer.from(a.keys.own.raw).toString('hex'));
    assert.deepEqual([...new Set(r.installed.filter((k) => k.pid === a.id && !k.past).map((k) => k.raw))], [Buffer.from(a.keys.own.raw).toString('hex')], 'the worker has the rotated key only');
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('(b) a later text under a ratchet of a key held on its arrival opens, though an earlier one of its sender waits until after a rotation', async () => {
  // T1: written before a verified the newcomer r, then a rotates (b leaves): r gets its
  // key only as a past key, after the rotated one (the case above).
  const { sim, a, r, others } = await newcomer(23, async ({ sim: s, a: sender, others: o }) => {
    s.removeMember(o[0].id, 'leave');
    assert.ok(handAll(sender).includes('left'));
    await s.rest();
    serveAll(s, sender);
    // r verifies a and gets a's rotated key; T1 still waits.
    await s.flushAll();
    await s.advance(500);
    await s.flushAll();
    // T2: another join, a ratchets (r follows by itself) and writes again.
    s.admit({ sends: false });
    assert.ok(handAll(sender).includes('joined'));
    await s.rest();
    sender.chat();
    await s.rest();
    serveAll(s, sender);
    for (const p of s.live()) if (p !== sender) handAll(p); // T2 arrives: r holds what opens it
    await s.rest();
    // A leave: a rotates before T1 is given up.
    s.removeMember(o[1].id, 'leave');
    handAll(sender);
  });
  try {
    const texts = got(sim, r, a);
    assert.equal(texts.length, 2);
    assert.equal(texts[1], `hello from ${a.name}`, 'the later text opened on arrival');
    assert.equal(texts[0], `hello from ${a.name}`, 'the earlier one: under a past key from before the rotation');
    assert.deepEqual(await sim.checkSafety(), []);
    void others;
  } finally {
    sim.close();
  }
});

/** watch reports a pending promise's outcome without waiting. */
function watch(p) {
  const w = { state: 'pending' };
  p.then((x) => { w.state = 'ok'; w.value = x; }, (err) => { w.state = 'error'; w.code = err.code; });
  return w;
}

test('(b) ChatKeys: a text behind one that waits is opened with the keys held on its arrival, and taken after it', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const k5 = randomBytes(32);
  ck.setKey('p-a', 5, k5);
  const lost = await encryptChat(randomBytes(32), 9, 'p-a', 'never opens here', 1); // its key never comes
  const later = await encryptChat(await ratchet(k5), 6, 'p-a', 'under a ratchet of k5', 2);
  const t1 = watch(ck.open('p-a', lost));
  const t2 = watch(ck.open('p-a', later));
  await eventually(() => clock.timers.size === 1, 'the first text waits');
  ck.setKey('p-a', 7, randomBytes(32)); // a rotation: k5's ratchets are no longer followed
  for (let ms = 0; ms < 12000; ms += 1000) {
    clock.advance(1000);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await eventually(() => t1.state !== 'pending' && t2.state !== 'pending', 'both');
  assert.deepEqual(t1, { state: 'error', code: 'unknown-key' });
  assert.deepEqual(t2, { state: 'ok', value: 'under a ratchet of k5' });
  ck.close();
});

test('(b) ChatKeys: opened as they come, texts are still taken in the order they came: a replay, or a text moved behind a later one, is refused', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const k1 = randomBytes(32);
  const k2 = randomBytes(32); // a rotation: no ratchet of k1
  ck.setKey('p-a', 1, k1);
  const five = await encryptChat(k1, 1, 'p-a', 'five', 5);
  const six = await encryptChat(k2, 2, 'p-a', 'six', 6);
  const seven = await encryptChat(k1, 1, 'p-a', 'seven', 7);
  // The server sends six (its key not here yet), then five and seven, which open at once,
  // then six again.
  const w6 = watch(ck.open('p-a', six));
  const w5 = watch(ck.open('p-a', five));
  const w7 = watch(ck.open('p-a', seven));
  const again = watch(ck.open('p-a', six));
  await eventually(() => clock.timers.size >= 1, 'six waits');
  await new Promise((resolve) => setTimeout(resolve, 20));
  assert.deepEqual([w6.state, w5.state, w7.state, again.state], ['pending', 'pending', 'pending', 'pending'], 'opened, but not taken before six');
  ck.setKey('p-a', 2, k2);
  await eventually(() => [w6, w5, w7, again].every((w) => w.state !== 'pending'), 'all four');
  assert.deepEqual(w6, { state: 'ok', value: 'six' });
  assert.deepEqual(w5, { state: 'error', code: 'replay' }, 'moved behind a later one');
  assert.deepEqual(w7, { state: 'ok', value: 'seven' });
  assert.deepEqual(again, { state: 'error', code: 'replay' }, 'sent again');
  // Re-attributed to another sender that holds the same key: refused at once, never waits.
  ck.setKey('p-b', 1, k1);
  await assert.rejects(ck.open('p-b', await encryptChat(k1, 1, 'p-a', 'not b', 8)), (err) => err.code === 'auth');
  assert.equal(ck.queues.size, 0);
  ck.close();
});

/**
 * keysFrom: the own keys of `sender` that `page` was given, as sender's key numbers (0
 * the first it made), each once (the current one comes again to answer a key request).
 */
function keysFrom(sim, page, sender) {
  const ats = page.installed.filter((k) => k.pid === sender.id).map((k) => sim.maker.get(k.raw)).map((m) => (m.page === sender ? m.at : -1));
  return ats.filter((at, i) => ats.indexOf(at) === i);
}

test('(a) a verified newcomer gets the chat keys since its sender heard of it: none from before, also across a rotation (marked past)', async () => {
  const { sim, a, others } = await settled(31, 3);
  try {
    a.chat(); // before anyone heard of r: under a key r must never get
    await sim.rest();
    serveAll(sim, a);
    const r = sim.admit({ sends: false });
    handAll(r);
    await sim.rest();
    assert.ok(handAll(a).includes('joined'));
    await sim.rest();
    const heard = a.heard.get(r.name);
    a.chat(); // under the ratchet for r: r's to read
    await sim.rest();
    serveAll(sim, a);
    sim.admit({ sends: false }); // a ratchets on
    assert.ok(handAll(a).includes('joined'));
    await sim.rest();
    a.chat(); // under that ratchet
    await sim.rest();
    serveAll(sim, a);
    for (let t = 0; t < 12000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    assert.deepEqual(keysFrom(sim, r, a), [heard + 1, heard], 'the two chat keys since a heard of r, the current one first');
    const [k2, k1] = [...new Set(r.installed.filter((k) => k.pid === a.id).map((k) => k.raw))];
    assert.equal(Buffer.from(await ratchet(Buffer.from(k1, 'hex'))).toString('hex'), k2, 'the earlier one leads to the current one by ratchet');
    const st = r.keys.chatKeys.senders.get(a.id);
    assert.equal(Buffer.from(st.keys.get(st.newest)).toString('hex'), k2, 'the current one stays the newest');
    assert.deepEqual(r.installed.filter((k) => k.pid === a.id && k.past).map((k) => k.raw), [k1], 'the earlier one only for chat');
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`, `hello from ${a.name}`]);
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);

    // Now a rotation between a text and the verification: r2 gets the rotated key, then
    // the text's key from before the rotation, for chat only.
    const r2 = sim.admit({ sends: false });
    handAll(r2);
    await sim.rest();
    assert.ok(handAll(a).includes('joined'));
    await sim.rest();
    const heard2 = a.heard.get(r2.name);
    a.chat();
    await sim.rest();
    serveAll(sim, a);
    sim.removeMember(others[0].id, 'leave');
    assert.ok(handAll(a).includes('left'));
    await sim.rest();
    for (let t = 0; t < 12000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    assert.deepEqual(keysFrom(sim, r2, a), [heard2 + 1, heard2], 'the key after the rotation, then the text\'s');
    assert.deepEqual(r2.installed.filter((k) => k.pid === a.id && k.past).map((k) => k.raw), [a.ownHist[heard2]], 'the one before the rotation only for chat');
    assert.deepEqual(got(sim, r2, a).slice(-1), [`hello from ${a.name}`]);
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('(c) a text that arrives right behind the welcome, before the key schedule started, waits for its key', async () => {
  const { sim, a } = await settled(41, 2);
  try {
    const r = sim.admit({ sends: false });
    assert.ok(handAll(a).includes('joined'));
    await sim.rest();
    a.chat(); // under the ratchet for r, which r gets once a verified it
    await sim.rest();
    serveAll(sim, a);
    assert.deepEqual(handAll(r).filter((t) => t !== 'e2ee'), ['welcome', 'chat']); // one burst: the welcome's step has not run
    for (let t = 0; t < 12000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`]);
  } finally {
    sim.close();
  }
});
