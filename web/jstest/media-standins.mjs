// Browser stand-ins for loading the media modules (media.js, controls.js, rules.js,
// prejoin.js, session.js, blur.js) in Node: capture devices whose answer a test may
// hold, a blur runtime whose load it releases, peer connections and a server. Import
// first, before any page module.
import './page-globals.mjs';
import assert from 'node:assert/strict';
import { eventually } from './harness.mjs';
import { liveRegion } from './live-region.mjs';

export const element = () => new Proxy({ hidden: false, play: () => Promise.resolve(), srcObject: null, value: '', textContent: '', dataset: {}, style: { setProperty() {} }, classList: { add() {}, remove() {}, toggle() {} } }, {
  get: (target, key) => (key in target ? target[key] : key === 'querySelector' ? () => element() : key === 'querySelectorAll' ? () => [] : () => {}),
});

// --- blur runtime: the script load is held until the test lets it go ---
let releaseScript;
export const scriptGate = new Promise((resolve) => { releaseScript = resolve; });
export const loadBlurRuntime = () => releaseScript();
const blurredTracks = [];
export { blurredTracks };

function fakeCanvas() {
  const ctx = new Proxy({}, { get: (t, k) => (k in t ? t[k] : () => {}), set: (t, k, v) => { t[k] = v; return true; } });
  return {
    width: 0, height: 0,
    getContext: () => ctx,
    captureStream: () => {
      const tr = new Track('video', 'blurred');
      blurredTracks.push(tr);
      return { getVideoTracks: () => [tr] };
    },
  };
}

globalThis.IntersectionObserver = class { observe() {} unobserve() {} disconnect() {} };
globalThis.ResizeObserver = globalThis.IntersectionObserver;
globalThis.MutationObserver = class { observe() {} disconnect() {} };
globalThis.DOMParser = class { parseFromString() { return { querySelector: () => element() }; } };
globalThis.requestAnimationFrame = () => 0;
globalThis.cancelAnimationFrame = () => {};
globalThis.document = {
  querySelectorAll: () => [], querySelector: () => element(), getElementById: () => null,
  addEventListener() {}, removeEventListener() {},
  createElement: (tag) => {
    if (tag === 'script') {
      const s = { listeners: {}, addEventListener(type, fn) { this.listeners[type] = fn; } };
      return s;
    }
    if (tag === 'video') {
      return { muted: false, srcObject: null, videoWidth: 1280, videoHeight: 720, play: () => Promise.resolve(), addEventListener() {} };
    }
    if (tag === 'canvas') return fakeCanvas();
    return element();
  },
  createElementNS: () => element(), createTextNode: () => ({}), documentElement: element(), body: element(),
  head: {
    append(s) {
      scriptGate.then(() => {
        globalThis.window.SelfieSegmentation = class {
          setOptions() {}
          async initialize() {}
          onResults(fn) { this.fn = fn; }
          async send() { this.fn({ segmentationMask: {} }); }
        };
        s.listeners.load();
      });
    },
  },
};
globalThis.window = {
  location: { protocol: 'https:', host: 'meet.example', origin: 'https://meet.example', hash: '', search: '', pathname: '/m/x' },
  localStorage, sessionStorage, addEventListener() {}, removeEventListener() {},
};
globalThis.MediaStream = class {
  constructor(tracks) { this.tracks = tracks; }
  getTracks() { return this.tracks; }
  getVideoTracks() { return this.tracks.filter((t) => t.kind === 'video'); }
  getAudioTracks() { return this.tracks.filter((t) => t.kind === 'audio'); }
};
globalThis.Audio = class { play() { return Promise.resolve(); } remove() {} };

// --- capture devices: each getUserMedia is answered when the test says so ---
export class Track extends EventTarget {
  constructor(kind, label) {
    super();
    this.kind = kind;
    this.label = label;
    this.readyState = 'live';
    this.enabled = true;
    this.muted = false;
  }
  stop() { this.readyState = 'ended'; }
  getSettings() { return { deviceId: this.label }; }
}
export const opened = []; // every capture track made
export const gum = { hold: false, waiting: [] };
let n = 0;
async function answer(constraints) {
  const tracks = [];
  if (constraints.audio) tracks.push(new Track('audio', `mic-${++n}`));
  if (constraints.video) tracks.push(new Track('video', `cam-${++n}`));
  opened.push(...tracks);
  return new MediaStream(tracks);
}
globalThis.navigator.mediaDevices = {
  getUserMedia: (c) => {
    if (!gum.hold) return answer(c);
    return new Promise((resolve) => gum.waiting.push(() => resolve(answer(c))));
  },
  getDisplayMedia: async () => new MediaStream([new Track('video', `screen-${++n}`)]),
  enumerateDevices: async () => [],
  addEventListener() {},
};
export const releaseGum = () => { const w = gum.waiting.splice(0); for (const f of w) f(); };

// --- peer connections (as in session-failclosed.test.mjs) ---
export const connections = [];
class Sender {
  constructor(pc, track) { this.pc = pc; this.track = typeof track === 'string' ? null : track; }
  createEncodedStreams() { return { readable: {}, writable: {} }; }
  replaceTrack(track) { this.track = track; return Promise.resolve(); }
  getParameters() { return { encodings: [] }; }
  setParameters() { return Promise.resolve(); }
  getStats() { return Promise.resolve(new Map()); }
}
globalThis.RTCRtpSender = Sender;
globalThis.RTCRtpReceiver = class {};
globalThis.RTCPeerConnection = class {
  constructor(config) { this.config = config; this.transceivers = []; this.signalingState = 'stable'; this.connectionState = 'new'; connections.push(this); }
  addTransceiver(trackOrKind, init) {
    const t = { mid: String(this.transceivers.length), direction: init.direction, currentDirection: null, sender: new Sender(this, trackOrKind), receiver: { track: { kind: 'audio' } } };
    this.transceivers.push(t);
    return t;
  }
  getTransceivers() { return this.transceivers; }
  getSenders() { return this.transceivers.map((t) => t.sender); }
  async setRemoteDescription() {}
  async createOffer() { return { type: 'offer', sdp: 'v=0' }; }
  async createAnswer() { return { type: 'answer', sdp: 'v=0' }; }
  async setLocalDescription(d) { this.localDescription = d; }
  async getStats() { return new Map(); }
  close() { this.closed = true; }
};
globalThis.Worker = class { constructor() { this.messages = []; } postMessage(m) { this.messages.push(m); } terminate() {} addEventListener() {} };

// --- the server ---
export const sent = [];
let socket = null;
globalThis.WebSocket = class {
  static OPEN = 1;
  constructor() { socket = this; this.readyState = 1; setTimeout(() => this.onopen && this.onopen(), 0); }
  send(text) {
    const m = JSON.parse(text);
    sent.push(m);
    // publish_offer is answered at once
    if (m.type === 'publish_offer') setTimeout(() => this.onmessage({ data: JSON.stringify({ type: 'publish_answer', ref: m.id, payload: { sdp: 'v=0' } }) }), 0);
  }
  close() {}
};
export const serverSays = (type, payload, ref) => socket.onmessage({ data: JSON.stringify({ type, payload, ...(ref ? { ref } : {}) }) });
/** dropSocket closes the current websocket as a link that dropped does (no goodbye), or with code. */
export const dropSocket = (code = 1006) => {
  const ws = socket;
  ws.readyState = 3;
  if (ws.onclose) ws.onclose({ code, reason: '', wasClean: false });
};

/**
 * dropAndResume: the link of page p's joined session drops (p.session, p.reconnect: the
 * tests' play of meeting.js's glue); check(before), if given, looks at the page at once,
 * the dropped session before; then the page's next attempt, a new Session, sends `resume`.
 * A Reconnect on a FakeClock (harness.mjs) has its backoff run as soon as it is armed,
 * its clock moved on by exactly that wait (250 ms to 3 s after quick drops); on the real
 * clock the test waits it out.
 */
export async function dropAndResume(p, check = null) {
  const before = p.session;
  sent.length = 0;
  dropSocket();
  assert.equal(p.reconnect.active, true, 'the page does not resume');
  if (check) check(before);
  const { clock } = p.reconnect;
  await eventually(() => {
    if (p.reconnect.timer && clock.runNext) clock.runNext();
    return p.session !== before && sent.some((m) => m.type === 'resume');
  }, 'the resume');
}

export const gridStandIn = () => new Proxy({ tiles: new Map() }, {
  get: (target, key) => {
    if (key in target) return target[key];
    if (key === 'ensure' || key === 'get') return () => ({ setTrack() {} });
    return () => () => {};
  },
});
export const uiStandIn = (extra = {}) => new Proxy(extra, {
  get: (target, key) => (key in target ? target[key] : key === 'dropped' ? undefined : () => {}),
});
export const noop = new Proxy({}, { get: () => () => {} });

/**
 * captureShown has the page's toasts and its live region write their texts into the
 * list it returns (in the order they were shown or said).
 */
export function captureShown() {
  const shown = [];
  const box = { append: (item) => shown.push(item.textContent), querySelectorAll: () => [] };
  const live = liveRegion({ said: shown });
  document.getElementById = (id) => (id === 'toasts' ? box : id === 'live' ? live : null);
  document.createElement = ((make) => (tag) => {
    if (tag !== 'div') return make(tag);
    const node = element();
    let text = '';
    return new Proxy(node, {
      get: (target, key) => (key === 'textContent' ? text : key === 'append' ? (...c) => { text += c.join(''); } : target[key]),
      set: (target, key, v) => { if (key === 'textContent') text = String(v); else target[key] = v; return true; },
    });
  })(document.createElement);
  return shown;
}
