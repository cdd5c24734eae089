// The host's Rooms card (rooms.js), from the Rooms card audit: Save and "New links" send
// one request however often they are pressed while it is under way (disabled, busy, the
// focus kept); "Change" and "Invitation" say whether they are open (aria-expanded,
// aria-controls); "Show my rooms" without a host key says so and puts the focus in the
// key field (it did nothing); and a refused creation tells the host's room limit from a
// request the server took for another site's by the code of the refusal (both are 403).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byId, doc, page, tick, until, withRooms } from './rooms-page.mjs';
import { MiniElement } from './mini-dom.mjs';

// As browsers do (the focus fixup rule), a focused button that is disabled loses the focus.
const disabledProp = Object.getOwnPropertyDescriptor(MiniElement.prototype, 'disabled');
Object.defineProperty(MiniElement.prototype, 'disabled', {
  get: disabledProp.get,
  set(v) { disabledProp.set.call(this, v); if (v && doc.activeElement === this) doc.activeElement = doc.body; },
  configurable: true,
});

/** server answers the Rooms API from memory; gate(method) holds that method's next answer until released. */
function server() {
  const s = { rooms: [], requests: [], gates: {}, refuse: {} };
  s.gate = (method) => { let release; s.gates[method] = new Promise((r) => { release = r; }); return release; };
  globalThis.fetch = async (path, { method = 'GET', headers = {}, body } = {}) => {
    const req = { method, path, auth: headers.Authorization, body: body ? JSON.parse(body) : undefined };
    s.requests.push(req);
    const answer = (status, data) => ({ ok: status < 300, status, headers: { get: () => null }, json: async () => data });
    if (path === '/api/notice') return answer(200, {});
    if (s.gates[method]) { const g = s.gates[method]; delete s.gates[method]; await g; }
    if (s.refuse[method]) { const [status, data] = s.refuse[method]; delete s.refuse[method]; return answer(status, data); }
    if (method === 'GET') return answer(200, { rooms: s.rooms.map((r) => ({ ...r })) });
    const id = decodeURIComponent(path.split('/')[3] || '');
    const room = s.rooms.find((r) => r.id === id);
    if (method === 'POST' && path === '/api/rooms') {
      const r = { id: req.body.id, title: req.body.title, e2ee: true, settings: req.body.settings, passwordSet: false };
      s.rooms.push(r);
      return answer(201, { room: r });
    }
    if (!room) return answer(404, { error: 'no such room', code: 'not_found' });
    if (method === 'PATCH') { room.settings = req.body.settings; return answer(200, room); }
    if (path.endsWith('/rotate')) { room.id = req.body.id; room.title = req.body.title; return answer(200, { room }); }
    return answer(400, { error: '?', code: 'invalid' });
  };
  return s;
}

const { Rooms } = await import('../static/js/rooms.js');
const { newRootSecret } = await import('../static/js/rooms-keys.js');
const { t } = await import('../static/js/i18n.js');

async function open({ rooms = 0, key = 'host-key' } = {}) {
  page();
  const s = server();
  const rk = newRootSecret();
  await withRooms(s.rooms, rk, rooms);
  const state = { key, asked: 0 };
  const card = new Rooms({ hostKey: () => state.key, rk, askKey: () => { state.asked++; } });
  card.start();
  if (key) await until(() => byId('room-list').children.length === rooms, 'the first list');
  return { s, card, state };
}
const items = () => byId('room-list').children;
const count = (s, method, end = '') => s.requests.filter((r) => r.method === method && r.path.endsWith(end)).length;

test('Save sends one change however often it is pressed meanwhile, and keeps the focus', async () => {
  const { s } = await open({ rooms: 1 });
  items()[0].querySelector('.room-edit').click();
  const form = items()[0].querySelector('.room-edit-form');
  const save = form.querySelector('.room-save');
  save.focus();
  const release = s.gate('PATCH');
  s.refuse.PATCH = [400, { error: 'bad', code: 'invalid' }];
  form.dispatch('submit');
  await until(() => count(s, 'PATCH') === 1, 'the change sent');
  assert.equal(save.disabled, true, 'Save can be pressed again while its change is under way');
  assert.equal(save.getAttribute('aria-busy'), 'true');
  save.click();
  form.dispatch('submit'); // Enter in a field
  form.dispatch('submit');
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(count(s, 'PATCH'), 1, 'a second change was sent while the first was under way');
  release(); // refused: the form stays, Save usable and focused again
  await until(() => !save.disabled, 'Save enabled again');
  assert.equal(save.getAttribute('aria-busy'), null);
  assert.equal(doc.activeElement, save, `the focus went to ${doc.activeElement.tagName}`);
  assert.equal(form.querySelector('.room-edit-error').hidden, false);
});

test('"New links" rotates once however often it is pressed while the rotation is under way', async () => {
  const { s } = await open({ rooms: 2 });
  const first = s.rooms[0].id;
  const rotate = items()[0].querySelector('.room-rotate');
  rotate.focus();
  const release = s.gate('POST');
  rotate.click();
  await until(() => byId('confirm-dialog').open, 'the question');
  byId('confirm-ok').click();
  await until(() => count(s, 'POST', '/rotate') === 1, 'the rotation sent');
  assert.equal(rotate.disabled, true, '"New links" can be pressed again while its rotation is under way');
  assert.equal(rotate.getAttribute('aria-busy'), 'true');
  rotate.dispatch('click'); // a click that reaches it anyway (the list drawn again meanwhile)
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(byId('confirm-dialog').open, false, 'asked again while the first rotation is under way');
  assert.equal(count(s, 'POST', '/rotate'), 1);
  release();
  await until(() => items().length === 2 && !byId('room-list').querySelector(`li[data-id="${first}"]`), 'the rotated list');
  assert.equal(count(s, 'POST', '/rotate'), 1);
  await until(() => doc.activeElement !== doc.body, 'the focus placed');
  assert.ok(doc.activeElement.classList.contains('room-rotate') && items()[0].contains(doc.activeElement), 'the focus left the rotated room');

  // A refused rotation leaves the button usable, with the focus.
  const again = items()[0].querySelector('.room-rotate');
  again.focus();
  s.refuse.POST = [429, { error: 'too fast', code: 'too_fast' }];
  again.click();
  await until(() => byId('confirm-dialog').open, 'the question');
  byId('confirm-ok').click();
  await until(() => !byId('rooms-error').hidden, 'the refusal');
  await until(() => !again.disabled, 'the button enabled again');
  assert.equal(doc.activeElement, again);
});

test('"Change" and "Invitation" say whether they are open, and what they opened', async () => {
  await open({ rooms: 1 });
  const li = items()[0];
  for (const [button, box] of [['.room-edit', '.room-edit-form'], ['.room-invite', '.room-invitation']]) {
    const b = li.querySelector(button);
    assert.equal(b.getAttribute('aria-expanded'), 'false', `${button} does not say it is closed`);
    b.click();
    await until(() => li.querySelector(box), `${box} open`);
    assert.equal(b.getAttribute('aria-expanded'), 'true', `${button} does not say it is open`);
    const opened = li.querySelector(box);
    assert.ok(opened.id, `${box} has no id`);
    assert.equal(b.getAttribute('aria-controls'), opened.id);
    b.click();
    await tick();
    assert.equal(li.querySelector(box), null);
    assert.equal(b.getAttribute('aria-expanded'), 'false');
    assert.equal(b.getAttribute('aria-controls'), null, 'it names a box that is gone');
  }
});

test('"Show my rooms" without a host key says so and asks for the key', async () => {
  const { s, state } = await open({ key: '' });
  byId('btn-load-rooms').click();
  await tick();
  assert.equal(byId('rooms-key-missing').hidden, false, '"Show my rooms" did nothing');
  assert.equal(byId('rooms-key-missing').textContent, t('rooms.need-key.missing'));
  assert.equal(state.asked, 1, 'the host key field was not offered');
  assert.equal(count(s, 'GET'), 0);
  state.key = 'host-key';
  byId('btn-load-rooms').click();
  await until(() => count(s, 'GET') === 1, 'the list');
  assert.equal(byId('rooms-key-missing').hidden, true);
});

test('a refused room says whether the host has too many rooms or the request came from another site', async () => {
  const { s } = await open();
  for (const [code, key] of [['room_limit', 'rooms.error.forbidden'], ['cross_origin', 'rooms.error.cross-origin']]) {
    s.refuse.POST = [403, { error: 'refused', code }];
    byId('room-form').dispatch('submit');
    await until(() => !byId('room-form-error').hidden, 'the refusal');
    assert.equal(byId('room-form-error').textContent, t(key), code);
    byId('room-form-error').hidden = true;
  }
  assert.notEqual(t('rooms.error.cross-origin'), t('rooms.error.forbidden'));
});

test('Create makes one room however often the form is sent while it is under way', async () => {
  const { s } = await open();
  const release = s.gate('POST');
  byId('room-form').dispatch('submit');
  await until(() => count(s, 'POST') === 1, 'the room sent');
  byId('room-form').dispatch('submit'); // Enter in the title field
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(count(s, 'POST'), 1, 'a second room was made');
  release();
  await until(() => items().length === 1, 'the room listed');
});

// The server tells its two 429s apart by a code (PROTOCOL.md, "Errors of the HTTP API"):
// too many wrong host keys from this address, or rooms and links made faster than the
// host's budget, where no attempt was wrong. The card said "Too many attempts" for both.
// A 503 (the host key could not be checked just now) says the server is busy, not its
// bare status.
test('a refused room says whether the host made rooms too fast, guessed keys too often, or the server was busy', async () => {
  const { s } = await open();
  for (const [status, code, key] of [
    [429, 'too_fast', 'common.too-fast'],
    [429, 'too_many_attempts', 'common.too-many-attempts'],
    [503, 'unavailable', 'rooms.error.unavailable'],
  ]) {
    s.refuse.POST = [status, { error: 'refused', code }];
    byId('room-form').dispatch('submit');
    await until(() => !byId('room-form-error').hidden, 'the refusal');
    assert.equal(byId('room-form-error').textContent, t(key, { count: 1 }), code);
    byId('room-form-error').hidden = true;
    await until(() => !byId('btn-create-room').disabled, 'Create usable again');
  }
  assert.notEqual(t('common.too-fast', { count: 1 }), t('common.too-many-attempts', { count: 1 }));
});

// Create was disabled while its room was under way and enabled again only after the
// server's answer: when anything before it failed (deriving the room's keys, sealing
// its title: WebCrypto refusing), the button stayed disabled until the page was loaded
// again.
test('Create is usable again when making the room fails before it is sent', async () => {
  const { s, card } = await open();
  const subtle = globalThis.crypto.subtle;
  subtle.deriveBits = async () => { throw new Error('WebCrypto refused'); };
  try {
    await assert.rejects(card.create(), /WebCrypto refused/);
  } finally {
    delete subtle.deriveBits; // the prototype's again
  }
  assert.equal(byId('btn-create-room').disabled, false, 'Create stays disabled after a failure before the request');
  assert.equal(count(s, 'POST'), 0);
  await card.create(); // and it makes the room
  await until(() => items().length === 1, 'the room listed');
});
