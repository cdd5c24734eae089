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

window.conclaveTest = {
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
