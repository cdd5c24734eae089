// A resume whose websocket never opens: the server answered the page's probe, then the
// path stalled (a NAT that lost the mapping as the attempt began, a proxy that stopped
// forwarding), so the new websocket stays "connecting" and no close comes until the
// browser's own limit, 240 s in Chromium (net/websockets/websocket_stream.cc), well past
// the server's grace of 60 s. The page gives the stalled attempt up and tries again on a
// new connection, within the grace.
//
// session.js and reconnect.js run here on stand-ins of the browser's objects; the
// websockets after the first open only when the test says so.
import { mock, test } from 'node:test';
import './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import './reconnect-page.mjs';

const sockets = [];
let opens = true; // whether a new websocket opens (the first one does)
let openAfterMs = 0; // and how long its handshake takes (a slow link: on the test's clock)
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor() {
    sockets.push(this);
    this.readyState = 0;
    this.sent = [];
    this.closeCalled = false;
    const open = () => { if (this.closeCalled) return; this.readyState = 1; if (this.onopen) this.onopen(); };
    if (opens && openAfterMs > 0) setTimeout(open, openAfterMs);
    else if (opens) queueMicrotask(open);
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  // A stalled path: closing a socket that is still opening brings no close event for now.
  close() { this.closeCalled = true; this.readyState = 2; }
};

const { Session } = await import('../static/js/session.js');
const { Reconnect } = await import('../static/js/reconnect.js');

const flush = async () => { for (let i = 0; i < 10; i++) await Promise.resolve(); };

// harness is a page on the stand-ins: open starts a Session (a resume when given one),
// as meeting.js does, with a Reconnect that starts the next; every timer on the test's clock.
function harness({ giveUp = (kind) => assert.fail(`gave up: ${kind}`) } = {}) {
  sockets.length = 0;
  opens = true;
  openAfterMs = 0;
  const sessions = [];
  const failures = [];
  const noop = new Proxy({}, { get: () => () => {} });
  const tile = { track: null, setTrack() {} };
  const grid = new Proxy({ tiles: new Map() }, {
    get: (target, key) => (key in target ? target[key] : key === 'ensure' || key === 'get' ? () => tile : () => () => {}),
  });
  const media = {
    micOn: false, cameraOn: false, micMuted: false, micTrack: null, cameraTrack: null, screenOn: false,
    watchMicMuted: () => () => {}, stopAll() {}, stopScreen() {},
  };
  let reconnect;
  const open = (resume = null, opts = {}) => {
    const ui = new Proxy({
      resumable: (id, secret) => reconnect.remember(id, secret),
      dropped: () => reconnect.dropped(),
      failed: (kind) => { failures.push(kind); reconnect.failed(kind); },
      joined: () => reconnect.joined(),
    }, { get: (target, key) => (key in target ? target[key] : () => {}) });
    const session = new Session({ meetingId: 'm1', name: 'Alice', media, grid, chat: noop, ui, resume, ...opts });
    sessions.push(session);
    session.start();
    return session;
  };
  reconnect = new Reconnect({ attempt: (resume, opts) => open(resume, opts), giveUp });
  // Every timer of the page on the test's clock, from the join on.
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const run = async (ms, until = () => false) => {
    for (let t = 0; t < ms && !until(); t += 50) { mock.timers.tick(50); await flush(); }
  };
  return { sessions, failures, open, reconnect, run };
}

test('a resume whose websocket never opens is given up and tried again on a new one, within the grace', async () => {
  const { sessions, failures, open, reconnect, run } = harness();
  try {
    open();
    await run(1000, () => sockets.length === 1 && sockets[0].sent.some((m) => m.type === 'join'));
    assert.ok(sockets.length === 1 && sockets[0].sent.some((m) => m.type === 'join'), 'no join');
    sockets[0].onmessage({ data: JSON.stringify({ type: 'welcome', payload: { participantId: 'p-alice', e2ee: false, resumeSecret: 'y'.repeat(43), participants: [] } }) });
    await run(1000, () => sessions[0].joined);
    assert.ok(sessions[0].joined, 'not joined after the welcome');

    // The link drops; the probe is answered, and the resume's websocket stalls.
    opens = false;
    sockets[0].onclose({ code: 1006, reason: '', wasClean: false });
    await run(2000, () => sockets.length === 2);
    assert.equal(sockets.length, 2, 'no resume attempt after the drop');
    const stalled = sockets[1];
    assert.equal(stalled.readyState, 0);
    // The path works again for new connections; the stalled one stays as it is.
    opens = true;
    await run(30000, () => sockets.length === 3 && sockets[2].sent.length > 0);
    assert.equal(stalled.closeCalled, true, 'the stalled websocket was not given up 30 s into a 60 s grace');
    assert.ok(sockets.length >= 3, `${sockets.length} websockets 30 s after the drop: the page waits for a stalled one to open`);
    assert.deepEqual(failures, ['unreachable'], 'the stalled attempt ends as one that could not reach the server');
    const last = sockets.at(-1);
    assert.deepEqual(last.sent.map((m) => m.type), ['resume'], 'the new websocket does not resume');
    assert.equal(last.sent[0].payload.secret, 'y'.repeat(43));
    // Welcomed, the page is back; the stalled socket's late open changes nothing.
    last.onmessage({ data: JSON.stringify({ type: 'welcome', payload: { participantId: 'p-alice', e2ee: false, resumed: true, resumeSecret: 'z'.repeat(43), participants: [] } }) });
    await run(100);
    assert.equal(sessions.at(-1).joined, true, 'the resumed session did not join');
    assert.equal(reconnect.active, false, 'still reconnecting after the welcome');
    stalled.readyState = 1;
    assert.equal(stalled.onopen, null, 'the given-up websocket still has its handlers');
    assert.equal(stalled.onmessage, null);
    assert.equal(sessions.filter((s) => !s.ended).length, 1, 'more than one live session');
  } finally {
    reconnect._stop();
    for (const s of sessions) s.end();
    mock.timers.reset();
  }
});

// A first join over a slow but honest link: the TCP and TLS handshakes of a new
// connection through a proxy on a loaded mobile network take seconds. The page has no
// grace to beat there; given up at the resume's 10 s, such a link failed every join as
// "Cannot connect", and the person's "try again" failed alike.
test('a first join whose websocket takes 15 s to open is not given up', async () => {
  const { sessions, failures, open, reconnect, run } = harness();
  try {
    openAfterMs = 15000;
    open();
    await run(20000, () => sockets.length === 1 && sockets[0].sent.some((m) => m.type === 'join'));
    assert.deepEqual(failures, [], 'the join over a slow link failed');
    assert.equal(sockets[0].closeCalled, false, 'the slow websocket was given up');
    assert.deepEqual(sockets[0].sent.map((m) => m.type), ['join'], 'no join over the slow link');
    assert.equal(sockets.length, 1);
    assert.equal(sessions[0].ended, false);
  } finally {
    reconnect._stop();
    for (const s of sessions) s.end();
    mock.timers.reset();
  }
});

// A resume over a link where every websocket takes 12 s to open (as slow as above, not
// stalled): its first attempt is given up at 10 s, as one that stalls; the next waits
// longer and comes back within the grace. With the same 10 s each time, every attempt
// was given up and the page said "Disconnected" with its membership still there.
test('a resume over a link whose every websocket takes 12 s to open comes back', async () => {
  const gaveUp = [];
  const { sessions, failures, open, reconnect, run } = harness({ giveUp: (kind) => gaveUp.push(kind) });
  try {
    open();
    await run(1000, () => sockets.length === 1 && sockets[0].sent.some((m) => m.type === 'join'));
    sockets[0].onmessage({ data: JSON.stringify({ type: 'welcome', payload: { participantId: 'p-alice', e2ee: false, resumeSecret: 'y'.repeat(43), participants: [] } }) });
    await run(1000, () => sessions[0].joined);
    assert.ok(sessions[0].joined, 'not joined after the welcome');

    openAfterMs = 12000;
    sockets[0].onclose({ code: 1006, reason: '', wasClean: false });
    const resumed = () => sockets.slice(1).find((ws) => ws.sent.some((m) => m.type === 'resume'));
    await run(60000, () => resumed() || gaveUp.length > 0);
    assert.deepEqual(gaveUp, [], 'gave the resume up over a slow link');
    const ws = resumed();
    assert.ok(ws, `no resume sent within the grace over ${sockets.length - 1} websockets`);
    assert.equal(sockets[1].closeCalled, true, 'the first attempt waited past 10 s');
    assert.deepEqual(failures, ['unreachable'], 'one attempt given up, then back');
    ws.onmessage({ data: JSON.stringify({ type: 'welcome', payload: { participantId: 'p-alice', e2ee: false, resumed: true, resumeSecret: 'z'.repeat(43), participants: [] } }) });
    await run(100);
    assert.equal(sessions.at(-1).joined, true, 'the resumed session did not join');
    assert.equal(reconnect.active, false, 'still reconnecting after the welcome');
  } finally {
    reconnect._stop();
    for (const s of sessions) s.end();
    mock.timers.reset();
  }
});

test('each attempt of a resume waits longer for its websocket, a join the longest', async () => {
  const { openTimeoutMs, OPEN_TIMEOUT_MS, OPEN_TIMEOUT_MAX_MS } = await import('../static/js/signaling.js');
  assert.deepEqual([0, 1, 2, 3, 9].map(openTimeoutMs), [OPEN_TIMEOUT_MS, 2 * OPEN_TIMEOUT_MS, OPEN_TIMEOUT_MAX_MS, OPEN_TIMEOUT_MAX_MS, OPEN_TIMEOUT_MAX_MS]);
  assert.ok(OPEN_TIMEOUT_MAX_MS >= 20000, 'a join gives up before Firefox itself would');
});
