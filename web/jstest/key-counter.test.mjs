// The counter in the key envelope (FORMAT.md, "The newest key"), against a server that
// holds back, reorders and replays key envelopes and makes up resumes, working with a
// member who left (who can follow every ratchet of a key it held):
//   - an envelope held back until after its sender's rotation for a leave, then
//     delivered (and again): dropped, never the sender's newest, so neither
//     frames nor chat texts the one who left writes under its ratchets open, and the
//     sender stays readable (version 2 took it as the newest: FORMAT.md's old weakness);
//   - a past key (marked so in its envelope) delivered before the current key it came
//     after, which the server holds back: never the newest either;
//   - old envelopes delivered after a resume the server made up, or after a real one
//     (whose counter starts again): nothing of them is installed;
//   - ratchets of the old key the receiver followed (the one who left writing) while the
//     rotation was held back: gone once it comes, for frames and chat texts alike.
//     a guess of one still being derived when the rotation comes is not kept either.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { settled, handAll, serveAll, got } from './chat-sim.mjs';
import { UNREADABLE } from '../static/js/e2ee/session-chat.js';
import { encryptChat } from '../static/js/e2ee/chat-keys.js';
import { KeyRing, CAMERA, VP8 } from '../static/js/e2ee/frame.js';
import { ratchet } from '../static/js/e2ee/keys.js';

const hexOf = (b) => Buffer.from(b).toString('hex');
const isKey = (data) => JSON.parse(data).t === 'key';
const FRAME = Uint8Array.from([0x31, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);

async function run(sim, ms = 3000) {
  for (let t = 0; t < ms; t += 250) {
    await sim.flushAll();
    await sim.advance(250);
  }
}

/**
 * forgeries: what one who holds raw (at index) writes as sender under it and its
 * ratchets, 0 to 6 steps on: frames (each with its steps) and texts (at indexes r holds
 * no chat key at).
 */
async function forgeries(r, sender, index, raw) {
  const frames = [];
  const texts = [];
  const st = r.keys.chatKeys.senders.get(sender.id);
  let k = raw;
  for (let steps = 0; steps <= 6; steps++) {
    if (steps > 0) k = await ratchet(k);
    const i = (index + steps) % 256;
    const ring = new KeyRing();
    await ring.set(i, k);
    frames.push({ steps, frame: await ring.encrypt(sender.id, FRAME, VP8, CAMERA) });
    if (!st || !st.keys.has(i)) texts.push(await encryptChat(k, i, sender.id, `forged ${steps}`, Date.now() + 1000 * steps));
  }
  return { frames, texts };
}

/** opens lists the forged frames r decrypts as sender's (by their steps). */
async function opens(r, sender, frames) {
  const out = [];
  for (const { steps, frame } of frames) {
    try {
      await r.rings.decrypt(sender.id, frame, VP8);
      out.push(steps);
    } catch {
      // refused: as it should be
    }
  }
  return out;
}

test('a key envelope held back until after its sender\'s rotation is no newest key: the one who left writes nothing that opens', async () => {
  const { sim, a, others } = await settled(71, 3);
  const [r, leaver] = others;
  try {
    sim.admit({ sends: false }); // a ratchets to K for the join: r and the leaver follow it by themselves
    await run(sim);
    const K = a.keys.own;
    const kCounter = K.seq - 1;
    // The server makes up a key request from r; a answers with K, which the server holds.
    const held = [];
    const relay = sim.relay.bind(sim);
    sim.relay = (from, to, data) => {
      if (from === a.id && to === r.id && isKey(data)) held.push({ type: 'e2ee', from, data });
      else relay(from, to, data);
    };
    a.deliver({ type: 'e2ee', from: r.id, data: JSON.stringify({ v: 3, t: 'key-request' }) });
    await sim.rest();
    serveAll(sim, a);
    assert.equal(held.length, 1, 'a\'s answer, held back');
    sim.relay = relay;
    sim.removeMember(leaver.id, 'leave'); // a rotates to F
    await run(sim);
    const F = a.keys.own;
    assert.equal(F.seq - 1, kCounter + 1, 'F is the next counter');
    assert.notEqual(hexOf(F.raw), hexOf(await ratchet(K.raw)), 'F is fresh, not a ratchet the leaver can follow');
    assert.equal(r.keys.chatKeys.senders.get(a.id).newest, F.index, 'r holds F');
    // Now the server delivers K, and again.
    for (let i = 0; i < 3; i++) r.deliver({ ...held[0] });
    await sim.rest();
    const st = r.keys.chatKeys.senders.get(a.id);
    assert.equal(st.newest, F.index, 'F stays a\'s newest');
    assert.deepEqual(r.installed.filter((k) => k.pid === a.id && k.raw === hexOf(K.raw)), [], 'K: dropped (not even a past key), never to the worker');
    // The leaver (with the server) writes under ratchets of K, as a.
    const { frames, texts } = await forgeries(r, a, K.index, K.raw);
    const openedBefore = await opens(r, a, frames);
    assert.deepEqual(openedBefore.filter((s) => s !== 1), [], 'no frame under K or a ratchet of it opens (beyond F\'s index)');
    assert.ok(texts.length >= 5, 'texts under K (r holds no key at its index) and its ratchets');
    for (const text of texts) r.deliver({ type: 'chat', from: a.id, text, sent: { from: leaver } });
    a.chat(); // a's own, under F
    await sim.rest();
    serveAll(sim, a);
    await run(sim, 12000);
    assert.deepEqual(got(sim, r, leaver), texts.map(() => UNREADABLE), 'nothing the leaver wrote opens as a\'s');
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`], 'a\'s text under F opens');
    assert.ok(await sim.readsFrames(r, a), 'r reads a\'s frames');
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('a past key the server delivers before the current key it followed is no newest key', async () => {
  const { sim, a, others } = await settled(72, 3);
  const [leaver] = others;
  try {
    const r = sim.admit({ sends: false });
    handAll(r);
    await sim.rest();
    assert.ok(handAll(a).includes('joined'));
    await sim.rest(); // a ratchets for r: P
    a.chat(); // under P, before a verified r
    await sim.rest();
    serveAll(sim, a);
    const P = a.keys.own;
    sim.removeMember(leaver.id, 'leave'); // a rotates to F before it verifies r
    assert.ok(handAll(a).includes('left'));
    await sim.rest();
    serveAll(sim, a);
    // a verifies r and sends it F, then P marked past: the server holds F back and
    // delivers P alone.
    const held = [];
    const relay = sim.relay.bind(sim);
    sim.relay = (from, to, data) => {
      if (from === a.id && to === r.id && isKey(data)) held.push({ type: 'e2ee', from, data });
      else relay(from, to, data);
    };
    await run(sim, 1000);
    assert.ok(held.length >= 2, 'F and P (and F again: answers to r\'s asks)');
    const F = a.keys.own;
    r.deliver(held[1]); // P first
    await sim.rest();
    assert.deepEqual(r.installed.filter((k) => k.pid === a.id), [], 'P before F: not installed at all');
    assert.equal(r.keys.chatKeys.senders.get(a.id), undefined, 'no key of a\'s for chat either');
    const { frames } = await forgeries(r, a, P.index, P.raw);
    assert.deepEqual(await opens(r, a, frames), [], 'no frame under a ratchet of P opens');
    // Then F, then P again (the server sends it again): F is the newest, P a past key.
    sim.relay = relay;
    r.deliver(held[0]);
    r.deliver(held[1]);
    await sim.rest();
    const st = r.keys.chatKeys.senders.get(a.id);
    assert.equal(st.newest, F.index);
    assert.deepEqual(r.installed.filter((k) => k.pid === a.id).map((k) => [k.raw, !!k.past]), [[hexOf(F.raw), false], [hexOf(P.raw), true]]);
    const after = await forgeries(r, a, P.index, P.raw);
    assert.deepEqual((await opens(r, a, after.frames)).filter((s) => s !== 1), [], 'still none beyond F\'s index');
    await run(sim, 12000);
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`], 'the text under P opens');
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('old key envelopes after a resume the server made up install nothing', async () => {
  const { sim, a, others } = await settled(73, 3);
  const [r] = others;
  try {
    // Every key envelope a sends r, recorded; some more key changes of a's.
    const given = [];
    const deliver = r.deliver.bind(r);
    r.deliver = (m) => {
      if (m.type === 'e2ee' && m.from === a.id && isKey(m.data)) given.push(m);
      return deliver(m);
    };
    for (let i = 0; i < 3; i++) {
      sim.admit({ sends: false });
      await run(sim, 1000);
      a.deliver({ type: 'e2ee', from: r.id, data: JSON.stringify({ v: 3, t: 'key-request' }) }); // an answer to r each time
      await sim.rest();
      await run(sim, 1500);
    }
    assert.ok(given.length >= 3, `${given.length} envelopes recorded`);
    const installed = () => r.installed.filter((k) => k.pid === a.id).length;

    // A resume the server makes up: r forgets a's identity and keys; a (which never
    // went) answers r's asks with the identity r verified before: refused.
    r.deliver({ type: 'resumed', id: a.id, name: a.name });
    await sim.rest();
    const before = installed();
    for (const m of given.splice(0)) r.deliver({ ...m });
    await run(sim, 12000);
    assert.equal(installed(), before, 'no old envelope installed after the made-up resume');
    assert.equal(r.keys.chatKeys.senders.get(a.id), undefined, 'no key of a\'s held');
    assert.notEqual(r.keys.stateOf(a.id), 'verified');
    assert.equal(r.keys.warnings().kinds['replayed-identity'], 1, 'the old identity, replayed, warned about');
  } finally {
    sim.close();
  }
});

test('old key envelopes after a real resume (whose counter starts again) install nothing', async () => {
  const { sim, a, others } = await settled(74, 3);
  const [r] = others;
  try {
    const given = [];
    const deliver = r.deliver.bind(r);
    r.deliver = (m) => {
      if (m.type === 'e2ee' && m.from === a.id && isKey(m.data)) given.push(m);
      return deliver(m);
    };
    for (let i = 0; i < 3; i++) {
      sim.admit({ sends: false });
      await run(sim, 1000);
    }
    a.deliver({ type: 'e2ee', from: r.id, data: JSON.stringify({ v: 3, t: 'key-request' }) });
    await sim.rest();
    await run(sim, 1500);
    const oldCounter = a.keys.own.seq - 1;
    assert.ok(oldCounter >= 3 && given.length >= 1);
    sim.drop(a.id, 0);
    const a2 = sim.resume(a.id, { sends: true });
    await run(sim, 3000);
    assert.ok(a2.keys.own.seq - 1 < oldCounter, 'the resumed page\'s counter starts again, below the old one');
    const newest = hexOf(a2.keys.own.raw);
    const before = r.installed.filter((k) => k.pid === a.id).length;
    for (const m of given.splice(0)) r.deliver({ ...m }); // counters above the new page's: taken, they would be the newest
    await run(sim, 3000);
    const late = r.installed.filter((k) => k.pid === a.id).slice(before);
    assert.deepEqual(late.filter((k) => a.ownHist.includes(k.raw)), [], 'no key of the old page\'s installed');
    assert.deepEqual(late.filter((k) => k.raw !== newest), [], 'only the new page\'s current key (answers to r\'s asks)');
    const st = r.keys.chatKeys.senders.get(a.id);
    assert.equal(hexOf(st.keys.get(st.newest)), newest, 'the resumed page\'s key stays the newest');
    assert.ok(await sim.readsFrames(r, a2));
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('ratchets of an old key a receiver followed while the rotation was held back go once the rotation comes', async () => {
  // The server holds back a's rotation for the leave; meanwhile the one who left writes
  // as a under ratchets of the key before it, which r follows (FORMAT.md, "What this
  // does not protect": until the rotated key reaches r). Once it does, those ratchets
  // are no key of a's any more: nothing written under them opens, and a's own text
  // under its next ratchet, at an index a forged ratchet had taken, opens.
  const { sim, a, others } = await settled(75, 3);
  const [r, leaver] = others;
  try {
    const K = a.keys.own; // r holds it, from a's envelope
    const held = [];
    const relay = sim.relay.bind(sim);
    sim.relay = (from, to, data) => {
      if (from === a.id && to === r.id && isKey(data)) held.push({ type: 'e2ee', from, data });
      else relay(from, to, data);
    };
    sim.removeMember(leaver.id, 'leave'); // a rotates to F; the server holds F back from r
    await run(sim);
    const F = a.keys.own;
    assert.equal(F.seq, K.seq + 1);
    assert.equal(held.length, 1, 'F, held back');
    // The leaver's forgeries under K's ratchets, 2 and 3 steps on: r follows them.
    const forge = async (steps, counter, text) => {
      let k = K.raw;
      for (let i = 0; i < steps; i++) k = await ratchet(k);
      const index = (K.index + steps) % 256;
      const ring = new KeyRing();
      await ring.set(index, k);
      return { frame: await ring.encrypt(a.id, FRAME, VP8, CAMERA), text: await encryptChat(k, index, a.id, text, counter) };
    };
    const before = [await forge(2, 1, 'forged 2'), await forge(3, 2, 'forged 3')];
    for (const f of before) {
      await r.rings.decrypt(a.id, f.frame, VP8); // opens: the rotation is held back
      r.deliver({ type: 'chat', from: a.id, text: f.text, sent: { from: leaver } });
    }
    await sim.rest();
    await run(sim, 1000);
    assert.deepEqual(got(sim, r, leaver), ['forged 2', 'forged 3'], 'while F is held back (the weakness that remains)');
    // F comes.
    sim.relay = relay;
    r.deliver(held[0]);
    await sim.rest();
    assert.equal(r.keys.chatKeys.senders.get(a.id).newest, F.index, 'r holds F');
    const after = [await forge(2, 3, 'forged 2 after F'), await forge(3, 4, 'forged 3 after F')];
    const opened = [];
    for (const [i, f] of after.entries()) {
      try {
        await r.rings.decrypt(a.id, f.frame, VP8);
        opened.push(`frame ${i + 2}`);
      } catch {
        // refused: as it should be
      }
      r.deliver({ type: 'chat', from: a.id, text: f.text, sent: { from: leaver } });
    }
    await sim.rest();
    await run(sim, 12000);
    assert.deepEqual(opened, [], 'a frame under a ratchet of K opens after F came');
    assert.deepEqual(got(sim, r, leaver).slice(2), [UNREADABLE, UNREADABLE], 'a text under a ratchet of K opens after F came');
    // A join: a ratchets F to the index of K's second ratchet, and writes under it.
    sim.admit({ sends: false });
    await run(sim);
    assert.equal(a.keys.own.index, (K.index + 2) % 256);
    a.chat();
    await sim.rest();
    serveAll(sim, a);
    await run(sim, 12000);
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`], 'a\'s text under the ratchet of F opens');
    assert.ok(await sim.readsFrames(r, a), 'r reads a\'s frames');
  } finally {
    sim.close();
  }
});

test('a ratchet guess of the old key still being derived when the rotated key comes is not kept (frames)', async () => {
  // The one who left writes a frame under a ratchet of K that r's ring is deriving
  // (several steps on) when a's rotated key F arrives (the server times the two): the
  // guess, made from K, must not become current after F, nor open what follows under
  // K's ratchets.
  const K = new KeyRing();
  await K.set(10, new Uint8Array(32).fill(7));
  const kRaw = new Uint8Array(32).fill(7);
  const forged = async (steps) => {
    let k = kRaw;
    for (let i = 0; i < steps; i++) k = await ratchet(k);
    const ring = new KeyRing();
    await ring.set(10 + steps, k);
    return ring.encrypt('a', FRAME, VP8, CAMERA);
  };
  const r = new KeyRing();
  await r.set(10, kRaw, { counter: 10 });
  const f12 = await forged(12);
  const f13 = await forged(13);
  const deriving = r.decrypt('a', f12, VP8, CAMERA).then(() => true, () => false);
  const F = new Uint8Array(32).fill(9);
  await r.set(11, F, { counter: 11 }); // a's rotation, while the guess is derived
  await deriving;
  assert.equal(r.currentIndex, 11, 'F, a\'s newest, is current');
  await assert.rejects(r.decrypt('a', f13, VP8, CAMERA), 'a frame under a ratchet of K opens after F came');
  await assert.rejects(r.decrypt('a', f12, VP8, CAMERA), 'a frame under a ratchet of K opens after F came');
});

test('a ratchet guess of the old key still being derived when the rotated key comes is not kept (chat)', async () => {
  // r followed the one who left to K's first ratchet (at the index F then takes), and is
  // deriving a second guess from it for a forged text when F arrives: that guess must not
  // become a's newest.
  const { ChatKeys } = await import('../static/js/e2ee/chat-keys.js');
  const ck = new ChatKeys();
  try {
    const kRaw = new Uint8Array(32).fill(7);
    const k1 = await ratchet(kRaw);
    const k3 = await ratchet(await ratchet(k1));
    const k4 = await ratchet(k3);
    ck.setKey('a', 10, kRaw, { counter: 10 });
    assert.equal((await ck.tryOpen('a', await encryptChat(k1, 11, 'a', 'forged 1', 1))).text, 'forged 1');
    const deriving = ck.tryOpen('a', await encryptChat(k3, 13, 'a', 'forged 3', 2)).then(() => true, () => false);
    const F = new Uint8Array(32).fill(9);
    ck.setKey('a', 11, F, { counter: 11 }); // a's rotation, while the guess is derived
    await deriving;
    assert.equal(ck.senders.get('a').newest, 11, 'F is a\'s newest');
    await assert.rejects(ck.tryOpen('a', await encryptChat(k4, 14, 'a', 'forged 4', 3)), 'a text under a ratchet of K opens after F came');
    assert.equal((await ck.tryOpen('a', await encryptChat(await ratchet(F), 12, 'a', 'from a', 4))).text, 'from a');
  } finally {
    ck.close();
  }
});
