// Key requests (web/static/js/e2ee/key-requests.js and their use in session-keys.js,
// e2ee/FORMAT.md "Key requests"): a receiver whose frames from a sender fail for want
// of a key asks that sender, at most once per 2 s and backing off to 16 s while they
// keep failing; a sender answers only members it verified, at most once a second; the
// sender's tiles say "Waiting for keys…" after a second of failing frames. Every limit
// is judged on a fake clock; real timers only carry the relay's messages.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { MediaRings } from '../static/js/e2ee/media-rings.js';
import {
  KeyRequests, AnswerLimit, MissingReports, FIRST_WAIT_MS, MAX_WAIT_MS, WAITING_AFTER_MS,
} from '../static/js/e2ee/key-requests.js';
import { CAMERA, VP8 } from '../static/js/e2ee/frame.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { ROTATE_DELAY_MS } from '../static/js/e2ee/rotations.js';
import { FakeClock, KeyRelay } from './harness.mjs';

test('requester: one request per 2 s, doubling to 16 s while frames keep failing, 2 s again after they decode', () => {
  const clock = new FakeClock();
  const asked = [];
  const waiting = [];
  let may = false;
  const r = new KeyRequests({
    ask: (pid) => {
      if (!may) return false;
      asked.push([pid, clock.now()]);
      return true;
    },
    onWaiting: (pid, on) => waiting.push([pid, on, clock.now()]),
    clock,
  });
  const t0 = clock.now();
  // Not askable yet (not verified): nothing sent, and no wait counted.
  r.missing('p-a');
  assert.deepEqual(asked, []);
  may = true;
  // The worker reports once a second while frames fail.
  for (let s = 0; s <= 62; s++) {
    r.missing('p-a');
    clock.advance(1000);
  }
  const times = asked.map(([, at]) => (at - t0) / 1000);
  assert.deepEqual(times, [0, 2, 6, 14, 30, 46, 62]);
  assert.equal(MAX_WAIT_MS, 16000);
  // "Waiting for keys…" one second after the first failure, once.
  assert.deepEqual(waiting, [['p-a', true, t0 + WAITING_AFTER_MS]]);
  assert.equal(r.waiting('p-a'), true);

  // Frames decode again: the label goes; the next failure may ask after 2 s, not 16,
  // but never sooner than 2 s after the last request.
  r.decoded('p-a');
  assert.deepEqual(waiting.at(-1), ['p-a', false, clock.now()]);
  assert.equal(r.waiting('p-a'), false);
  const last = asked.at(-1)[1];
  r.missing('p-a'); // 1 s after the last request
  assert.equal(asked.at(-1)[1], last, 'no second request within 2 s');
  clock.advance(1000);
  r.missing('p-a');
  assert.equal(asked.at(-1)[1], last + FIRST_WAIT_MS);
  assert.equal(asked.length, 8);
  // The waits start over: 2 s, then 4 s.
  for (const [ms, n] of [[1000, 8], [1000, 9], [3000, 9], [1000, 10]]) {
    clock.advance(ms);
    r.missing('p-a');
    assert.equal(asked.length, n, `at ${(clock.now() - t0) / 1000} s`);
  }
  // A short failure (decoded within a second) never shows the label.
  r.decoded('p-a');
  const shown = waiting.length;
  r.missing('p-a');
  clock.advance(500);
  r.decoded('p-a');
  clock.advance(5000);
  assert.equal(waiting.length, shown);

  // Other senders are independent; forget drops the label.
  r.missing('p-b');
  assert.equal(asked.at(-1)[0], 'p-b');
  clock.advance(1500);
  assert.equal(r.waiting('p-b'), true);
  r.forget('p-b');
  assert.deepEqual(waiting.at(-1), ['p-b', false, clock.now()]);
  r.close();
});

test('worker reports: missing key at most once a second per sender, key ok once after', () => {
  const clock = new FakeClock();
  const posted = [];
  const rep = new MissingReports((m) => posted.push(m), clock);
  rep.decoded('p-a'); // nothing failed: nothing said
  for (let i = 0; i < 30; i++) {
    rep.failed('p-a'); // 30 frames a second
    rep.failed('p-b');
    clock.advance(100);
  }
  assert.deepEqual(posted.filter((m) => m.pid === 'p-a').map((m) => m.t), ['missing-key', 'missing-key', 'missing-key']);
  rep.decoded('p-a');
  rep.decoded('p-a');
  assert.deepEqual(posted.filter((m) => m.pid === 'p-a').map((m) => m.t).slice(-2), ['missing-key', 'key-ok']);
  rep.failed('p-a'); // failing again right after: reported at once
  assert.deepEqual(posted.at(-1), { t: 'missing-key', pid: 'p-a' });
});

test('answer limit: once per requester a second', () => {
  const clock = new FakeClock();
  const lim = new AnswerLimit(clock);
  assert.equal(lim.allow('p-a'), true);
  assert.equal(lim.allow('p-a'), false);
  assert.equal(lim.allow('p-b'), true);
  clock.advance(999);
  assert.equal(lim.allow('p-a'), false);
  clock.advance(1);
  assert.equal(lim.allow('p-a'), true);
});

/** Worker is the media worker's model: its key state (media-rings.js) and its reports. */
class Worker {
  constructor(clock, keys) {
    this.rings = new MediaRings();
    this.pending = Promise.resolve();
    this.reports = new MissingReports((m) => {
      if (m.t === 'missing-key') keys().keyMissing(m.pid);
      else keys().keyDecoded(m.pid);
    }, clock);
  }
  _then(fn) {
    this.pending = this.pending.then(fn);
  }
  setOwnKey(index, raw) { this._then(() => this.rings.setOwn(index, raw)); }
  setPeerKey(pid, index, raw) { this._then(() => this.rings.setPeer(pid, index, raw)); }
  forget(pid) { this._then(() => this.rings.forget(pid)); }
}

/** Room relays key messages in order; drop(from, to, msg) may make the server drop one. */
class Room extends KeyRelay {
  constructor(clock) {
    super();
    this.clock = clock;
    this.sent = []; // {from, to, t}
  }
  record(m, from, to, msg) {
    this.sent.push({ from, to, t: msg.t });
  }
  async join(id, secret) {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const m = { id, waiting: new Set() };
    m.worker = new Worker(this.clock, () => m.keys);
    m.keys = new SessionKeys({
      meeting,
      media: m.worker,
      send: (to, data) => this.relay(id, to, data),
      sendBatch: (envs) => envs.forEach(({ to, data }) => this.relay(id, to, data)),
      onWaiting: (pid, on) => (on ? m.waiting.add(pid) : m.waiting.delete(pid)),
      clock: this.clock,
    });
    m.worker.rings.setSelf(id);
    for (const [o, om] of this.members) {
      m.worker.rings.route(o, o, CAMERA);
      om.worker.rings.route(id, id, CAMERA);
    }
    return this.admit(id, m);
  }
  /** announce: the server says `id` joined (a newcomer that never speaks: the members ratchet). */
  async announce(id) {
    for (const m of this.members.values()) m.keys.peerJoined(id);
    await this.settle();
  }
}

/**
 * deliver sends one frame of `s` to receiver `r` through their workers: true if it
 * decoded; a failure goes to r's worker reports like the real worker's.
 */
async function deliver(s, r) {
  await s.worker.pending;
  const frame = await s.worker.rings.encrypt(Uint8Array.from([0x31, 1, 2, 3, 4, 5, 6, 7]), VP8, CAMERA);
  await r.worker.pending;
  try {
    await r.worker.rings.decrypt(s.id, frame, VP8);
    r.worker.reports.decoded(s.id);
    return true;
  } catch (err) {
    if (err.code === 'unknown-key' || err.code === 'auth') r.worker.reports.failed(s.id);
    return false;
  }
}

/** recovers: frames of s keep arriving at r, one a second on the fake clock, until they decode. */
async function recovers(room, s, r, what, maxSeconds = 40) {
  for (let i = 0; i < maxSeconds; i++) {
    if (await deliver(s, r)) return i;
    await room.settle();
    room.clock.advance(1000);
  }
  assert.fail(`${r.id} never read ${s.id} again: ${what}`);
}

test('a silent sender while 20 people join, and its key index wrapping past 255: the receiver asks and recovers', async () => {
  const clock = new FakeClock();
  const room = new Room(clock);
  const secret = randomBytes(16);
  const a = await room.join('p-a', secret);
  const b = await room.join('p-b', secret);
  assert.equal(await deliver(a, b), true);
  // Twenty join while a sends nothing: a ratchets 20 times, beyond the 16 steps b follows.
  const first = a.keys.keyIndex;
  for (let i = 0; i < 20; i++) await room.announce(`p-n${i}`);
  assert.equal(a.keys.keyIndex, first + 20);
  const requests = () => room.sent.filter((x) => x.from === 'p-b' && x.to === 'p-a' && x.t === 'key-request').length;
  assert.equal(await deliver(a, b), false);
  assert.equal(b.waiting.has('p-a'), false, 'not yet: it failed for less than a second');
  await room.settle();
  assert.equal(requests(), 1, 'b asked a at once');
  await recovers(room, a, b, 'after 20 joins');
  assert.equal(b.waiting.has('p-a'), false);

  // Past index 255 and round again to the index b holds, under a key b does not hold.
  const held = a.keys.keyIndex;
  let asked = requests();
  for (let i = 0; i < 256; i++) await room.announce(`p-w${i}`);
  assert.equal(a.keys.keyIndex, held, 'the index came round');
  clock.advance(60000);
  assert.equal(await deliver(a, b), false, 'the held key at that index does not open it');
  await room.settle();
  clock.advance(WAITING_AFTER_MS);
  assert.equal(b.waiting.has('p-a'), true, '"Waiting for keys…" after a second');
  await recovers(room, a, b, 'after the index wrapped');
  assert.equal(b.waiting.has('p-a'), false, 'the label goes when frames decode');
  assert.ok(requests() > asked);
  // And a keeps being read through its ratchet as usual afterwards.
  asked = requests();
  await room.announce('p-late');
  assert.equal(await deliver(a, b), true);
  assert.equal(requests(), asked);
  room.close();
});

test('a dropped rotation: the receiver asks, backs off while answers are dropped, recovers once they pass', async () => {
  const clock = new FakeClock();
  const room = new Room(clock);
  const secret = randomBytes(16);
  const a = await room.join('p-a', secret);
  const b = await room.join('p-b', secret);
  await room.join('p-c', secret);
  assert.equal(await deliver(a, b), true);
  const answered = () => room.sent.filter((x) => x.from === 'p-a' && x.to === 'p-b' && x.t === 'key').length;
  const given = answered();
  // The server drops every key message from a to b.
  room.drop = (from, to, msg) => from === 'p-a' && to === 'p-b' && msg.t === 'key';
  const before = a.keys.keyIndex;
  room.members.get('p-c').keys.close();
  room.members.delete('p-c');
  for (const m of room.members.values()) m.keys.peerLeft('p-c');
  await room.settle();
  clock.advance(ROTATE_DELAY_MS); // the rotation's wait, on the injected clock
  assert.notEqual(a.keys.keyIndex, before, 'a does not use its rotated key');
  const start = clock.now();
  for (let i = 0; i < 40; i++) {
    assert.equal(await deliver(a, b), false, 'nothing decodes without the rotated key');
    await room.settle();
    clock.advance(1000);
  }
  const asks = room.sent.filter((x) => x.from === 'p-b' && x.t === 'key-request');
  assert.ok(asks.length >= 4 && asks.length <= 6, `${asks.length} requests in 40 s`);
  assert.equal(answered() - given, asks.length + 1, 'a answered each request (and sent the rotation)');
  assert.equal(b.waiting.has('p-a'), true);
  assert.ok(clock.now() - start >= 40000);
  // The server stops dropping: the next request's answer gets through.
  room.drop = () => false;
  await recovers(room, a, b, 'once answers pass', 20);
  assert.equal(b.waiting.has('p-a'), false);
  room.close();
});

test('a sender answers members of its roster at most once a second each: its identity, and its key only to verified ones', async () => {
  const clock = new FakeClock();
  const room = new Room(clock);
  const secret = randomBytes(16);
  const a = await room.join('p-a', secret);
  const b = await room.join('p-b', secret);
  const w = await room.join('p-w', randomBytes(16)); // another link: never verified
  assert.deepEqual(a.keys.unverified(), ['p-w']);
  const req = JSON.stringify({ v: 3, t: 'key-request' });
  const keysTo = (to) => room.sent.filter((x) => x.from === 'p-a' && x.to === to && x.t === 'key').length;
  const bBefore = keysTo('p-b');
  // b asks five times within a second: one answer.
  for (let i = 0; i < 5; i++) a.keys.receive('p-b', req);
  await room.settle();
  assert.equal(keysTo('p-b'), bBefore + 1);
  clock.advance(1000);
  a.keys.receive('p-b', req);
  await room.settle();
  assert.equal(keysTo('p-b'), bBefore + 2, 'a second later: answered again');
  // The unverified member gets no key, however often it asks: a's identity (public, and
  // perhaps what was dropped on its way), which does not verify under another link's key.
  const identitiesTo = (to) => room.sent.filter((x) => x.from === 'p-a' && x.to === to && x.t === 'identity').length;
  const wIdentities = identitiesTo('p-w');
  for (let i = 0; i < 3; i++) {
    a.keys.receive('p-w', req);
    await room.settle();
    clock.advance(1000);
  }
  assert.equal(keysTo('p-w'), 0);
  assert.equal(identitiesTo('p-w'), wIdentities + 3);
  assert.deepEqual(w.keys.verified(), []);
  // b asks it as well (its identity may be what was dropped): the answer leaves it
  // unverified, and b gets no key of it.
  b.keys.keyMissing('p-w');
  await room.settle();
  assert.equal(room.sent.filter((x) => x.from === 'p-b' && x.to === 'p-w' && x.t === 'key-request').length, 1);
  assert.deepEqual(b.keys.unverified(), ['p-w']);
  assert.equal(room.sent.filter((x) => x.from === 'p-w' && x.to === 'p-b' && x.t === 'key').length, 0);
  // Frames "from" an id not in b's roster: nothing asked, nothing kept, no label.
  b.keys.keyMissing('p-ghost');
  clock.advance(2000);
  await room.settle();
  assert.deepEqual(room.sent.filter((x) => x.from === 'p-b' && x.to === 'p-ghost'), []);
  assert.equal(b.keys.waitingForKeys('p-ghost'), false);
  assert.equal(b.keys.requests.senders.has('p-ghost'), false);
  // An id never announced: refused and counted as a warning, no answer.
  const warned = a.keys.warnings().count;
  a.keys.receive('p-ghost', req);
  await room.settle();
  assert.equal(a.keys.warnings().count, warned + 1);
  assert.equal(room.sent.filter((x) => x.from === 'p-a' && x.to === 'p-ghost').length, 0);
  // One who left is never answered again.
  room.members.delete('p-b');
  b.keys.close();
  a.keys.peerLeft('p-b');
  await room.settle();
  const after = keysTo('p-b');
  clock.advance(5000);
  a.keys.receive('p-b', req);
  await room.settle();
  assert.equal(keysTo('p-b'), after);
  // A request of another version is ignored.
  const c = await room.join('p-c', secret);
  const cBefore = keysTo('p-c');
  clock.advance(5000);
  a.keys.receive('p-c', JSON.stringify({ v: 1, t: 'key-request' }));
  await room.settle();
  assert.equal(keysTo('p-c'), cBefore);
  assert.ok(c);
  room.close();
});

test('a dropped identity: the receiver asks for it, for failing frames or after five seconds without it, and the answer verifies and keys the sender', async () => {
  const clock = new FakeClock();
  const room = new Room(clock);
  const secret = randomBytes(16);
  const a = await room.join('p-a', secret);
  // The server drops a's first identity to b (a full queue drops key messages).
  let dropped = 0;
  room.drop = (from, to, msg) => from === 'p-a' && to === 'p-b' && msg.t === 'identity' && dropped++ === 0;
  const b = await room.join('p-b', secret);
  await room.settle();
  assert.equal(dropped, 1);
  assert.deepEqual(b.keys.verified(), []);
  assert.deepEqual(a.keys.verified(), ['p-b'], 'b\'s identity reached a');
  assert.equal(await deliver(a, b), false, 'b cannot unwrap the key a sent it');
  await room.settle();
  assert.equal(room.sent.filter((x) => x.from === 'p-b' && x.to === 'p-a' && x.t === 'key-request').length, 1, 'b asked a at once');
  assert.deepEqual(b.keys.verified(), ['p-a']);
  await recovers(room, a, b, 'after its identity was dropped');

  // A member that sends no frames: c's identity to b is dropped too; b asks after five
  // seconds, before it would show c as unverified at ten.
  dropped = 0;
  room.drop = (from, to, msg) => from === 'p-c' && to === 'p-b' && msg.t === 'identity' && dropped++ === 0;
  await room.join('p-c', secret);
  await room.settle();
  assert.equal(dropped, 1);
  assert.deepEqual(b.keys.verified(), ['p-a']);
  const asked = () => room.sent.filter((x) => x.from === 'p-b' && x.to === 'p-c' && x.t === 'key-request').length;
  clock.advance(4900);
  await room.settle();
  assert.equal(asked(), 0, 'not before five seconds');
  clock.advance(100);
  await room.settle();
  assert.equal(asked(), 1);
  assert.deepEqual(b.keys.verified().sort(), ['p-a', 'p-c']);
  assert.deepEqual(b.keys.unverified(), []);
  clock.advance(10000);
  await room.settle();
  assert.deepEqual(b.keys.unverified(), [], 'never shown as unverified');
  room.close();
});

test('a member that sends nothing is asked for its identity until it verifies: a wrongly tagged one in its place, a dropped answer', async () => {
  const clock = new FakeClock();
  const room = new Room(clock);
  const secret = randomBytes(16);
  const b = await room.join('p-b', secret);
  // The server drops d's identity to b and its first answer, and puts a wrongly tagged
  // copy in the place of the first.
  let copy = null;
  let dropped = 0;
  room.drop = (from, to, msg) => {
    if (from !== 'p-d' || to !== 'p-b' || msg.t !== 'identity' || dropped >= 2) return false;
    if (dropped++ === 0) copy = msg;
    return true;
  };
  await room.join('p-d', secret);
  await room.settle();
  const tag = copy.tag;
  b.keys.receive('p-d', JSON.stringify({ ...copy, tag: (tag[0] === 'A' ? 'B' : 'A') + tag.slice(1) }));
  await room.settle();
  assert.deepEqual(b.keys.unverified(), ['p-d'], 'the wrongly tagged identity does not verify');
  const asked = () => room.sent.filter((x) => x.from === 'p-b' && x.to === 'p-d' && x.t === 'key-request').length;
  clock.advance(5000);
  await room.settle();
  assert.equal(asked(), 1, 'asked at five seconds all the same');
  assert.equal(dropped, 2, 'the answer was dropped');
  assert.deepEqual(b.keys.verified(), []);
  clock.advance(9900);
  await room.settle();
  assert.equal(asked(), 1, 'the next ask after twice the wait');
  clock.advance(100);
  await room.settle();
  assert.equal(asked(), 2);
  assert.deepEqual(b.keys.verified(), ['p-d']);
  assert.deepEqual(b.keys.unverified(), []);
  clock.advance(120000);
  await room.settle();
  assert.equal(asked(), 2, 'no asks once it verified');
  room.close();
});
