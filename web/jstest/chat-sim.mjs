// Steps of the churn simulation (churn-sim.mjs) that the chat tests (chat-churn,
// chat-past-keys, chat-review) take by hand: a settled meeting, a page given what waits
// for it, the server reading what a page sent, what a page made of a sender's texts.
import assert from 'node:assert/strict';

import { Sim } from './churn-sim.mjs';

/** settled: members that know each other; a sends media (a leave rotates its key at once). */
export async function settled(seed, n = 2) {
  const sim = await Sim.create(seed);
  const a = sim.admit({ sends: true });
  const others = [];
  for (let i = 1; i < n; i++) others.push(sim.admit({ sends: false }));
  await sim.flushAll();
  await sim.advance(1000);
  await sim.flushAll();
  assert.deepEqual(await sim.problems(), []);
  return { sim, a, others };
}

/** handAll gives page everything waiting for it in one go; it returns their types. */
export function handAll(page) {
  const msgs = page.inbox.splice(0);
  for (const m of msgs) page.deliver(m);
  return msgs.map((m) => m.type);
}

/** serveAll has the server read everything page sent, in order. */
export function serveAll(sim, page) {
  while (page.outbox.length) sim.handle(page, page.outbox.shift());
}

/** got: what page `to` made of the texts `from` sent, in the order they came. */
export function got(sim, to, from) {
  return sim.chats.filter((c) => c.to === to && c.sent.from === from).map((c) => c.text);
}
