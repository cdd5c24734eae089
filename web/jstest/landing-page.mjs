// The landing page's mini DOM for Node tests (landing-rooms, landing-host-link): what it
// lacks of forms, and every #id the page asks for, made on first use as index.html has
// it. A test sets window.location and history, then imports landing.js.
import './page-globals.mjs';
import { installMiniDOM, MiniElement } from './mini-dom.mjs';

export const doc = installMiniDOM();
Object.defineProperty(MiniElement.prototype, 'value', {
  get() { return this._value ?? this.attributes.value ?? ''; },
  set(v) { this._value = String(v); },
  configurable: true,
});
Object.defineProperty(MiniElement.prototype, 'checked', {
  get() { return this._checked ?? ('checked' in this.attributes); },
  set(v) { this._checked = !!v; },
  configurable: true,
});
MiniElement.prototype.select = function select() {};
const qs = doc.querySelector;
doc.querySelector = (sel) => {
  const found = qs(sel);
  if (found || !/^#[\w-]+$/.test(sel)) return found;
  const tag = { '#room-form': 'form', '#create-form': 'form', '#host-key': 'input' }[sel] || 'div';
  const n = doc.createElement(tag);
  n.setAttribute('id', sel.slice(1));
  if (sel === '#rooms-body') n.hidden = true;
  doc.body.append(n);
  return n;
};
// icons.js asks for '[data-icon]:not(svg)', which the mini DOM cannot parse.
const qsa = doc.querySelectorAll;
doc.querySelectorAll = (sel) => qsa(sel.replace(':not(svg)', ''));
