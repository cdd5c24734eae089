// The page's own check of its websocket (heartbeat.js; signaling/PROTOCOL.md,
// "Transport"). A path that died without a close event leaves a websocket that looks
// open: a member that receives no media (nobody publishes) or a waiting person learns
// of it only when the server has dropped it, half the grace for a resume gone. The
// page pings, and when nothing at all comes back within the bound it gives the
// websocket up at once and resumes, as after a failed ICE restart.
//
// heartbeat.js alone on harness.mjs's FakeClock first, then session.js and
// reconnect.js on stand-ins of the browser's objects (as reconnect-deadpath.test.mjs),
// the session's heartbeat on the same injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import './page-globals.mjs';
import './reconnect-page.mjs';
import { FakeClock, eventually } from './harness.mjs';


/**
 * The server's end of each websocket: it records what the page sends, and answers
 * pings (a microtask later, as a network would) only while `answers` is true. close()
 * does what a browser's does on a dead path: nothing, for now.
 */
const sockets = [];
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor() {
    sockets.push(this);
    this.readyState = 0;
    this.sent = [];
    this.answers = false;
    queueMicrotask(() => { this.readyState = 1; if (this.onopen) this.onopen(); });
  }
  send(text) {
    const m = JSON.parse(text);
    this.sent.push(m);
    if (m.type === 'ping' && this.answers) queueMicrotask(() => this.deliver({ type: 'pong', ref: m.id, payload: { n: m.payload.n } }));
  }
  deliver(msg) { if (this.readyState === 1) this.onmessage({ data: JSON.stringify(msg) }); }
  pings() { return this.sent.filter((m) => m.type === 'ping'); }
  close() { this.readyState = 2; }
};

const { Heartbeat, PING_MS, DEAD_MS, ANSWER_MS } = await import('../static/js/heartbeat.js');
const { Session } = await import('../static/js/session.js');
const { Reconnect } = await import('../static/js/reconnect.js');

/** flush lets queued microtasks (answers, handlers) run. */
const flush = async () => { for (let i = 0; i < 20; i++) await Promise.resolve(); };

/** run moves clock on by ms in steps of 250 ms, letting answers arrive between steps. */
async function run(clock, ms) {
  for (let t = 0; t < ms; t += 250) {
    clock.advance(Math.min(250, ms - t));
    await flush();
  }
}

// ------------------------------------------------------------ heartbeat.js alone

test('the bounds: a ping every 15 s, dead after two pings and a margin of silence', () => {
  assert.equal(PING_MS, 15000);
  assert.equal(DEAD_MS, 35000);
  assert.ok(ANSWER_MS < PING_MS && DEAD_MS < 45000, 'the page must notice before the server drops it (45 s)');
  // PROTOCOL.md tells third-party clients what the page does; it must say the same.
  const doc = readFileSync(new URL('../../signaling/PROTOCOL.md', import.meta.url), 'utf8').replace(/\s+/g, ' ');
  for (const want of [`pings every ${PING_MS / 1000} s`, `for ${DEAD_MS / 1000} s while a ping of its has gone ${ANSWER_MS / 1000} s without an answer`]) {
    assert.ok(doc.includes(want), `PROTOCOL.md does not say "${want}"`);
  }
});

test('a silent server: the link is given up once nothing came for 35 s, not before', () => {
  const clock = new FakeClock();
  const sent = [];
  let dead = 0;
  const hb = new Heartbeat({ send: (n) => sent.push([clock.now(), n]), dead: () => dead++, clock });
  const t0 = clock.now();
  hb.start();
  clock.advance(DEAD_MS - 1);
  assert.equal(dead, 0, 'given up before the bound');
  assert.deepEqual(sent, [[t0 + 15000, 1], [t0 + 30000, 2]]);
  clock.advance(1);
  assert.equal(dead, 1, 'not given up 35 s after the last thing heard');
  clock.advance(10 * 60000);
  assert.equal(dead, 1, 'told twice');
  assert.equal(sent.length, 2, 'pings after the link was given up');
  assert.equal(clock.timers.size, 0, 'a timer left behind');
});

test('silence counts from the last thing heard, whatever it was', () => {
  const clock = new FakeClock();
  let dead = 0;
  const hb = new Heartbeat({ send: () => {}, dead: () => dead++, clock });
  hb.start();
  clock.advance(16000);
  hb.heard(); // a roster change, a chat: anything is a sign of life
  const heardAt = clock.now();
  clock.advance(DEAD_MS - 1);
  assert.equal(dead, 0);
  clock.advance(1);
  assert.equal(dead, 1);
  assert.equal(clock.now() - heardAt, DEAD_MS);
});

test('an answering server keeps the link for as long as it answers', () => {
  const clock = new FakeClock();
  const sent = [];
  let dead = 0;
  const hb = new Heartbeat({ send: (n) => { sent.push(n); hb.heard(); }, dead: () => dead++, clock });
  hb.start();
  clock.advance(60 * 60000);
  assert.equal(dead, 0);
  assert.equal(sent.length, 240);
  assert.ok(sent.every((n) => Number.isInteger(n) && n >= 0 && n <= 65535));
  hb.stop();
  clock.advance(60000);
  assert.equal(sent.length, 240, 'a ping after stop');
  assert.equal(clock.timers.size, 0);
});

test('timers held back to once a minute (a hidden tab) do not make an answered link look dead', () => {
  // Chromium runs the timers of a hidden page without WebRTC (a waiting room) once a
  // minute: the page then pings once a minute, and hears nothing in between.
  const inner = new FakeClock();
  const clock = {
    now: inner.now,
    clearTimeout: inner.clearTimeout,
    setTimeout: (fn, ms) => {
      const at = inner.now() + ms;
      return inner.setTimeout(fn, Math.ceil(at / 60000) * 60000 - inner.now());
    },
  };
  let dead = 0;
  let pings = 0;
  const hb = new Heartbeat({ send: () => { pings++; hb.heard(); }, dead: () => dead++, clock });
  hb.start();
  inner.advance(30 * 60000);
  assert.equal(dead, 0, 'an answered link given up because the timers ran late');
  assert.ok(pings >= 29, `${pings} pings in 30 minutes`);
  // And once the server goes silent, the link still goes, a minute or two later.
  hb.send = () => { pings++; };
  inner.advance(3 * 60000);
  assert.equal(dead, 1, 'a silent server under throttled timers is never noticed');
});

test('a wall clock set back (a correction, a changed system time) does not stop the pings', () => {
  // realClock's now was Date.now, the wall clock, while its timers run on the browser's
  // own time. A wall clock stepped back an hour left nextPingAt an hour ahead: no ping and
  // no check of the link for that hour, a dead path as unnoticed as before the heartbeat.
  // realClock is monotonic now (page-clock.test.mjs); an injected clock may still go back.
  const inner = new FakeClock();
  let back = 0;
  const clock = { now: () => inner.now() - back, setTimeout: inner.setTimeout, clearTimeout: inner.clearTimeout };
  let dead = 0;
  let pings = 0;
  let answer = true;
  const hb = new Heartbeat({ send: () => { pings++; if (answer) hb.heard(); }, dead: () => dead++, clock });
  hb.start();
  inner.advance(20000);
  assert.equal(pings, 1);
  back = 60 * 60000;
  inner.advance(5 * 60000);
  assert.ok(pings >= 19, `${pings - 1} pings in the 5 minutes after the wall clock went back an hour`);
  assert.equal(dead, 0, 'an answered link given up after the clock went back');
  answer = false; // and a server gone silent is still noticed within the bound
  inner.advance(PING_MS + DEAD_MS);
  assert.equal(dead, 1, 'a silent server not noticed after the clock went back');
});

test('a page waking from sleep pings first and gives up only if that goes unanswered', () => {
  const clock = new FakeClock();
  let dead = 0;
  let answer = true;
  const hb = new Heartbeat({ send: () => { if (answer) hb.heard(); }, dead: () => dead++, clock });
  hb.start();
  clock.advance(20000);
  // Asleep for 50 s: every timer is late. Then the next one runs.
  const saved = new Map(clock.timers);
  clock.timers.clear();
  clock.t += 50000;
  for (const [id, x] of saved) clock.timers.set(id, { ...x, at: Math.max(x.at, clock.t) });
  clock.advance(0);
  assert.equal(dead, 0, 'given up at once on waking, before asking the server');
  answer = false;
  clock.advance(DEAD_MS);
  assert.equal(dead, 1);
});

test('a page waking from sleep with a ping still unanswered asks again before giving up', () => {
  for (const answersAfterWake of [true, false]) {
    const clock = new FakeClock();
    let dead = 0;
    const sent = [];
    const hb = new Heartbeat({ send: (n) => sent.push(n), dead: () => dead++, clock });
    hb.start();
    clock.advance(PING_MS); // a ping goes out; its answer has not been read when the lid closes
    assert.equal(sent.length, 1);
    // Asleep for 50 s: every timer is late. Then the next one runs.
    const saved = new Map(clock.timers);
    clock.timers.clear();
    clock.t += 50000;
    for (const [id, x] of saved) clock.timers.set(id, { ...x, at: Math.max(x.at, clock.t) });
    clock.advance(0);
    assert.equal(dead, 0, 'given up on waking with the ping from before the sleep, without asking again');
    assert.equal(sent.length, 2, 'no ping on waking');
    if (answersAfterWake) hb.heard();
    clock.advance(ANSWER_MS);
    assert.equal(dead, answersAfterWake ? 0 : 1, answersAfterWake ? 'an answered link given up' : 'an unanswered ping after waking not judged');
    hb.stop();
  }
});

// ------------------------------------------------------------ the page

function page({ clock, resume = null, stored = null }) {
  const attempts = [];
  const failed = [];
  const reconnect = new Reconnect({ attempt: (r) => attempts.push(r), giveUp: () => assert.fail('gave up') });
  if (stored) reconnect.remember(stored.participantId, stored.secret);
  const noop = new Proxy({}, { get: () => () => {} });
  const tile = { track: null, setTrack() {} };
  const grid = new Proxy({ tiles: new Map() }, {
    get: (target, key) => (key in target ? target[key] : key === 'ensure' || key === 'get' ? () => tile : () => () => {}),
  });
  const ui = new Proxy({
    resumable: (id, secret) => reconnect.remember(id, secret),
    dropped: () => reconnect.dropped(),
    mediaFailed: (s, how) => reconnect.mediaFailed(s, how),
    joined: () => reconnect.joined(),
    failed: (kind) => { if (!reconnect.failed(kind)) failed.push(kind); },
  }, { get: (target, key) => (key in target ? target[key] : () => {}) });
  const media = {
    micOn: false, cameraOn: false, micMuted: false, micTrack: null, cameraTrack: null, screenOn: false,
    watchMicMuted: () => () => {}, stopAll() {}, stopScreen() {},
  };
  const session = new Session({ meetingId: 'm1', name: 'Alice', media, grid, chat: noop, ui, resume, clock });
  return { session, reconnect, attempts, failed };
}

/** joined starts a page and has the server welcome it; returns the page and its socket. */
async function joined(clock) {
  const p = page({ clock });
  const first = sockets.length;
  await p.session.start();
  await eventually(() => sockets.length === first + 1 && sockets[first].sent.some((m) => m.type === 'join'), 'the join');
  const ws = sockets[first];
  ws.deliver({ type: 'welcome', payload: { participantId: 'p-alice', e2ee: false, resumeSecret: 'y'.repeat(43), participants: [{ id: 'p-bob', name: 'Bob' }] } });
  await eventually(() => p.session.joined, 'the welcome');
  await flush();
  return { ...p, ws };
}

function cleanup(p) {
  p.reconnect._stop();
  p.reconnect.forget();
  if (!p.session.ended) p.session.end();
}

test('a member whose server went silent (nobody publishes) drops and resumes after the bound', async () => {
  const clock = new FakeClock();
  const p = await joined(clock);
  try {
    // Nothing arrives from here on: no media, no roster change, no answer to a ping.
    await run(clock, DEAD_MS - 250);
    assert.equal(p.session.ended, false, 'given up before the bound');
    assert.equal(p.ws.pings().length, 2, 'a ping every 15 s');
    assert.deepEqual(p.ws.pings().map((m) => m.payload.n), [1, 2]);
    assert.equal(p.attempts.length, 0);
    await run(clock, 250);
    assert.equal(p.session.ended, true, 'still "joined" 35 s after the server fell silent');
    assert.equal(p.ws.sent.some((m) => m.type === 'leave'), false, 'a member said goodbye: its membership would not wait for the resume');
    // Given up as a drop: the reconnect path resumes with the membership's secret.
    await eventually(() => p.attempts.length === 1, 'the resume');
    assert.deepEqual(p.attempts[0], { participantId: 'p-alice', secret: 'y'.repeat(43) });
    const before = p.ws.sent.length;
    await run(clock, 5 * 60000);
    assert.equal(p.ws.sent.length, before, 'the given-up socket was still pinged');
  } finally {
    cleanup(p);
  }
});

test('a member whose server answers stays, and pings every 15 s', async () => {
  const clock = new FakeClock();
  const p = await joined(clock);
  try {
    p.ws.answers = true;
    await run(clock, 10 * 60000);
    assert.equal(p.session.ended, false, 'an answered link given up');
    assert.equal(p.attempts.length, 0);
    const pings = p.ws.pings();
    assert.equal(pings.length, 40);
    // Each its own envelope id (the pong's ref), numbers counting up.
    assert.equal(new Set(pings.map((m) => m.id)).size, 40);
    assert.deepEqual(pings.slice(0, 3).map((m) => m.payload), [{ n: 1 }, { n: 2 }, { n: 3 }]);
  } finally {
    cleanup(p);
  }
});

test('other messages keep the link as pongs do, and the bound counts from the last of them', async () => {
  const clock = new FakeClock();
  const p = await joined(clock);
  try {
    for (let i = 0; i < 40; i++) { // a participant_updated every 10 s, no pong ever
      await run(clock, 10000);
      p.ws.deliver({ type: 'participant_updated', payload: { participant: { id: 'p-bob', name: 'Bob', role: 'participant', media: { mic: i % 2 === 0, camera: false, screen: false } } } });
    }
    assert.equal(p.session.ended, false, 'given up while the server spoke, only because it sent no pong');
    assert.equal(p.ws.pings().length, 26, 'a ping every 15 s all along');
    await run(clock, DEAD_MS - 250);
    assert.equal(p.session.ended, false);
    await run(clock, 250);
    assert.equal(p.session.ended, true, 'not given up 35 s after the last message');
  } finally {
    cleanup(p);
  }
});

test('a waiting person pings too, and a silent server ends the wait as a drop does', async () => {
  const clock = new FakeClock();
  const p = page({ clock });
  const first = sockets.length;
  try {
    await p.session.start();
    await eventually(() => sockets.length === first + 1 && sockets[first].sent.some((m) => m.type === 'join'), 'the join');
    const ws = sockets[first];
    await run(clock, 60000);
    assert.equal(ws.pings().length, 0, 'a ping before the join was answered');
    ws.deliver({ type: 'lobby', payload: { moderatorPresent: true, e2ee: false } });
    ws.answers = true;
    await run(clock, 15 * 60000);
    assert.equal(p.session.ended, false);
    assert.equal(ws.pings().length, 60);
    ws.answers = false;
    await run(clock, DEAD_MS);
    assert.equal(p.session.ended, true, 'a silent server left the person waiting');
    assert.deepEqual(p.failed, ['disconnected']);
    // A knock that is alive after all must not stay in the waiting room.
    assert.equal(ws.sent.at(-1).type, 'leave');
  } finally {
    cleanup(p);
  }
});

test('no ping after leave', async () => {
  const clock = new FakeClock();
  const p = await joined(clock);
  try {
    p.ws.answers = true;
    await run(clock, 20000);
    assert.equal(p.ws.pings().length, 1, 'no ping while in the meeting');
    const left = p.session.leave();
    // The server takes its time to answer the goodbye (the page waits up to 1.5 s).
    await run(clock, 2 * PING_MS);
    p.ws.deliver({ type: 'bye', payload: { reason: 'left' } });
    p.ws.onclose({ code: 1000, reason: 'left', wasClean: true });
    await left;
    assert.equal(p.session.ended, true);
    assert.equal(clock.timers.size, 0, 'the heartbeat still runs after the leave');
    const after = p.ws.sent.findIndex((m) => m.type === 'leave');
    await run(clock, 5 * 60000);
    assert.deepEqual(p.ws.sent.slice(after + 1), [], 'sent after the leave');
    assert.equal(clock.timers.size, 0, 'a heartbeat timer outlived the session');
  } finally {
    cleanup(p);
  }
});

test('no ping after the server closed the websocket', async () => {
  const clock = new FakeClock();
  const p = await joined(clock);
  try {
    p.ws.answers = true;
    await run(clock, 20000);
    assert.equal(p.ws.pings().length, 1, 'no ping while in the meeting');
    p.ws.deliver({ type: 'bye', payload: { reason: 'removed' } });
    p.ws.readyState = 3;
    p.ws.onclose({ code: 4409, reason: 'removed', wasClean: true });
    assert.equal(p.session.ended, true);
    assert.equal(clock.timers.size, 0, 'the heartbeat still runs after the close');
    const n = p.ws.sent.length;
    await run(clock, 5 * 60000);
    assert.equal(p.ws.sent.length, n, 'pinged a closed websocket');
    assert.equal(clock.timers.size, 0);
  } finally {
    cleanup(p);
  }
});

test('a resuming page sends nothing behind its resume before the welcome, then pings', async () => {
  const clock = new FakeClock();
  const resume = { participantId: 'p-alice', secret: 'z'.repeat(43) };
  const p = page({ clock, resume, stored: resume });
  const first = sockets.length;
  try {
    await p.session.start();
    await eventually(() => sockets.length === first + 1 && sockets[first].sent.some((m) => m.type === 'resume'), 'the resume');
    const ws = sockets[first];
    await run(clock, 60000);
    assert.deepEqual(ws.sent.map((m) => m.type), ['resume'], 'a ping behind the resume could spend the secret of a lost welcome');
    ws.deliver({ type: 'welcome', payload: { participantId: 'p-alice', e2ee: false, resumed: true, resumeSecret: 'w'.repeat(43), participants: [] } });
    await eventually(() => p.session.joined, 'the welcome');
    await run(clock, PING_MS);
    assert.equal(ws.pings().length, 1);
  } finally {
    cleanup(p);
  }
});
