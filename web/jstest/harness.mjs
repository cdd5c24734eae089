// What the key-schedule tests share: a relay that plays the server between members'
// SessionKeys (in order, each message handled asynchronously like a websocket's),
// a media stand-in that records the keys it is given, a fake clock, and waiting for
// a condition rather than for a fixed time.
import assert from 'node:assert/strict';
import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { CHAT_ASK_MS } from '../static/js/e2ee/chat-keys.js';

export const tick = (ms = 1) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * eventually polls cond (which may be async) until it holds, for at most ms: a verdict
 * that waits for what happens, never for a fixed time a busy machine may overrun. The
 * bound only ends a hung test (as the Go tests' conntest.Wait): under -race beside
 * the browser suite, work here takes ten to twenty times as long.
 */
export async function eventually(cond, what, ms = 120000) {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await tick(5);
  }
}

/** FakeClock: time moves only by advance(), which runs the timers that fall due. */
export class FakeClock {
  constructor() {
    this.t = 1_000_000;
    this.timers = new Map();
    this.next = 1;
  }
  now = () => this.t;
  setTimeout = (fn, ms) => {
    const id = this.next++;
    this.timers.set(id, { at: this.t + ms, fn });
    return id;
  };
  clearTimeout = (id) => {
    this.timers.delete(id);
  };
  advance(ms) {
    const end = this.t + ms;
    for (;;) {
      let due = null;
      for (const [id, x] of this.timers) if (x.at <= end && (!due || x.at < due[1].at)) due = [id, x];
      if (!due) break;
      this.timers.delete(due[0]);
      this.t = due[1].at;
      due[1].fn();
    }
    this.t = end;
  }
  /** runNext moves time to the first timer due and runs what is due then; false when none is set. */
  runNext() {
    let at = Infinity;
    for (const x of this.timers.values()) at = Math.min(at, x.at);
    if (at === Infinity) return false;
    this.advance(Math.max(0, at - this.t));
    return true;
  }
}

/** FakeMedia stands in for the media worker: it keeps the own key and every key given per sender. */
export class FakeMedia {
  constructor() {
    this.own = null;
    this.received = new Map(); // pid -> [{index, raw}]
  }
  setOwnKey(index, raw) {
    this.own = { index, raw: raw.slice() };
  }
  setPeerKey(pid, index, raw) {
    if (!this.received.has(pid)) this.received.set(pid, []);
    this.received.get(pid).push({ index, raw: raw.slice() });
  }
  forget(pid) {
    this.received.delete(pid);
  }
}

/**
 * KeyRelay is the server between members ({keys: SessionKeys, worker?} by id): each
 * message goes to its recipient, or to every other member, in order. Subclasses record
 * what passes (record) and may make the server drop a message (drop).
 */
export class KeyRelay {
  constructor() {
    this.members = new Map();
    this.inFlight = 0; // relayed messages not yet handled by their receiver
    this.drop = () => false; // (from, to, message) => true to drop it
    this.delay = 1; // ms before a receiver handles a message (a test makes it a loaded machine's)
  }
  relay(from, to, data) {
    const msg = JSON.parse(data);
    for (const [id, m] of this.members) {
      if (id === from || (to && id !== to)) continue;
      this.record(m, from, id, msg);
      if (this.drop(from, id, msg)) continue;
      this.deliver(m, from, data);
    }
  }
  /** record sees every message to a member before the server may drop it. */
  record() {}
  deliver(m, from, data) {
    this.inFlight++;
    setTimeout(async () => {
      try {
        m.keys.receive(from, data);
        await m.keys.queue;
      } finally {
        this.inFlight--;
      }
    }, this.delay);
  }
  /**
   * settle waits until no message is in flight, every member has handled its own and
   * computed the safety code of its roster (a hash: on a loaded machine it comes well
   * after the messages). A relay given a fake clock (this.clock) runs the timers due on
   * it now, as an event loop would (a key schedule's flush: no time moves).
   */
  async settle() {
    for (let quiet = 0; quiet < 2;) {
      if (this.clock) this.clock.advance(0);
      await tick();
      await Promise.all([...this.members.values()].map((m) => Promise.all([m.keys.queue, m.worker && m.worker.pending, m.keys.codePending])));
      const idle = this.inFlight === 0 && [...this.members.values()].every((m) => !m.keys.flushTimer);
      quiet = idle ? quiet + 1 : 0;
    }
  }
  /** admit tells the members already there that id joined (or resumed), then starts id's keys. */
  async admit(id, m, { resumed = false } = {}) {
    const others = [...this.members.keys()].filter((o) => o !== id);
    const old = this.members.get(id);
    if (old) old.keys.close();
    this.members.set(id, m);
    for (const o of others) {
      const om = this.members.get(o);
      if (resumed) om.keys.peerResumed(id);
      else om.keys.peerJoined(id);
    }
    await m.keys.start(id, others);
    await this.settle();
    return m;
  }
  leave(id) {
    const m = this.members.get(id);
    this.members.delete(id);
    m.keys.close();
    for (const o of this.members.values()) o.keys.peerLeft(id);
  }
  close() {
    for (const m of this.members.values()) m.keys.close();
  }
}

/**
 * readChat is m's decryptChat of text from `from` in relay's room on its fake clock
 * (relay.clock): a text whose key has not come waits CHAT_WAIT_MS for it, asking every
 * CHAT_ASK_MS. The clock moves on, by CHAT_ASK_MS, only while the text waits for a key
 * of `from` and nothing is in flight (settle): a key on its way is handled first, however
 * long this machine takes, so the verdict is what came, never how fast. (On the real
 * clock each text refused for want of a key waited out its 10 s.)
 */
export async function readChat(relay, m, from, text) {
  let done = false;
  const reading = m.keys.decryptChat(from, text).finally(() => { done = true; });
  const deadline = Date.now() + 120000; // only ends a hung test, as eventually's
  for (;;) {
    await relay.settle();
    if (done) return reading;
    if (m.keys.chatKeys.waiters.has(from)) relay.clock.advance(CHAT_ASK_MS);
    else if (Date.now() > deadline) assert.fail('the reading neither ended nor waited for a key');
    else await tick();
  }
}

/**
 * keyRoom is a KeyRelay whose members ids verified each other, every SessionKeys on
 * clock (settle runs what is due on it): {relay, join, [id]: member}. join(id, opts)
 * admits one more (opts as admit's: {resumed}). Keys is the key schedule's class.
 */
export async function keyRoom(clock, ids = ['p-a', 'p-b', 'p-c'], Keys = SessionKeys) {
  const relay = new KeyRelay();
  relay.clock = clock;
  const secret = randomBytes(16);
  const join = async (id, opts = {}) => {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const media = new FakeMedia();
    const keys = new Keys({
      meeting, media, clock,
      send: (to, data) => relay.relay(id, to, data),
      sendBatch: (envelopes) => { for (const { to, data } of envelopes) relay.relay(id, to, data); },
    });
    return relay.admit(id, { id, keys, media }, opts);
  };
  const members = {};
  for (const id of ids) members[id] = await join(id);
  await relay.settle();
  return { relay, join, ...members };
}

/**
 * DayKeys is the page's key schedule without its safety code: a PBKDF2 of 2^17
 * iterations per member and roster change, which has nothing to do with the keys and
 * would make a day of joins and leaves take minutes.
 */
export class DayKeys extends SessionKeys {
  _updateCode() {}
}

/**
 * dayRoom is keyRoom with DayKeys: {relay, join, [id]: member}. join(id,
 * {resumed: true}) is id's page back on a new connection (a new key schedule).
 */
export function dayRoom(clock, ids) {
  return keyRoom(clock, ids, DayKeys);
}

/**
 * loadMediaWorker loads the E2EE media worker (web/static/js/e2ee/worker.js) as a
 * browser loads it: `self` is its global scope, and what it posts is collected in the
 * returned array. Its heartbeat timer is left out so that the test process can end.
 * Once per test file: the module keeps its key state.
 */
export async function loadMediaWorker() {
  const posted = [];
  globalThis.self = { postMessage: (m) => posted.push(m) };
  const realSetInterval = globalThis.setInterval;
  globalThis.setInterval = () => 0;
  try {
    await import('../static/js/e2ee/worker.js');
  } finally {
    globalThis.setInterval = realSetInterval;
  }
  return posted;
}
