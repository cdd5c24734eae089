// A small DOM for Node tests of code that builds and re-renders elements and moves the
// keyboard focus (people-focus, chat-announce, dialog-focus .test.mjs): elements with
// attributes, dataset, classes, children, click listeners, focus() (of what a browser
// can focus), contains() and querySelector(All) for simple selectors (tag, #id, .class,
// [data-x="y"], :not(.class), descendants, children (>), a leading :scope).
// Import page-globals.mjs first; installMiniDOM() sets `document` and friends.

const camel = (name) => name.replace(/-([a-z])/g, (_, c) => c.toUpperCase());

export class MiniElement {
  constructor(tag, doc) {
    this.tagName = tag.toUpperCase();
    this.ownerDocument = doc;
    this.attributes = {};
    this.dataset = {};
    this.children = [];
    this.parentNode = null;
    this.listeners = {};
    this._text = '';
    this.style = { setProperty() {} };
    this.isConnected = true;
  }
  get className() { return this.attributes.class || ''; }
  set className(v) { this.attributes.class = String(v); }
  get classList() {
    const names = () => this.className.split(/\s+/).filter(Boolean);
    return {
      contains: (c) => names().includes(c),
      add: (c) => { if (!names().includes(c)) this.className = [...names(), c].join(' '); },
      remove: (c) => { this.className = names().filter((n) => n !== c).join(' '); },
      toggle: (c, on = !names().includes(c)) => { if (on) this.classList.add(c); else this.classList.remove(c); },
    };
  }
  get id() { return this.attributes.id || ''; }
  get disabled() { return 'disabled' in this.attributes; }
  set disabled(v) { if (v) this.attributes.disabled = ''; else delete this.attributes.disabled; }
  get hidden() { return 'hidden' in this.attributes; }
  set hidden(v) { if (v) this.attributes.hidden = ''; else delete this.attributes.hidden; }
  get textContent() { return this._text + this.children.map((c) => c.textContent).join(''); }
  set textContent(v) { this.children = []; this._text = String(v); }
  setAttribute(k, v) {
    if (k.startsWith('data-')) this.dataset[camel(k.slice(5))] = String(v);
    else this.attributes[k] = String(v);
  }
  getAttribute(k) {
    if (k.startsWith('data-')) return this.dataset[camel(k.slice(5))] ?? null;
    return Object.hasOwn(this.attributes, k) ? this.attributes[k] : null;
  }
  hasAttribute(k) { return this.getAttribute(k) !== null; }
  removeAttribute(k) {
    if (k.startsWith('data-')) delete this.dataset[camel(k.slice(5))];
    else delete this.attributes[k];
    // As Chromium: an element that can no longer be focused loses the focus it had (a
    // row or list whose tabindex went while it held the focus: the focus fell to the body).
    if (this.ownerDocument.activeElement === this && !this.focusable()) this.ownerDocument.activeElement = this.ownerDocument.body;
  }
  addEventListener(type, fn, options = {}) {
    const once = typeof options === 'object' && options && options.once;
    const run = once ? (event) => { this.removeEventListener(type, run); fn(event); } : fn;
    run.original = fn;
    (this.listeners[type] ||= []).push(run);
  }
  removeEventListener(type, fn) {
    this.listeners[type] = (this.listeners[type] || []).filter((f) => f !== fn && f.original !== fn);
  }
  dispatch(type, event = {}) { for (const fn of [...(this.listeners[type] || [])]) fn({ target: this, preventDefault() {}, stopPropagation() {}, ...event }); }
  click() { if (!this.disabled) this.dispatch('click'); }
  focus() {
    if (!this.isConnected || !this.inDocument() || !this.focusable()) return;
    const doc = this.ownerDocument;
    const was = doc.activeElement;
    if (was === this) return;
    // As a browser: the element that had the focus gets its blur with the body active,
    // then this one has it.
    doc.activeElement = doc.body;
    if (was && was !== doc.body && was.dispatch) was.dispatch('blur');
    doc.activeElement = this;
  }
  // As a browser: a control not disabled, a link, or anything with a tabindex, none of it
  // hidden or inert (a test passed focusing a row a browser would not focus, or a hidden button).
  focusable() {
    for (let n = this; n instanceof MiniElement; n = n.parentNode) if (n.hidden || n.inert) return false;
    if (this.hasAttribute('tabindex')) return true;
    if (['BUTTON', 'INPUT', 'SELECT', 'TEXTAREA'].includes(this.tagName)) return !this.disabled;
    return this.tagName === 'A' && this.hasAttribute('href');
  }
  inDocument() { let n = this; while (n.parentNode) n = n.parentNode; return n === this.ownerDocument.body; }
  append(...nodes) {
    for (const n of nodes) {
      const node = typeof n === 'string' ? this.ownerDocument.createTextNode(n) : n;
      if (node.parentNode) node.remove();
      node.parentNode = this;
      this.children.push(node);
    }
  }
  prepend(...nodes) { const rest = this.children; this.children = []; this.append(...nodes); this.children.push(...rest); }
  before(...nodes) {
    const p = this.parentNode;
    const i = p.children.indexOf(this);
    for (const n of nodes) { if (n.parentNode) n.remove(); n.parentNode = p; }
    p.children.splice(i, 0, ...nodes);
  }
  after(...nodes) {
    const p = this.parentNode;
    const i = p.children.indexOf(this);
    for (const n of nodes) { if (n.parentNode) n.remove(); n.parentNode = p; }
    p.children.splice(i + 1, 0, ...nodes);
  }
  remove() {
    if (!this.parentNode) return;
    this.parentNode.children = this.parentNode.children.filter((c) => c !== this);
    this.parentNode = null;
    this._dropFocus();
  }
  replaceChildren(...nodes) {
    for (const c of this.children) { c.parentNode = null; c._dropFocus?.(); }
    this.children = [];
    this._text = '';
    this.append(...nodes);
  }
  _dropFocus() {
    const doc = this.ownerDocument;
    // A browser moves the focus of a removed element to the body.
    if (doc.activeElement && (doc.activeElement === this || this.contains(doc.activeElement)) && !doc.activeElement.inDocument()) doc.activeElement = doc.body;
  }
  contains(node) { for (let n = node; n; n = n.parentNode) if (n === this) return true; return false; }
  *descendants() { for (const c of this.children) { if (c instanceof MiniElement) { yield c; yield* c.descendants(); } } }
  querySelectorAll(selector) {
    const parts = selector.split(',').map((s) => s.trim());
    return [...this.descendants()].filter((n) => parts.some((s) => {
      // ':scope > x': the children that are x; ':scope x': the descendants, as without it.
      if (s.startsWith(':scope >')) return n.parentNode === this && matchesCompound(n, s.slice(8).trim());
      return matches(n, s.startsWith(':scope ') ? s.slice(7).trim() : s, this);
    }));
  }
  querySelector(selector) { return this.querySelectorAll(selector)[0] || null; }
}

function matchesCompound(node, compound) {
  const m = compound.match(/^([a-zA-Z0-9]*)(?:#([\w-]+))?((?:\.[\w-]+)*)((?:\[[^\]]+\])*)((?::not\(\.[\w-]+\))*)$/);
  if (!m) throw new Error(`mini-dom: selector ${compound} not supported`);
  if (m[1] && node.tagName !== m[1].toUpperCase()) return false;
  if (m[2] && node.id !== m[2]) return false;
  m.splice(2, 1);
  for (const c of m[2].split('.').filter(Boolean)) if (!node.classList.contains(c)) return false;
  for (const [, name, value] of m[3].matchAll(/\[([\w-]+)(?:="([^"]*)")?\]/g)) {
    const v = node.getAttribute(name);
    if (v === null || (value !== undefined && v !== value)) return false;
  }
  for (const [, c] of m[4].matchAll(/:not\(\.([\w-]+)\)/g)) if (node.classList.contains(c)) return false;
  return true;
}

function matches(node, selector, root) {
  // 'a b': b within a; 'a > b': b a child of a.
  const parts = selector.replace(/\s*>\s*/g, ' > ').trim().split(/\s+/);
  if (!matchesCompound(node, parts.at(-1))) return false;
  let n = node.parentNode;
  for (let i = parts.length - 2; i >= 0; i--) {
    if (parts[i] === '>') {
      i--;
      if (!n || n === root || !(n instanceof MiniElement && matchesCompound(n, parts[i]))) return false;
    } else {
      while (n && n !== root && !(n instanceof MiniElement && matchesCompound(n, parts[i]))) n = n.parentNode;
      if (!n || n === root) return false;
    }
    n = n.parentNode;
  }
  return true;
}

/** installMiniDOM makes `document` a mini DOM (with a body) and returns it. */
export function installMiniDOM() {
  const doc = {
    activeElement: null,
    createElement: (tag) => new MiniElement(tag, doc),
    createElementNS: (ns, tag) => new MiniElement(tag, doc),
    createTextNode: (text) => ({ textContent: String(text), parentNode: null, remove() {} }),
    addEventListener() {}, removeEventListener() {},
    querySelectorAll: (s) => doc.body.querySelectorAll(s),
    querySelector: (s) => doc.body.querySelector(s),
    getElementById: (id) => [...doc.body.descendants()].find((n) => n.id === id) || null,
  };
  doc.documentElement = new MiniElement('html', doc);
  doc.body = new MiniElement('body', doc);
  doc.activeElement = doc.body;
  globalThis.document = doc;
  globalThis.window = { localStorage, sessionStorage, addEventListener() {}, removeEventListener() {} };
  globalThis.DOMParser = class { parseFromString() { return { querySelector: () => ({ namespaceURI: 'http://www.w3.org/2000/svg' }) }; } };
  globalThis.CSS = { escape: (s) => String(s) };
  globalThis.MutationObserver = class { observe() {} disconnect() {} };
  return doc;
}

/** append makes a <tag> (with the id, if given) at the end of doc's body and returns it. */
export function append(doc, tag, id) {
  const node = doc.createElement(tag);
  if (id) node.setAttribute('id', id);
  doc.body.append(node);
  return node;
}

/** region makes a <div> with the id, and aria-live when live is given; it is not put in the page. */
export function region(doc, id, live) {
  const node = doc.createElement('div');
  node.setAttribute('id', id);
  if (live) node.setAttribute('aria-live', live);
  return node;
}

/**
 * toastStacks makes meeting.html's #toasts with its three stacks, the toasts' live
 * regions (dom.js toast and quietToast), and returns it; it is not put in the page.
 */
export function toastStacks(doc) {
  const box = region(doc, 'toasts');
  box.append(region(doc, 'toasts-alert', 'assertive'), region(doc, 'toasts-polite', 'polite'), region(doc, 'toasts-quiet', 'off'));
  return box;
}

/** Elements whose aria-label ARIA 1.2 prohibits without a role: a screen reader reads their text. */
const GENERIC = new Set(['SPAN', 'DIV', 'P', 'LI', 'UL', 'OL']);

/**
 * spoken is what a screen reader reads of node as it goes through the page: its text,
 * without what is aria-hidden or hidden (not displayed); an aria-label stands for the text only on an element that
 * may be named (a button, an element with a role), not on a span or a div without a
 * role, where ARIA 1.2 prohibits it and not every screen reader reads it.
 */
export function spoken(node) {
  return withoutIsolates(spokenRaw(node));
}

function spokenRaw(node) {
  if (!(node instanceof MiniElement)) return node.textContent;
  if (node.getAttribute('aria-hidden') === 'true' || node.hidden) return '';
  const label = node.getAttribute('aria-label');
  if (label !== null && (node.getAttribute('role') || !GENERIC.has(node.tagName))) return label;
  return node._text + node.children.map(spokenRaw).join('');
}

/**
 * seen is the text of node the eye sees: without what is visually hidden (.sr-only), and
 * without the isolates a sentence puts around a name (i18n-core.js), which draw nothing
 * (nor are they heard: spoken).
 */
export function seen(node) {
  return withoutIsolates(seenRaw(node));
}

function seenRaw(node) {
  if (!(node instanceof MiniElement)) return node.textContent;
  if (node.classList.contains('sr-only') || node.hidden) return '';
  return node._text + node.children.map(seenRaw).join('');
}

/** withoutIsolates is text without FSI and PDI (U+2068, U+2069), which neither draw nor sound. */
export function withoutIsolates(text) {
  return String(text ?? '').replace(/[\u2068\u2069]/gu, '');
}
