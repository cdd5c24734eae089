// A media connection that failed, an ICE restart that did not bring it back, and a
// websocket on a path that died without a word (a flaky Wi-Fi, a NAT that forgot the
// mapping): the page gives the websocket up and resumes at once. Closing it is no way
// to learn that it is gone: a close waits for the server's close frame, and on a dead
// path the browser reports the close only after its closing-handshake timeout (60 s in
// Chromium, net/websockets/websocket_channel.cc), when the server's grace (60 s from
// its own notice, at most 45 s after the path died) is nearly or wholly over.
//
// session.js and reconnect.js run here on stand-ins of the browser's objects; the
// websocket's close() does what a browser's does on a dead path: nothing, for now.
import { mock, test } from 'node:test';
import './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import './reconnect-page.mjs';
import { eventually } from './harness.mjs';

const sockets = [];
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor() {
    sockets.push(this);
    this.readyState = 0;
    this.sent = [];
    queueMicrotask(() => { this.readyState = 1; if (this.onopen) this.onopen(); });
  }
  send(text) { this.sent.push(JSON.parse(text)); }
  close() { this.readyState = 2; } // CLOSING: the close frame never gets an answer
};

const { Session } = await import('../static/js/session.js');
const { Reconnect } = await import('../static/js/reconnect.js');

test('a failed ICE restart on a dead path resumes at once, not after the browser gives up its close', async () => {
  const attempts = [];
  const reconnect = new Reconnect({ attempt: (resume) => attempts.push(resume), giveUp: () => assert.fail('gave up') });
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
  }, { get: (target, key) => (key in target ? target[key] : () => {}) });
  const media = {
    micOn: false, cameraOn: false, micMuted: false, micTrack: null, cameraTrack: null, screenOn: false,
    watchMicMuted: () => () => {}, stopAll() {}, stopScreen() {},
  };
  const session = new Session({ meetingId: 'm1', name: 'Alice', media, grid, chat: noop, ui });
  await session.start();
  await eventually(() => sockets.length === 1 && sockets[0].sent.some((m) => m.type === 'join'), 'the join');
  const ws = sockets[0];
  ws.onmessage({ data: JSON.stringify({ type: 'welcome', payload: { participantId: 'p-alice', e2ee: false, resumeSecret: 'y'.repeat(43), participants: [{ id: 'p-bob', name: 'Bob' }] } }) });
  await eventually(() => session.joined && session.subscriber, 'the subscribe connection');

  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    // The path dies: ICE gives up on the subscribe connection; the websocket says nothing.
    session.subscriber.pc.connectionState = 'failed';
    session.subscriber.pc.iceConnectionState = 'failed';
    reconnect.mediaFailed(session);
    assert.ok(ws.sent.some((m) => m.type === 'ice_restart'), 'no ICE restart asked for');
    // The restart brings nothing back within its time; the page resumes within seconds.
    for (let t = 0; t < 10000 && attempts.length === 0; t += 50) {
      mock.timers.tick(50);
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    assert.equal(attempts.length, 1, 'no resume 10 s after the media failed: the page waits for a close event that a dead path does not bring');
    assert.deepEqual(attempts[0], { participantId: 'p-alice', secret: 'y'.repeat(43) });
    assert.equal(session.ended, true);
  } finally {
    reconnect._stop();
    mock.timers.reset();
  }
});
