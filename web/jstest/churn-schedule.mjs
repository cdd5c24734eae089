// A random schedule of the churn simulation (churn-sim.mjs), played from a seed to its
// end: joins, leaves, removals, drops and resumes, chat, frames and time in the
// weights given, then the churn stopped, the meeting let settle and checked
// (session-churn.test.mjs runs many seeds).
import { Sim } from './churn-sim.mjs'; // first: it puts the key schedule's spans on the mock clock
import { UNREADABLE } from '../static/js/e2ee/session-chat.js';

/**
 * runSchedule plays one random schedule of `steps` steps from seed on a meeting that
 * starts with `initial` members and has at most `max`, then stops the churn (every
 * parked member resumes or runs out of grace), lets it settle and checks. It returns
 * {problems (at the end), converged (ms after the churn stopped, or -1), safety,
 * chatLost, log}.
 */
export async function runSchedule(seed, { initial = 10, steps = 300, max = 30, weights = {} } = {}) {
  const sim = await Sim.create(seed);
  const w = { serve: 30, hand: 30, join: 5, leave: 3, remove: 2, drop: 3, resume: 4, expire: 1, chat: 4, send: 2, frames: 6, time: 10, ...weights };
  const total = Object.values(w).reduce((a, b) => a + b, 0);
  const rnd = () => sim.rnd();
  const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
  try {
    for (let i = 0; i < initial; i++) sim.admit();
    await sim.flushAll();
    const connected = () => [...sim.members].filter(([, m]) => m.page && !m.page.leaving).map(([id]) => id);
    const parked = () => [...sim.members].filter(([, m]) => !m.page).map(([id]) => id);
    for (let step = 0; step < steps; step++) {
      let x = rnd() * total;
      const act = Object.keys(w).find((k) => (x -= w[k]) < 0) || 'time';
      switch (act) {
        case 'serve':
          sim.serve(int(1, 4));
          break;
        case 'hand':
          for (let k = int(1, 3); k > 0; k--) sim.hand(int(1, 6));
          break;
        case 'join':
          for (let k = int(1, 5); k > 0 && sim.members.size < max; k--) sim.admit();
          break;
        case 'leave': {
          const c = connected();
          if (c.length > 2) {
            const page = sim.members.get(sim.pick(c)).page;
            page.leaving = true;
            page.outbox.push({ type: 'leave' });
            sim.note(`${page.id} says leave`);
          }
          break;
        }
        case 'remove': {
          const c = [...sim.members.keys()];
          if (c.length > 2) sim.removeMember(sim.pick(c), 'remove');
          break;
        }
        case 'drop': {
          const c = connected();
          if (c.length > 2) {
            const id = sim.pick(c);
            sim.drop(id, int(0, sim.members.get(id).page.outbox.length));
          }
          break;
        }
        case 'resume': {
          const p = parked();
          if (p.length) sim.resume(sim.pick(p));
          else {
            // The server had not noticed the drop: the resume replaces the connection.
            const c = connected();
            if (c.length) {
              const id = sim.pick(c);
              sim.drop(id, int(0, sim.members.get(id).page.outbox.length));
              sim.resume(id);
            }
          }
          break;
        }
        case 'expire': {
          const p = parked();
          if (p.length) sim.removeMember(sim.pick(p), 'grace over');
          break;
        }
        case 'chat': {
          const c = sim.live().filter((p) => p.started);
          if (c.length) sim.pick(c).chat();
          break;
        }
        case 'send': {
          const c = sim.live().filter((p) => p.started && !p.publishing);
          if (c.length) sim.pick(c).startSending();
          break;
        }
        case 'frames':
          await sim.frames();
          break;
        default:
          // Mostly the server and the pages keep up with the clock; sometimes a backlog stays.
          if (rnd() < 0.7) await sim.flushAll();
          await sim.advance(int(1, 8) * 50);
      }
      await sim.rest();
    }
    // The churn stops: the parked come back or run out of grace.
    for (const id of parked()) {
      if (rnd() < 0.5) sim.resume(id);
      else sim.removeMember(id, 'grace over');
    }
    const stopped = Date.now();
    let problems = [];
    let converged = -1;
    for (let t = 0; t <= 60000; t += 250) {
      await sim.flushAll();
      await sim.frames();
      problems = await sim.problems();
      if (!problems.length) {
        converged = Date.now() - stopped;
        break;
      }
      await sim.advance(250);
    }
    // Chat both ways: every live page says something, everyone else reads it.
    const round = sim.chats.length;
    for (const p of sim.live()) p.chat();
    for (let t = 0; t < 12000; t += 250) {
      await sim.flushAll();
      await sim.advance(250);
    }
    await sim.flushAll();
    const finalChats = sim.chats.slice(round);
    for (const c of finalChats) {
      if (c.text === null || c.text === UNREADABLE) problems.push(`${c.to.name} cannot read ${c.sent.from.name}'s last chat (${c.text})`);
    }
    const want = sim.live().length * sim.live().length;
    if (finalChats.length !== want) problems.push(`${finalChats.length} of ${want} final chats arrived`);
    // Chat during the churn that should have opened: sender and receiver pages both
    // live at the end, and the sender had heard of the receiver's page when it wrote.
    const chatLost = sim.chats.slice(0, round).filter((c) => c.to.alive && c.sent.from.alive && c.to !== c.sent.from &&
      (c.text === null || c.text === UNREADABLE) && c.sent.knows.has(c.to.name));
    const safety = await sim.checkSafety();
    for (const p of sim.pages) p.warnMax = Math.max(p.warnMax, p.alive ? p.keys.warnings().count : 0);
    const warned = sim.pages.filter((p) => p.warnMax).map((p) => p.name);
    return { problems, converged, safety, chatLost, warned, errors: sim.errors, log: sim.log, pages: sim.pages.length, all: sim.pages, live: sim.live().length };
  } finally {
    sim.close();
  }
}
