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
// the suite's. Only what is still pending once every test of the file (and its after
// hooks) has run is cleared; no test's verdict changes. Intervals are left alone: one
// left running still keeps the file from ending, which is noticed.
const pageTimers = new Set();
const setTimeoutOfNode = globalThis.setTimeout;
const clearTimeoutOfNode = globalThis.clearTimeout;
globalThis.setTimeout = function setTimeout(fn, ms, ...args) {
  const timer = setTimeoutOfNode(() => {
    pageTimers.delete(timer);
    fn(...args);
  }, ms);
  pageTimers.add(timer);
  return timer;
};
globalThis.clearTimeout = function clearTimeout(timer) {
  pageTimers.delete(timer);
  clearTimeoutOfNode(timer);
};
after(() => {
  for (const timer of pageTimers) clearTimeoutOfNode(timer);
  pageTimers.clear();
});
