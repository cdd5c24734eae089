// The browser globals every page module reads when it loads (i18n.js, storage.js), for
// the Node tests that load page modules: import this first, then set `document` and
// `window` as the test needs, then import the modules. Storage is in memory.
const area = () => {
  const m = new Map();
  return { getItem: (k) => (m.has(k) ? m.get(k) : null), setItem: (k, v) => m.set(k, String(v)), removeItem: (k) => m.delete(k) };
};
globalThis.Node = { ELEMENT_NODE: 1 };
globalThis.navigator = { languages: ['en'], language: 'en' };
globalThis.localStorage = area();
globalThis.sessionStorage = area();
