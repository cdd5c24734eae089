// The browser's objects that session.js and reconnect.js touch, as the tests of the page's
// reconnect (heartbeat, a dead path, a websocket that stalls) stand them in: a DOM whose
// elements take any call, observers that observe nothing, a window whose fetch (the
// page's probe before it reconnects) is answered: the server is there, over a new path,
// and peer connections that answer every offer and never connect. Each test brings its
// own WebSocket, the part it drives.
// Import after page-globals.mjs and before any page module.
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
  fetch: async () => ({ ok: true, status: 200 }),
};
globalThis.MediaStream = class { constructor(tracks) { this.tracks = tracks; } };
globalThis.Audio = class { play() { return Promise.resolve(); } remove() {} };
globalThis.RTCPeerConnection = class {
  constructor(config) {
    this.config = config;
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
