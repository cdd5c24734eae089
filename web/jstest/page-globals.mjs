// The browser globals every page module reads when it loads (i18n.js, storage.js), for
// the Node tests that load page modules: import this first, then set `document` and
// `window` as the test needs, then import the modules. Storage is in memory.
import { after } from 'node:test';

const area = () => {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
};
globalThis.Node = { ELEMENT_NODE: 1 };
globalThis.navigator = { languages: ['en'], language: 'en' };
globalThis.localStorage = area();
globalThis.sessionStorage = area();

// The page's timers (setTimeout: dom.js toast's fade, the announcer's hold, a session's
// heartbeat; tests put a FakeClock's in its place where they time them) end with the
// test file, as a tab's end when it is closed. Node waits for every pending timer
// before a file's process ends, and a toast shown by a file's last test held it 4 to 12
// s after its verdict (a heartbeat 15 s): 5 s of every such file's time, a third of
// the suite's. So what is still pending once every test of the file (and its after
// hooks) has run is run now, in the order it was due, not waited for: a page timer that
// throws (a toast's fade-out calling what is not there) still fails its file, as it did
// when the file waited for it ("generated asynchronous activity after the test ended").
// What those arm is run too, for FLUSH_ROUNDS rounds; what a timer that keeps arming
// itself (a heartbeat) has pending then is cleared. Intervals are left alone: one left
// running still keeps the file from ending, which is noticed.
const FLUSH_ROUNDS = 4;
const pageTimers = new Map(); // timer -> {at, run}
const setTimeoutOfNode = globalThis.setTimeout;
const clearTimeoutOfNode = globalThis.clearTimeout;
globalThis.setTimeout = function setTimeout(fn, ms, ...args) {
  const run = () => {
    pageTimers.delete(timer);
    fn(...args);
  };
  const timer = setTimeoutOfNode(run, ms);
  pageTimers.set(timer, { at: performance.now() + (Number(ms) || 0), run });
  return timer;
};
globalThis.clearTimeout = function clearTimeout(timer) {
  pageTimers.delete(timer);
  clearTimeoutOfNode(timer);
};
after(async () => {
  const thrown = [];
  for (let round = 0; round < FLUSH_ROUNDS && pageTimers.size > 0; round++) {
    const due = [...pageTimers].sort((x, y) => x[1].at - y[1].at);
    for (const [timer, { run }] of due) {
      if (!pageTimers.has(timer)) continue; // cleared by one that ran before it
      clearTimeoutOfNode(timer);
      try {
        run();
      } catch (err) {
        thrown.push(err);
      }
    }
    await new Promise((resolve) => setImmediate(resolve)); // what they started goes on
  }
  for (const timer of pageTimers.keys()) clearTimeoutOfNode(timer);
  pageTimers.clear();
  // The after hook fails, and so does the file.
  if (thrown.length > 0) throw new AggregateError(thrown, `a page timer pending at the file's end threw: ${thrown[0]}`);
});
