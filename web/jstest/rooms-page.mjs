// The Rooms card's page for Node tests (rooms-host, rooms-rk): the mini DOM with what it
// lacks of forms, the card's elements and its confirmation dialog, and the helpers both
// tests wait and fill rooms with.
import './page-globals.mjs';
import { installMiniDOM, MiniElement } from './mini-dom.mjs';
import { eventually } from './harness.mjs';
import { roomKeys, encryptTitle, newRoomId } from '../static/js/rooms-keys.js';

export const doc = installMiniDOM();
globalThis.window.location = { origin: 'https://meet.example' };
globalThis.Element = MiniElement;

// What the mini DOM lacks of forms: value, checked (radios of one name exclude each
// other), reset(), select(), and a details element's open.
Object.defineProperty(MiniElement.prototype, 'value', {
  get() { return this._value ?? this.attributes.value ?? ''; },
  set(v) { this._value = String(v); },
  configurable: true,
});
Object.defineProperty(MiniElement.prototype, 'checked', {
  get() { return this._checked ?? ('checked' in this.attributes); },
  set(v) {
    this._checked = !!v;
    if (v && this.attributes.type === 'radio') {
      for (const o of doc.body.querySelectorAll('input')) {
        if (o !== this && o.attributes.type === 'radio' && o.attributes.name === this.attributes.name) o._checked = false;
      }
    }
  },
  configurable: true,
});
MiniElement.prototype.reset = function reset() { for (const n of this.descendants()) { delete n._value; delete n._checked; } };
MiniElement.prototype.select = function select() {};

// icons.js asks for '[data-icon]:not(svg)', which the mini DOM cannot parse.
const qsa = doc.querySelectorAll;
doc.querySelectorAll = (sel) => qsa(sel.replace(':not(svg)', '')).filter((n) => n.tagName !== 'SVG');

export const byId = (id) => doc.getElementById(id);
export function page() {
  doc.body.replaceChildren();
  doc.activeElement = doc.body;
  const add = (parent, tag, id) => { const n = doc.createElement(tag); if (id) n.setAttribute('id', id); parent.append(n); return n; };
  for (const id of ['btn-load-rooms', 'copy-host-link']) add(doc.body, 'button', id);
  add(doc.body, 'p', 'rooms-need-key');
  add(doc.body, 'p', 'rooms-key-missing').hidden = true;
  const rkNew = add(doc.body, 'div', 'rk-new');
  rkNew.hidden = true;
  add(rkNew, 'input', 'host-link');
  const body = add(doc.body, 'div', 'rooms-body');
  body.hidden = true;
  const details = add(body, 'details', 'room-new');
  add(details, 'summary');
  add(details, 'form', 'room-form');
  add(body, 'p', 'rooms-error');
  add(body, 'p', 'rooms-empty');
  add(body, 'ul', 'room-list');
  const dialog = add(doc.body, 'dialog', 'confirm-dialog');
  dialog.open = false;
  dialog.showModal = () => { dialog.open = true; };
  dialog.close = () => { if (!dialog.open) return; dialog.open = false; dialog.dispatch('close'); };
  for (const id of ['confirm-title', 'confirm-text']) add(dialog, 'p', id);
  for (const id of ['confirm-cancel', 'confirm-ok']) add(dialog, 'button', id);
}

export const tick = () => new Promise((r) => setTimeout(r, 0));

/**
 * until waits for cond, as every Node test does (harness.mjs eventually): it waited at
 * most 500 turns of the event loop, which is a time (each turn a timer of a millisecond
 * or more), and the room keys and titles it waits for come from WebCrypto, whose work
 * runs beside the event loop, so a loaded machine could fail a right page.
 */
export const until = (cond, what) => eventually(cond, what);

/** withRooms adds n rooms made on rk to list, with readable titles. */
export async function withRooms(list, rk, n) {
  for (let i = 0; i < n; i++) {
    const id = newRoomId();
    const keys = await roomKeys(rk, id);
    list.push({ id, title: await encryptTitle(keys.meetingSecret, `Raum ${i + 1}`), e2ee: true, settings: { lobby: true }, passwordSet: false });
  }
}
