// The earlier keys a sender gives a member it verifies late, for its chat texts
// (FORMAT.md, "Chat (version 3)"; SessionKeys._pastKeys), against a server that holds
// one back and against the relay's budget for key messages (churn-sim.mjs is the
// honest server; the tests below play it, and a lying one by hand):
//   - the current key goes first, the earlier ones after it, within an allowance of
//     half the relay's budget: the current key of a member verified late is never
//     refused because earlier keys used the budget up;
//   - a receiver takes a key whose counter is below the newest it holds as a past key
//     (FORMAT.md, "The newest key"): it opens texts under it, but never becomes the
//     sender's newest, so one the server delivers after a rotation gives the one who
//     left (who can follow the old chain) no way to write texts that open as the sender's.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { settled, handAll, serveAll, got } from './chat-sim.mjs';
import { UNREADABLE } from '../static/js/e2ee/session-chat.js';
import { encryptChat } from '../static/js/e2ee/chat-keys.js';
import { ratchet } from '../static/js/e2ee/keys.js';

const hexOf = (b) => Buffer.from(b).toString('hex');
const keyMsgs = (page, from) => page.inbox.filter((m) => m.type === 'e2ee' && m.from === from && JSON.parse(m.data).t === 'key');

test('a past key the server delivers after a rotation stays a past key: the one who left cannot write as its sender', async () => {
  const { sim, a, others } = await settled(51, 3);
  const [leaver] = others;
  try {
    const r = sim.admit({ sends: false });
    handAll(r);
    await sim.rest();
    assert.ok(handAll(a).includes('joined'));
    await sim.rest(); // a ratchets for r: key P
    const heard = a.heard.get(r.name);
    a.chat(); // under P, before a verified r
    await sim.rest();
    serveAll(sim, a);
    sim.admit({ sends: false }); // a ratchets on (C) before it verifies r
    assert.ok(handAll(a).includes('joined'));
    await sim.rest();
    serveAll(sim, a);
    // r and a verify each other; the server holds back the key messages a sends r after
    // the first (the current key C first, then the earlier P).
    const held = [];
    let keysGiven = 0;
    const relay = sim.relay.bind(sim);
    sim.relay = (from, to, data) => {
      if (from === a.id && to === r.id && JSON.parse(data).t === 'key' && keysGiven++ === 1) held.push({ type: 'e2ee', from, data });
      else relay(from, to, data);
    };
    for (let i = 0; i < 8; i++) {
      await sim.flushAll();
      await sim.advance(250);
    }
    assert.equal(held.length, 1, 'the past key, held back');
    const P = Buffer.from(a.ownHist[heard], 'hex');
    const C = Buffer.from(a.ownHist[heard + 1], 'hex');
    assert.equal(hexOf(await ratchet(P)), hexOf(C));
    // The leaver held a key of a's before r came, so it can follow P and C.
    assert.ok(leaver.installed.some((k) => k.pid === a.id));
    sim.removeMember(leaver.id, 'leave'); // a rotates to F
    for (let i = 0; i < 8; i++) {
      await sim.flushAll();
      await sim.advance(250);
    }
    const F = a.keys.own;
    assert.equal(r.keys.chatKeys.senders.get(a.id).newest, F.index, 'r holds F');
    // Now the server delivers P.
    sim.relay = relay;
    r.inbox.push(...held);
    handAll(r);
    await sim.rest();
    const st = r.keys.chatKeys.senders.get(a.id);
    assert.equal(st.newest, F.index, 'F stays the newest');
    const pIndex = [...st.keys].find(([, v]) => hexOf(v) === hexOf(P))?.[0];
    assert.notEqual(pIndex, undefined, 'P is held, for texts at its index');
    // The leaver (with the server) writes under ratchets of P at indexes r holds no key
    // at (those after F's): taken as a's if P were the newest. (Under C, which r holds
    // from before the rotation, it can: FORMAT.md, "What this does not protect".)
    const forged = [];
    let raw = P;
    for (let steps = 1; steps <= 6; steps++) {
      raw = await ratchet(raw);
      const index = (pIndex + steps) % 256;
      if (st.keys.has(index)) continue;
      forged.push(await encryptChat(raw, index, a.id, `forged ${steps}`, Date.now() + 1000 * steps));
    }
    assert.equal(forged.length, 4);
    for (const text of forged) r.deliver({ type: 'chat', from: a.id, text, sent: { from: leaver } });
    a.chat(); // a's own, under F
    await sim.rest();
    serveAll(sim, a);
    for (let t = 0; t < 12000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    assert.deepEqual(got(sim, r, leaver), forged.map(() => UNREADABLE), 'nothing the leaver wrote opens as a\'s');
    assert.deepEqual(got(sim, r, a), [`hello from ${a.name}`, `hello from ${a.name}`], 'a\'s texts, the one under P included');
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});

test('members verified late get their current key first, and earlier keys only within half the relay\'s budget', async () => {
  const { sim, a } = await settled(52, 2);
  try {
    // Twelve newcomers, a text of a's after each: a ratchets for each and verifies none.
    const rs = [];
    for (let i = 0; i < 12; i++) {
      const r = sim.admit({ sends: false });
      rs.push(r);
      handAll(r);
      await sim.rest();
      assert.ok(handAll(a).includes('joined'));
      await sim.rest();
      a.chat();
      await sim.rest();
      serveAll(sim, a);
      await sim.advance(400); // joins a moment apart: the budget refills meanwhile
    }
    for (const r of rs) handAll(r); // a's identity and texts
    await sim.rest();
    for (const r of rs) serveAll(sim, r); // the newcomers' identities, all at once
    handAll(a); // a verifies all twelve at once
    await sim.rest();
    serveAll(sim, a);
    assert.deepEqual(sim.log.filter((l) => l.includes(`rate limited ${a.id}`)), [], 'nothing of a\'s refused');
    const current = hexOf(a.keys.own.raw);
    for (const r of rs) {
      const keys = keyMsgs(r, a.id);
      assert.ok(keys.length >= 1, `${r.name} got a key`);
      handAll(r);
    }
    await sim.rest();
    for (const r of rs) {
      const first = r.installed.find((k) => k.pid === a.id);
      assert.equal(first && first.raw, current, `${r.name}: the current key first`);
    }
    const n = sim.members.size;
    const past = rs.reduce((sum, r) => sum + r.installed.filter((k) => k.pid === a.id && k.past).length, 0);
    assert.equal(past, 10 + 2 * n, `earlier keys: as many as the allowance for ${n} (66 wanted)`);
    for (let t = 0; t < 12000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    assert.deepEqual(await sim.checkSafety(), []);
    assert.deepEqual(await sim.problems(), []);
  } finally {
    sim.close();
  }
});
