// What trying every waiting text again at each key of its sender costs a receiver
// (chat-keys.js, MAX_TRYING), and that the bound keeps honest texts opening.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ChatKeys, encryptChat } from '../static/js/e2ee/chat-keys.js';
import { randomBytes, ratchet } from '../static/js/e2ee/keys.js';
import { FakeClock, eventually, tick } from './harness.mjs';

// A member holding the link (or a lying server) sends K junk texts that never open, then
// R key messages with fresh keys (each taken: a fresh key with a counter above the last is its newest;
// the relay allows 10 + 2·N a second). Before the change only the first waiting text of a
// sender was tried again at a key; with it every waiting text is: K·R tries, each up to
// MAX_RATCHET HKDF steps. The work per received key must not grow with the queue.
test('a key of a sender wakes a bounded number of its waiting texts, not all of them', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  ck.setKey('p-a', 0, randomBytes(32));
  let tries = 0;
  const tryOpen = ck.tryOpen.bind(ck);
  let busy = 0;
  ck.tryOpen = (pid, s) => { tries++; busy++; return tryOpen(pid, s).finally(() => { busy--; }); };
  const idle = async () => { await eventually(() => busy === 0, 'tries done'); await tick(5); await eventually(() => busy === 0, 'tries done'); };
  const K = 50;
  const R = 30;
  const runs = [];
  for (let i = 0; i < K; i++) {
    // index 16: MAX_RATCHET steps from the newest (0) at every try, never opens.
    const junk = await encryptChat(randomBytes(32), 16, 'p-a', `junk ${i}`, i + 1);
    runs.push(ck.open('p-a', junk).catch((e) => e.code));
  }
  await idle();
  const before = tries;
  for (let r = 0; r < R; r++) {
    // Each key comes once the texts woken by the last one wait again (keys 1/30 s apart).
    await idle();
    ck.setKey('p-a', 0, randomBytes(32)); // index 0 again: junk stays 16 steps ahead
  }
  await idle();
  const perKey = (tries - before) / R;
  ck.close();
  await Promise.all(runs);
  assert.ok(perKey <= 16, `a key woke ${perKey} tries of waiting texts (queue of ${K})`);
});

// The server can send a sender's current key envelope again as often as it likes (a
// receiver takes it: it is the answer to a key request). It changes nothing, so it
// wakes none of the sender's waiting texts.
test('the newest key sent again wakes no waiting text', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const key = randomBytes(32);
  ck.setKey('p-a', 0, key);
  let tries = 0;
  const tryOpen = ck.tryOpen.bind(ck);
  let busy = 0;
  ck.tryOpen = (pid, s) => { tries++; busy++; return tryOpen(pid, s).finally(() => { busy--; }); };
  const idle = async () => { await eventually(() => busy === 0, 'tries done'); await tick(5); await eventually(() => busy === 0, 'tries done'); };
  const runs = [];
  for (let i = 0; i < 8; i++) runs.push(ck.open('p-a', await encryptChat(randomBytes(32), 16, 'p-a', `junk ${i}`, i + 1)).catch((e) => e.code));
  await idle();
  const before = tries;
  for (let r = 0; r < 30; r++) {
    ck.setKey('p-a', 0, key);
    await idle();
  }
  assert.equal(tries - before, 0, 'no text tried again');
  ck.setKey('p-a', 1, randomBytes(32)); // a new key does wake them
  await idle();
  assert.ok(tries > before, 'a new key wakes them');
  ck.close();
  await Promise.all(runs);
});

// The bound must not bring back what trying each text on its own mended: a sender's
// texts that wait for keys (a newcomer's, before the sender verified it) all open when
// the keys come, also the ones far back in the queue, and also after the sender
// rotated: each tries again, with every key held then, once the text MAX_TRYING ahead
// was taken.
test('many waiting texts of a sender all open once their keys come, also after a rotation', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const p = randomBytes(32);
  const c = await ratchet(p);
  const texts = [];
  for (let i = 0; i < 12; i++) {
    const [raw, index] = i < 6 ? [p, 5] : [c, 6];
    texts.push(ck.open('p-a', await encryptChat(raw, index, 'p-a', `t${i}`, i + 1)).catch((e) => e.code));
  }
  await tick(20);
  ck.setKey('p-a', 6, c); // the current key, then the earlier one, then a rotation at once
  ck.setKey('p-a', 5, p, { past: true });
  ck.setKey('p-a', 7, randomBytes(32));
  for (let ms = 0; ms < 12000; ms += 500) {
    clock.advance(500);
    await tick(2);
  }
  assert.deepEqual(await Promise.all(texts), texts.map((_, i) => `t${i}`));
  ck.close();
});
