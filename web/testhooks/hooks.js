// TEST ONLY. Served at /static/test/hooks.js only by a server built for tests
// (web.Handler with Options.TestHooks, set by the Go browser tests); a production
// server answers 404 and no production page or script refers to it.
//
// A browser test imports it into a meeting page before joining:
//
//   await import('/static/test/hooks.js')
//
// From then on the page's E2EE worker (/static/js/e2ee/worker.js) is started as the
// test worker (/static/test/e2ee-worker.js), which runs the production worker
// unchanged and also records frame hashes and the raw keys it is given. It adds
//
//   window.conclaveTest.frameHashes()  async → {plain: [hex], cipher: [hex]}: SHA-256 of
//                                      the camera's first 600 video frames before and
//                                      after the production transform
//   window.conclaveTest.exportKeys()   async → {participantId: {index: b64url raw key}},
//                                      own and received
//
// Both answer for the latest E2EE worker of the page ({plain: [], cipher: []} and {}
// when there is none or it stopped).
//
//   window.conclaveTest.notifications()   [{title, body}] every Notification the page made
//   window.conclaveTest.setHidden(bool)   document.hidden from now on (null: the browser's)
//   window.conclaveTest.audioOutputPeak() loudest RMS level any AudioContext sent to the
//                                         speakers so far (0 … 1)

const E2EE_WORKER = '/static/js/e2ee/worker.js';
const TEST_WORKER = '/static/test/e2ee-worker.js';
const QUERY_TIMEOUT_MS = 5000;

const PageWorker = window.Worker;
let latest = null;
let nextId = 1;

class TestWorker extends PageWorker {
  constructor(url, options) {
    const swap = new URL(String(url), window.location.href).pathname === E2EE_WORKER;
    super(swap ? TEST_WORKER : url, options);
    if (swap) latest = this;
  }
}
window.Worker = TestWorker;

// query asks the latest E2EE worker for 'hashes' or 'keys'; null when it does not answer.
function query(what) {
  const worker = latest;
  if (!worker) return Promise.resolve(null);
  const id = nextId++;
  return new Promise((resolve) => {
    const done = (value) => {
      clearTimeout(timer);
      worker.removeEventListener('message', onMessage);
      resolve(value);
    };
    const onMessage = (event) => {
      const msg = event.data || {};
      if (msg.t === 'test-reply' && msg.id === id) done(msg.value);
    };
    const timer = setTimeout(() => done(null), QUERY_TIMEOUT_MS);
    worker.addEventListener('message', onMessage);
    worker.postMessage({ t: 'test-query', id, what });
  });
}

// Knock alerts (knock-alert.js). A page-level Notification that records what it would
// show (permission "default" until the page asks, then "granted"), a switch for
// document.hidden (a headless tab is never hidden), and a tap on every AudioContext's
// output: the loudest RMS level that reached the speakers since the hooks loaded.
const shownNotifications = [];
class TestNotification {
  static permission = 'default';
  static async requestPermission() {
    TestNotification.permission = 'granted';
    return 'granted';
  }
  constructor(title, options = {}) {
    shownNotifications.push({ title: String(title), body: String(options.body || '') });
    this.onclick = null;
  }
  close() {}
}
window.Notification = TestNotification;

let hidden = null; // null: the browser's own answer
const docHidden = Object.getOwnPropertyDescriptor(Document.prototype, 'hidden');
const docVisibility = Object.getOwnPropertyDescriptor(Document.prototype, 'visibilityState');
Object.defineProperty(document, 'hidden', { configurable: true, get() { return hidden === null ? docHidden.get.call(this) : hidden; } });
Object.defineProperty(document, 'visibilityState', {
  configurable: true,
  get() { return hidden === null ? docVisibility.get.call(this) : (hidden ? 'hidden' : 'visible'); },
});

let outputPeak = 0;
const PageAudioContext = window.AudioContext;
if (PageAudioContext) {
  window.AudioContext = class TestAudioContext extends PageAudioContext {
    constructor(...args) {
      super(...args);
      this.tap = this.createGain();
      const analyser = this.createAnalyser();
      analyser.fftSize = 2048;
      this.tap.connect(super.destination);
      this.tap.connect(analyser);
      const buf = new Float32Array(analyser.fftSize);
      setInterval(() => {
        analyser.getFloatTimeDomainData(buf);
        let sum = 0;
        for (const v of buf) sum += v * v;
        outputPeak = Math.max(outputPeak, Math.sqrt(sum / buf.length));
      }, 20);
    }
    get destination() {
      return this.tap;
    }
  };
}

window.conclaveTest = {
  notifications: () => shownNotifications.slice(),
  setHidden(value) {
    hidden = value;
    document.dispatchEvent(new Event('visibilitychange'));
  },
  audioOutputPeak: () => outputPeak,
  async frameHashes() {
    return (await query('hashes')) || { plain: [], cipher: [] };
  },
  async exportKeys() {
    const keys = (await query('keys')) || {};
    const self = window.conclave && window.conclave.participantId;
    if (keys.self && self) {
      keys[self] = keys.self;
      delete keys.self;
    }
    return keys;
  },
};
