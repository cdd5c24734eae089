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
//                                      after the production transform; null when the
//                                      worker did not answer in time (ask again)
//   window.conclaveTest.exportKeys()   async → {participantId: {index: b64url raw key}},
//                                      own and received
//
// Both answer for the latest E2EE worker of the page ({plain: [], cipher: []} and {}
// when there is none).
//
//   window.conclaveTest.notifications()   [{title, body}] every Notification the page made
//   window.conclaveTest.setHidden(bool)   document.hidden from now on (null: the browser's)
//   window.conclaveTest.audioOutputPeak() loudest RMS level any AudioContext sent to the
//                                         speakers so far (0 … 1)
//   window.conclaveTest.resetFrameHashes()  async: forget the hashes recorded so far and
//                                      record the next 600 camera frames (e.g. after a
//                                      camera switch); true once done, null when the
//                                      worker did not answer in time (ask again)
//
// It also adds two devices to the browser's own (fake) ones, so a test can switch to a
// camera and a microphone whose picture and sound it can tell apart:
//
//   camera      "conclave-test-camera": a canvas.captureStream() of a flat blue field
//               (rgb(0, 64, 255)) with a small white square moving across it, 640×360
//   microphone  "conclave-test-mic": a steady 660 Hz tone (WebAudio oscillator)
//
// enumerateDevices lists them after the browser's devices; getUserMedia with
// deviceId {exact: …} of one of them returns its track (the rest of a request that asks
// for both kinds goes to the browser).

import { discardWarmWorker, prewarmMediaWorker } from '/static/js/e2ee-hooks.js';
import { scriptURL } from '/static/js/script-urls.js';

const E2EE_WORKER = '/static/js/e2ee/worker.js';
const TEST_WORKER = '/static/test/e2ee-worker.js';
const QUERY_TIMEOUT_MS = 5000;

const PageWorker = window.Worker;
let latest = null;
let nextId = 1;

class TestWorker extends PageWorker {
  constructor(url, options) {
    const swap = new URL(String(url), window.location.href).pathname === E2EE_WORKER;
    super(swap ? scriptURL(TEST_WORKER) : url, options); // the CSP's Trusted Types
    this.e2ee = swap;
  }

  // The latest worker a session took: the first message a session sends its worker
  // names the session ('self'); a spare loaded for the next session has none yet
  // (e2ee-hooks.js prewarmMediaWorker).
  postMessage(msg, ...rest) {
    if (this.e2ee && msg && msg.t === 'self') latest = this;
    return super.postMessage(msg, ...rest);
  }
}
window.Worker = TestWorker;
// The meeting page started its E2EE worker on the pre-join screen, before these hooks
// came: start it again, as the test worker.
if (discardWarmWorker()) prewarmMediaWorker();

// query asks the latest E2EE worker a session took for 'hashes' or 'keys'; null when it
// does not answer.
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
  async resetFrameHashes() {
    return query('reset');
  },
  async frameHashes() {
    if (!latest) return { plain: [], cipher: [] };
    // A worker busy with a machine's load may answer late: null tells the test to ask
    // again, where an empty answer would read as "no frames recorded".
    return query('hashes');
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

// ---------------------------------------------------------------- test devices

const TEST_CAMERA = 'conclave-test-camera';
const TEST_MIC = 'conclave-test-mic';
const devices = navigator.mediaDevices;
const pageEnumerate = devices.enumerateDevices.bind(devices);
const pageGetUserMedia = devices.getUserMedia.bind(devices);

function fakeInfo(kind, deviceId, label) {
  return { kind, deviceId, label, groupId: 'conclave-test', toJSON() { return { kind, deviceId, label }; } };
}

devices.enumerateDevices = async () => [
  ...(await pageEnumerate()),
  fakeInfo('videoinput', TEST_CAMERA, 'Test camera (blue)'),
  fakeInfo('audioinput', TEST_MIC, 'Test microphone (tone)'),
];

// wantsTest tells whether a constraint asks for the test device id exactly.
function wantsTest(constraint, id) {
  const d = constraint && typeof constraint === 'object' ? constraint.deviceId : undefined;
  if (!d) return false;
  if (typeof d === 'string') return d === id;
  return d.exact === id || (Array.isArray(d.exact) && d.exact.includes(id));
}

function testCameraTrack() {
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 360;
  const g = canvas.getContext('2d');
  let x = 0;
  const draw = () => {
    g.fillStyle = 'rgb(0, 64, 255)';
    g.fillRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = '#fff';
    g.fillRect(x, 150, 40, 40);
    x = (x + 8) % (canvas.width - 40);
  };
  draw();
  const track = canvas.captureStream(30).getVideoTracks()[0];
  const timer = setInterval(draw, 33);
  track.addEventListener('ended', () => clearInterval(timer));
  const stop = track.stop.bind(track);
  track.stop = () => {
    clearInterval(timer);
    stop();
  };
  return track;
}

let toneContext = null;
// The state of the test microphone's AudioContext ('none' before it is used).
window.conclaveTest.toneState = () => (toneContext ? toneContext.state : 'none');

function testMicTrack() {
  toneContext = toneContext || new AudioContext();
  toneContext.resume().catch(() => {});
  const osc = toneContext.createOscillator();
  osc.frequency.value = 660;
  const gain = toneContext.createGain();
  gain.gain.value = 0.5;
  const dest = toneContext.createMediaStreamDestination();
  osc.connect(gain).connect(dest);
  osc.start();
  const track = dest.stream.getAudioTracks()[0];
  const stop = track.stop.bind(track);
  track.stop = () => {
    osc.stop();
    stop();
  };
  return track;
}

devices.getUserMedia = async (constraints = {}) => {
  const camera = wantsTest(constraints.video, TEST_CAMERA);
  const mic = wantsTest(constraints.audio, TEST_MIC);
  if (!camera && !mic) return pageGetUserMedia(constraints);
  const rest = { audio: mic ? false : constraints.audio || false, video: camera ? false : constraints.video || false };
  const stream = rest.audio || rest.video ? await pageGetUserMedia(rest) : new MediaStream();
  if (camera) stream.addTrack(testCameraTrack());
  if (mic) stream.addTrack(testMicTrack());
  return stream;
};
