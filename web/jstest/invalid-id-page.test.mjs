// The meeting page against a server that announces a participant id the key schedule
// refuses (a lone surrogate: e2ee/FORMAT.md, "Participant ids"): never listed, and a
// roster warning whether it came in the welcome or in a participant_joined.
//
// session.js runs here as in Chromium, on stand-ins of the browser's objects.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { eventually, tick } from './harness.mjs';

const element = () => new Proxy({ hidden: false, dataset: {}, classList: { add() {}, remove() {}, toggle() {} } }, {
  get: (target, key) => (key in target ? target[key] : () => {}),
});
const storage = () => ({ getItem: () => null, setItem() {}, removeItem() {} });
globalThis.navigator = { languages: ['en'], language: 'en' };
globalThis.localStorage = storage();
globalThis.sessionStorage = storage();
globalThis.Node = { ELEMENT_NODE: 1 };
globalThis.IntersectionObserver = class { observe() {} unobserve() {} disconnect() {} };
globalThis.ResizeObserver = globalThis.IntersectionObserver;
globalThis.DOMParser = class { parseFromString() { return { querySelector: () => element() }; } };
globalThis.document = {
  querySelectorAll: () => [], querySelector: () => element(), getElementById: () => null,
  addEventListener() {}, removeEventListener() {}, createElement: () => element(),
  createTextNode: () => ({}), documentElement: element(), body: element(),
};
globalThis.window = { location: { protocol: 'https:', host: 'meet.example', origin: 'https://meet.example', hash: '' }, localStorage, sessionStorage, addEventListener() {}, removeEventListener() {} };
globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };
globalThis.Audio = class { play() { return Promise.resolve(); } remove() {} };

const connections = [];
class Receiver {
  constructor(pc, kind) {
    this.pc = pc;
    this.track = { kind, readyState: 'live', id: `remote-${kind}` };
    this.piped = false;
  }
  createEncodedStreams() {
    if (!this.pc.config.encodedInsertableStreams) throw new Error('InvalidStateError: encoded streams not requested');
    this.piped = true;
    return { readable: {}, writable: {} };
  }
}
class Sender {
  constructor(pc, track) {
    this.pc = pc;
    this.track = typeof track === 'string' ? null : track;
    this.piped = false;
  }
  createEncodedStreams() {
    if (!this.pc.config.encodedInsertableStreams) throw new Error('InvalidStateError: encoded streams not requested');
    this.piped = true;
    return { readable: {}, writable: {} };
  }
  replaceTrack(track) { this.track = track; return Promise.resolve(); }
  getParameters() { return { encodings: [] }; }
  setParameters() { return Promise.resolve(); }
}
globalThis.RTCRtpSender = Sender;
globalThis.RTCRtpReceiver = Receiver;
globalThis.RTCPeerConnection = class {
  constructor(config) {
    this.config = config;
    this.transceivers = [];
    this.signalingState = 'stable';
    this.connectionState = 'new';
    this.closed = false;
    connections.push(this);
  }
  addTransceiver(trackOrKind, init) {
    const t = { mid: String(this.transceivers.length), direction: init.direction, currentDirection: null, sender: new Sender(this, trackOrKind), receiver: new Receiver(this, 'audio') };
    this.transceivers.push(t);
    return t;
  }
  getTransceivers() { return this.transceivers; }
  getSenders() { return this.transceivers.map((t) => t.sender); }
  async setRemoteDescription(d) {
    if (d.type !== 'offer') return;
    // A browser keeps a transceiver, its receiver and its track per mid across offers.
    if (this.transceivers.some((t) => t.mid === '0' && t.currentDirection === 'recvonly')) return;
    const t = { mid: '0', currentDirection: 'recvonly', receiver: new Receiver(this, 'video') };
    this.transceivers = [t];
    if (this.ontrack) this.ontrack({ transceiver: t, receiver: t.receiver });
  }
  async createOffer() { return { type: 'offer', sdp: 'v=0' }; }
  async createAnswer() { return { type: 'answer', sdp: 'v=0' }; }
  async setLocalDescription(d) { this.localDescription = d; }
  async getStats() { return new Map(); }
  close() { this.closed = true; }
};
const workers = [];
globalThis.Worker = class {
  constructor() {
    workers.push(this);
    this.messages = [];
    queueMicrotask(() => this.onmessage && this.onmessage({ data: { t: 'ready' } }));
  }
  postMessage(m) { this.messages.push(m); }
  terminate() {}
};
// The server: a websocket whose messages the test writes.
let socket = null;
const sent = [];
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor() {
    socket = this;
    this.readyState = 1;
    setTimeout(() => this.onopen && this.onopen(), 0);
  }
  send(text) { sent.push(JSON.parse(text)); }
  close() {}
};
const serverSays = (type, payload) => socket.onmessage({ data: JSON.stringify({ type, payload }) });

const { Session } = await import('../static/js/session.js');
const { MeetingCrypto } = await import('../static/js/e2ee/session-keys.js');

// The grid records the track each participant's camera tile shows.
const shown = new Map(); // participant id -> track
const tileOf = (pid) => ({ get track() { return shown.get(pid) ?? null; }, setTrack: (track) => shown.set(pid, track) });
const grid = new Proxy({ tiles: new Map() }, {
  get: (target, key) => {
    if (key in target) return target[key];
    if (key === 'ensure') return ({ participantId }) => tileOf(participantId);
    if (key === 'get') return (participantId) => tileOf(participantId);
    return () => () => {};
  },
});
const noop = new Proxy({}, { get: () => () => {} });

const sessions = [];
after(() => {
  for (const s of sessions) if (!s.ended) s.end({});
});

/** start opens a session for a link that holds a key; failures are recorded. */
async function start({ mic = false } = {}) {
  connections.length = 0;
  workers.length = 0;
  sent.length = 0;
  shown.clear();
  const failures = [];
  const ui = new Proxy({ failed: (kind) => failures.push(kind) }, {
    get: (target, key) => (key in target ? target[key] : key === 'dropped' ? undefined : () => {}),
  });
  const media = {
    micOn: mic, cameraOn: false, micMuted: false, micTrack: mic ? { kind: 'audio', id: 'mic' } : null, cameraTrack: null, screenOn: false,
    watchMicMuted: () => () => {}, stopAll() {}, stopScreen() {},
  };
  const crypto = MeetingCrypto.fromSecret(new Uint8Array(16).fill(7));
  const session = new Session({ meetingId: 'm1', name: 'Alice', media, grid, chat: noop, ui, e2ee: { crypto, api: 'legacy' } });
  await session.start();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  sessions.push(session);
  return { session, failures };
}

test('a participant_joined under a lone-surrogate id is a roster warning, never a member', async () => {
  const { session } = await start();
  serverSays('welcome', { participantId: 'p-alice', e2ee: true, participants: [{ id: 'p-bob' }] });
  await eventually(() => session.joined && session.keys, 'the welcome');
  await session.keysStarted;
  const before = session.e2eeInfo().warnings.count;
  serverSays('participant_joined', { participant: { id: 'p-x\uD800', role: 'participant' } });
  serverSays('participant_joined', { participant: { id: 'p-carol', role: 'participant' } });
  await eventually(() => session.everyone().some((p) => p.id === 'p-carol'), 'Carol listed');
  await tick(20);
  assert.equal(session.everyone().some((p) => p.id === 'p-x\uD800'), false, 'not listed');
  assert.deepEqual(session.e2eeInfo().warnings.kinds, { 'invalid-id': 1 }, 'the invalid id is counted');
  assert.ok(session.e2eeInfo().warnings.count > before);
});

test('the same id in the welcome is a warning too', async () => {
  const { session } = await start();
  serverSays('welcome', { participantId: 'p-alice', e2ee: true, participants: [{ id: 'p-bob' }, { id: 'p-x\uD800' }] });
  await eventually(() => session.joined && session.keys, 'the welcome');
  await session.keysStarted;
  assert.deepEqual(session.e2eeInfo().warnings.kinds, { 'invalid-id': 1 });
});
