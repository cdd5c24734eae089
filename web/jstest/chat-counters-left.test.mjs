// A page's memory of the chat counters of members who wrote and left (chat-keys.js
// ChatKeys.left). A receiver refuses a sender's text whose counter is not above the
// last it took (a replay), and keeps that counter across the sender's resumes; but it
// kept it after the sender left as well, for good: a page that stays a long day in a
// meeting where hundreds come, write and go held one counter per writer who ever came.
// An id that left is dead: none of its texts is opened again, counter or not.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { ROTATE_DELAY_MS } from '../static/js/e2ee/rotations.js';
import { UNREADABLE } from '../static/js/e2ee/session-chat.js';
import { ChatKeys, CHAT_WAIT_MS, encryptChat } from '../static/js/e2ee/chat-keys.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { FakeClock, dayRoom, eventually, tick } from './harness.mjs';

test('the chat counters of members who wrote and left are not kept: a day of writers leaves none', async () => {
  const clock = new FakeClock();
  const { relay, join, 'p-a': a, 'p-b': b } = await dayRoom(clock, ['p-a', 'p-b']);
  try {
    const last = [];
    for (let i = 0; i < 150; i++) {
      const id = `p-x${i}`;
      const g = await join(id);
      clock.advance(ROTATE_DELAY_MS);
      await relay.settle();
      const text = await g.keys.encryptChat(`hello from ${i}`);
      assert.equal(await b.keys.decryptChat(id, text), `hello from ${i}`, 'b does not read the guest');
      if (i === 149) last.push(id, text);
      relay.leave(id);
      await relay.settle();
      clock.advance(ROTATE_DELAY_MS);
      await relay.settle();
    }
    const a1 = await a.keys.encryptChat('still here');
    assert.equal(await b.keys.decryptChat('p-a', a1), 'still here');
    const kept = [...b.keys.chatKeys.counters.keys()];
    assert.ok(kept.length <= 1,
      `b keeps the chat counters of ${kept.length} senders, ${kept.filter((id) => id !== 'p-a').length} of whom left`);
    assert.deepEqual(kept, ['p-a']);
    // The last writer's text, replayed after its leave: not opened.
    const [id, text] = last;
    assert.equal(await b.keys.decryptChat(id, text), UNREADABLE, 'a text of a member who left opened');
    // a's text again: refused as before (a's counter is kept while a stays).
    assert.equal(await b.keys.decryptChat('p-a', a1), UNREADABLE, 'a replay of a live member\'s text opened');
  } finally {
    relay.close();
  }
});

test('a text of a member that left, taken after its leave behind an earlier one, leaves no counter', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const raw = randomBytes(32);
  ck.setKey('p-a', 0, raw);
  // The first text waits for a key that never comes (index 5, no key there); the second
  // opens at once but is taken only after the first settles (texts are taken in order).
  const first = ck.open('p-a', await encryptChat(randomBytes(32), 5, 'p-a', 'waits', 1)).catch((e) => e.code);
  const second = ck.open('p-a', await encryptChat(raw, 0, 'p-a', 'behind', 2)).catch((e) => e.code);
  await tick(5);
  ck.left('p-a'); // it leaves meanwhile
  await eventually(() => clock.timers.size > 0, 'the first text waits on the clock');
  clock.advance(CHAT_WAIT_MS);
  assert.equal(await first, 'unknown-key');
  assert.equal(await second, 'behind', 'the text it opened before it left is given');
  assert.equal(ck.counters.has('p-a'), false, 'a counter kept for a member that left');
  ck.close();
});

// A text the server sends twice, both copies being opened when their sender's id leaves
// or (the server says) resumes: the second is taken after the first, and must be refused as a replay
// like any text sent again. The sender's first text here, so no counter of it was kept
// before; a text of it ahead of them (at an index no key of it opens: it waits, and
// holds them back) makes sure both are taken only after the leave or resume.
async function twiceInFlight(then) {
  const clock = new FakeClock();
  const { relay, join, 'p-b': b } = await dayRoom(clock, ['p-a', 'p-b']);
  try {
    const x = await join('p-x');
    clock.advance(ROTATE_DELAY_MS);
    await relay.settle();
    const text = await x.keys.encryptChat('only once');
    await relay.settle();
    const ahead = await encryptChat(randomBytes(32), (x.keys.own.index + 128) % 256, 'p-x', 'waits', 1);
    const shown = Promise.all([ahead, text, text].map((t) => b.keys.decryptChat('p-x', t)));
    let done = false;
    shown.then(() => { done = true; }, () => { done = true; });
    await then(relay, b);
    await relay.settle();
    await eventually(() => {
      clock.advance(CHAT_WAIT_MS);
      return done;
    }, 'the texts settle');
    return await shown;
  } finally {
    relay.close();
  }
}

test('a text sent twice, both copies in flight when its sender leaves, is shown once', async () => {
  const shown = await twiceInFlight((relay) => relay.leave('p-x'));
  assert.deepEqual(shown, [UNREADABLE, 'only once', UNREADABLE], `shown: ${JSON.stringify(shown)}`);
});

test('a text sent twice, both copies in flight when the server says its sender resumed, is shown once', async () => {
  // Made up by the server (x's page is the same): x's identity is refused after it, so
  // no key of x comes again, and the copies are taken with x forgotten.
  const shown = await twiceInFlight((relay, b) => b.keys.peerResumed('p-x'));
  assert.deepEqual(shown, [UNREADABLE, 'only once', UNREADABLE], `shown: ${JSON.stringify(shown)}`);
});

test('the counter of a member that left is forgotten once its last text in flight is taken', async () => {
  const clock = new FakeClock();
  const ck = new ChatKeys({ clock });
  const raw = randomBytes(32);
  ck.setKey('p-a', 0, raw);
  const first = ck.open('p-a', await encryptChat(randomBytes(32), 5, 'p-a', 'waits', 1)).catch((e) => e.code);
  const text = await encryptChat(raw, 0, 'p-a', 'behind', 2);
  const again = [ck.open('p-a', text).catch((e) => e.code), ck.open('p-a', text).catch((e) => e.code)];
  await tick(5);
  ck.left('p-a');
  await eventually(() => clock.timers.size > 0, 'the first text waits on the clock');
  clock.advance(CHAT_WAIT_MS);
  assert.deepEqual([await first, ...(await Promise.all(again))], ['unknown-key', 'behind', 'replay']);
  assert.equal(ck.counters.has('p-a'), false, 'a counter kept for a member that left');
  assert.equal(ck.queues.size, 0);
  ck.close();
});
