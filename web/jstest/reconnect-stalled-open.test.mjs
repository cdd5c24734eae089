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

const element = () => new Proxy({ hidden: false, dataset: {}, classList: { add() {}, remove() {}, toggle() {} } }, {
  get: (target, key) => (key in target ? target[key] : () => {}),
});
globalThis.IntersectionObserver = class { observe() {} unobserve() {} disconnect() {} };
globalThis.ResizeObserver = globalThis.IntersectionObserver;
globalThis.DOMParser = class { parseFromString() { return { querySelector: () => element() }; } };
globalThis.document = {
  querySelectorAll: () => [], querySelector: () => element(), getElementById: () => null,
  addEventListener() {}, removeEventListener() {}, createElement: () => element(),
  createTextNode: () => ({}), documentElement: element(), body: element(),
};
globalThis.window = {
  location: { protocol: 'https:', host: 'meet.example', origin: 'https://meet.example', hash: '' },
  localStorage, sessionStorage, addEventListener() {}, removeEventListener() {},
  fetch: async () => ({ ok: true, status: 200 }), // the probe is answered: the server is there
};
globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };
globalThis.Audio = class { play() { return Promise.resolve(); } remove() {} };
globalThis.RTCPeerConnection = class {
  constructor() {
    this.connectionState = 'new';
    this.iceConnectionState = 'new';
    this.signalingState = 'stable';
  }
  addTransceiver() { return { sender: { track: null }, receiver: {} }; }
  getTransceivers() { return []; }
  getSenders() { return []; }
  async setRemoteDescription() {}
  async createAnswer() { return { type: 'answer', sdp: 'v=0' }; }
  async setLocalDescription() {}
  async getStats() { return new Map(); }
  close() {}
};
const sockets = [];
let opens = true; // whether a new websocket opens (the first one does)
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor() {
    sockets.push(this);
    this.readyState = 0;
    this.sent = [];
    this.closeCalled = false;
    if (opens) queueMicrotask(() => { this.readyState = 1; if (this.onopen) this.onopen(); });
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  // A stalled path: closing a socket that is still opening brings no close event for now.
  close() { this.closeCalled = true; this.readyState = 2; }
};

const { Session } = await import('../static/js/session.js');
const { Reconnect } = await import('../static/js/reconnect.js');

const flush = async () => { for (let i = 0; i < 10; i++) await Promise.resolve(); };

test('a resume whose websocket never opens is given up and tried again on a new one, within the grace', async () => {
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
  const open = (resume = null) => {
    const ui = new Proxy({
      resumable: (id, secret) => reconnect.remember(id, secret),
      dropped: () => reconnect.dropped(),
      failed: (kind) => { failures.push(kind); reconnect.failed(kind); },
      joined: () => reconnect.joined(),
    }, { get: (target, key) => (key in target ? target[key] : () => {}) });
    const session = new Session({ meetingId: 'm1', name: 'Alice', media, grid, chat: noop, ui, resume });
    sessions.push(session);
    session.start();
    return session;
  };
  reconnect = new Reconnect({ attempt: (resume) => open(resume), giveUp: (kind) => assert.fail(`gave up: ${kind}`) });
  // Every timer of the page on the test's clock, from the join on.
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const run = async (ms, until = () => false) => {
    for (let t = 0; t < ms && !until(); t += 50) { mock.timers.tick(50); await flush(); }
  };
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
