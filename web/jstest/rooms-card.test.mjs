// The host's room cards (rooms.js) say when a room is not end-to-end encrypted: its links
// then carry no key, which the host copies and sends. The server's list says whether a
// room is encrypted (only the host turns it off, with `conclave room`); a server that
// lists the host's encrypted room as unencrypted is seen on its card.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';

// A minimal DOM: elements keep their children, attributes and values.
class El {
  constructor(tag) {
    this.tagName = tag;
    this.children = [];
    this.attrs = {};
    this.dataset = {};
    this.style = { setProperty() {} };
    this.classList = { add() {}, remove() {}, toggle() {} };
    this.hidden = false;
    this.value = '';
    this.textContent = '';
  }
  append(...c) { this.children.push(...c); }
  prepend(...c) { this.children.unshift(...c); }
  before() {}
  after() {}
  replaceChildren(...c) { this.children = c; }
  setAttribute(k, v) { this.attrs[k] = v; if (k === 'value') this.value = v; }
  getAttribute(k) { return this.attrs[k]; }
  removeAttribute(k) { delete this.attrs[k]; }
  addEventListener() {}
  querySelector() { return null; }
  querySelectorAll() { return []; }
  all() { return [this, ...this.children.flatMap((c) => (c instanceof El ? c.all() : []))]; }
}
const byId = new Map();
globalThis.document = {
  createElement: (t) => new El(t), createElementNS: (_, t) => new El(t), createTextNode: (s) => ({ text: s }),
  querySelector: (sel) => { if (!byId.has(sel)) byId.set(sel, new El('div')); return byId.get(sel); },
  querySelectorAll: () => [], getElementById: () => null, addEventListener() {}, documentElement: new El('html'),
};
globalThis.DOMParser = class { parseFromString() { return { querySelector: () => ({ namespaceURI: 'svg' }) }; } };
globalThis.window = { location: { origin: 'https://meet.example' } };

const { Rooms } = await import('../static/js/rooms.js');
const { roomKeys, encryptTitle, newRoomId, newRootSecret } = await import('../static/js/rooms-keys.js');
const { t } = await import('../static/js/i18n.js');

test('a room card says when its room is not end-to-end encrypted, and only then', async () => {
  const rk = newRootSecret();
  const listed = [];
  for (const e2ee of [true, false]) {
    const id = newRoomId();
    const keys = await roomKeys(rk, id);
    listed.push({ id, title: await encryptTitle(keys.meetingSecret, `Board meeting ${e2ee}`), e2ee, settings: { lobby: true } });
  }
  globalThis.fetch = async () => ({ ok: true, status: 200, json: async () => ({ rooms: listed }), headers: { get: () => null } });
  const rooms = new Rooms({ hostKey: () => 'host-key', rk });
  await rooms.load();
  const cards = document.querySelector('#room-list').children;
  assert.equal(cards.length, 2);
  const read = (card) => ({
    facts: card.all().find((e) => String(e.className).includes('room-facts')).textContent,
    link: card.all().find((e) => e.tagName === 'input' && e.className === 'room-participant').value,
  });
  const [on, off] = cards.map(read);
  const noE2EE = t('rooms.fact.no-e2ee');
  assert.notEqual(noE2EE, 'rooms.fact.no-e2ee', 'the fact has a text in the catalogue');
  assert.ok(!on.facts.includes(noE2EE), `an encrypted room's card: ${on.facts}`);
  assert.match(on.link, /#k=/);
  assert.ok(off.facts.includes(noE2EE), `an unencrypted room's card does not say so: ${off.facts}`);
  assert.doesNotMatch(off.link, /#k=/);
});
