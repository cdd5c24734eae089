// The meeting page against a server that lies (e2ee/FORMAT.md, "The server as the
// attacker"): a link that holds a key never joins, waits in a lobby of, or sends to a
// meeting the server calls unencrypted; a subscribe offer that comes before the
// welcome gets no connection, since one made before the page's decryption is in
// place would carry whatever the server sends; after the encryption fails, the
// subscribe connection goes and no new one is made; a track set aside for an id the
// server had not announced yet is not shown under that id once the server gave its
// receiver to someone else; an id the key schedule refuses (a lone surrogate: FORMAT.md,
// "Participant ids") is a roster warning, in the welcome or in a participant_joined.
//
// session.js runs here as in Chromium, on stand-ins of the browser's objects: a
// connection records its configuration, and a receiver of a connection made without
// `encodedInsertableStreams` cannot be piped (Chromium then decodes what comes).
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
const { discardWarmWorker } = await import('../static/js/e2ee-hooks.js');

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
  discardWarmWorker(); // the spare an earlier test's session loaded: not among this test's workers
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

test('a link with a key leaves a meeting the server welcomes it to without encryption', async () => {
  const { session, failures } = await start({ mic: true });
  serverSays('welcome', { participantId: 'p-alice', e2ee: false, participants: [{ id: 'p-bob', name: 'Bob' }] });
  await eventually(() => failures.length > 0, 'the failure');
  assert.deepEqual(failures, ['not_encrypted']);
  assert.equal(session.joined, false);
  session.sendChat?.('the merger is off');
  await tick(20);
  assert.ok(sent.some((m) => m.type === 'leave'), 'no leave sent');
  assert.deepEqual(sent.filter((m) => ['publish_offer', 'chat'].includes(m.type)), [], 'media or chat went to the server');
  assert.equal(connections.length, 0, 'a connection was made');
});

test('a link with a key does not wait in the lobby of a meeting without encryption', async () => {
  const { session, failures } = await start();
  serverSays('lobby', { e2ee: false, moderatorPresent: true });
  await eventually(() => failures.length > 0, 'the failure');
  assert.deepEqual(failures, ['not_encrypted']);
  assert.notEqual(session.phase, 'lobby');
  assert.ok(sent.some((m) => m.type === 'leave'), 'no leave sent');
});

test('a subscribe offer before the welcome gets no connection; after it, receivers are decrypted', async () => {
  const { session, failures } = await start();
  serverSays('subscribe_offer', { sdp: 'v=0', tracks: [{ mid: '0', participantId: 'p-bob', source: 'camera', kind: 'video' }] });
  await tick(20);
  assert.equal(connections.length, 0, 'a connection was made before the welcome');
  serverSays('welcome', { participantId: 'p-alice', e2ee: true, participants: [{ id: 'p-bob' }] });
  await eventually(() => session.joined && connections.length > 0, 'the subscribe connection');
  const sub = connections[0];
  assert.equal(sub.config.encodedInsertableStreams, true);
  serverSays('subscribe_offer', { sdp: 'v=0', tracks: [{ mid: '0', participantId: 'p-bob', source: 'camera', kind: 'video' }] });
  await eventually(() => sent.some((m) => m.type === 'subscribe_answer'), 'the answer');
  assert.equal(sub.transceivers[0].receiver.piped, true, 'the receiver is not piped to the decrypting worker');
  assert.deepEqual(failures, []);
});

test('after the encryption fails, the subscribe connection is closed and no new one is made', async () => {
  const { session } = await start();
  serverSays('welcome', { participantId: 'p-alice', e2ee: true, participants: [{ id: 'p-bob' }] });
  await eventually(() => session.joined && connections.length > 0, 'the subscribe connection');
  const sub = connections[0];
  session._e2eeFailed('the worker stopped');
  assert.equal(sub.closed, true, 'the subscribe connection is still open');
  serverSays('subscribe_offer', { sdp: 'v=0', tracks: [{ mid: '0', participantId: 'p-bob', source: 'camera', kind: 'video' }] });
  await tick(20);
  assert.equal(connections.length, 1, 'a new connection was made without decryption');
  assert.ok(!sent.some((m) => m.type === 'subscribe_answer'), 'an offer was answered');
});

test('a track set aside for a newcomer is not shown once its receiver carries someone else', async () => {
  const { session } = await start();
  serverSays('welcome', { participantId: 'p-alice', e2ee: true, participants: [{ id: 'p-bob' }] });
  await eventually(() => session.joined && connections.length > 0, 'the subscribe connection');
  const answers = () => sent.filter((m) => m.type === 'subscribe_answer').length;
  const routes = () => workers.flatMap((w) => w.messages).filter((m) => m.t === 'route');
  // The server offers mid 0 as Carol's camera before it announces Carol: set aside.
  serverSays('subscribe_offer', { sdp: 'v=0', tracks: [{ mid: '0', participantId: 'p-carol', source: 'camera', kind: 'video' }] });
  await eventually(() => answers() === 1, 'the first answer');
  // Then the same receiver (the same live track) as Bob's: decrypted as Bob's, shown as his.
  serverSays('subscribe_offer', { sdp: 'v=0', tracks: [{ mid: '0', participantId: 'p-bob', source: 'camera', kind: 'video' }] });
  await eventually(() => answers() === 2, 'the second answer');
  const track = connections[0].transceivers[0].receiver.track;
  assert.equal(shown.get('p-bob'), track);
  assert.equal(routes().at(-1).pid, 'p-bob');
  // Carol is announced: Bob's picture must not appear under her name.
  serverSays('participant_joined', { participant: { id: 'p-carol', role: 'participant', media: { camera: true } } });
  await tick(20);
  assert.notEqual(shown.get('p-carol'), track, "Bob's decrypted video is shown as Carol's");
  // An offer that still has mid 0 but names nobody on it: its frames go to nobody.
  serverSays('subscribe_offer', { sdp: 'v=0', tracks: [] });
  await eventually(() => answers() === 3, 'the third answer');
  assert.equal(shown.get('p-bob'), null);
  assert.equal(routes().at(-1).pid, null, 'a receiver named by no offer is still decrypted as Bob');
  assert.notEqual(shown.get('p-carol'), track);
});

test('a member the server announces only by an update, or under an id the key schedule refuses, is never listed', async () => {
  const { session } = await start();
  serverSays('welcome', { participantId: 'p-alice', e2ee: true, participants: [{ id: 'p-bob' }] });
  await eventually(() => session.joined && session.keys, 'the welcome');
  serverSays('participant_updated', { participant: { id: 'p-ghost', role: 'participant', media: { camera: true, mic: true } } });
  serverSays('participant_joined', { participant: { id: 'p-nul\u0000x', role: 'participant' } });
  serverSays('participant_updated', { participant: { id: 'p-bob', role: 'participant', media: { camera: true } } });
  serverSays('participant_joined', { participant: { id: 'p-carol', role: 'participant' } });
  await eventually(() => session.everyone().some((p) => p.id === 'p-carol'), 'Carol listed');
  const listed = session.everyone().map((p) => p.id).filter((id) => id !== 'p-alice').sort();
  assert.deepEqual(listed, ['p-bob', 'p-carol'], 'only the welcome\'s and the announced members');
  assert.equal(session.everyone().find((p) => p.id === 'p-bob').media.camera, true, 'an update of a listed member still counts');
  await eventually(() => session.keys.stateOf('p-carol') === 'pending', 'the key schedule to know every listed member');
});

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
