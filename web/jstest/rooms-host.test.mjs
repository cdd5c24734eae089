// The host's Rooms card (rooms.js) as a school secretary uses it to prepare next week's
// meeting, against a small in-memory Rooms API: a date typed into the expiry field makes
// a one-off room (not a standing one), the keyboard focus is not thrown to the top of
// the page by a change, another host key never builds its rooms on the previous key's
// room secret, and a change made while the list is loading is shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byId, doc, page, tick, until, withRooms } from './rooms-page.mjs';

/** server answers the Rooms API from memory; hold() makes the next list wait for release(). */
function server() {
  const s = { rooms: [], requests: [], gate: null };
  s.hold = () => { let release; s.gate = new Promise((r) => { release = r; }); return release; };
  globalThis.fetch = async (path, { method, headers, body }) => {
    const req = { method, path, auth: headers.Authorization, body: body ? JSON.parse(body) : undefined };
    s.requests.push(req);
    const answer = (status, data) => ({ ok: status < 300, status, headers: { get: () => null }, json: async () => data });
    if (method === 'GET') {
      const snapshot = s.rooms.map((r) => ({ ...r }));
      if (s.gate) { const g = s.gate; s.gate = null; await g; }
      return answer(200, { rooms: snapshot });
    }
    const id = decodeURIComponent(path.split('/')[3] || '');
    const room = s.rooms.find((r) => r.id === id);
    if (method === 'POST' && path === '/api/rooms') {
      const r = { id: req.body.id, title: req.body.title, e2ee: true, settings: req.body.settings, passwordSet: !!req.body.password, expires: req.body.expires || undefined };
      s.rooms.push(r);
      return answer(201, { room: r });
    }
    if (!room) return answer(404, { error: 'no such room' });
    if (method === 'DELETE') { s.rooms = s.rooms.filter((r) => r !== room); return answer(204, null); }
    if (method === 'PATCH') {
      Object.assign(room, { settings: req.body.settings, expires: req.body.expires || undefined });
      if (req.body.title !== undefined) room.title = req.body.title;
      return answer(200, room);
    }
    if (path.endsWith('/rotate')) { room.id = req.body.id; room.title = req.body.title; return answer(200, { room }); }
    return answer(400, { error: '?' });
  };
  return s;
}


const { Rooms } = await import('../static/js/rooms.js');
const { roomKeys, newRoomId, newRootSecret, toLocalInput, fromLocalInput } = await import('../static/js/rooms-keys.js');

async function open({ rooms = 0, key = 'host-key', linkRk = true } = {}) {
  page();
  const s = server();
  const rk = linkRk ? newRootSecret() : '';
  await withRooms(s.rooms, rk, rooms);
  const state = { key };
  const made = new Rooms({ hostKey: () => state.key, rk });
  made.start();
  await until(() => byId('room-list').children.length === rooms && s.requests.length >= 1, 'the first list');
  return { s, rk, card: made, state };
}

const item = (id) => byId('room-list').querySelector(`li[data-id="${id}"]`);
const items = () => byId('room-list').children;

test('a date typed into the expiry field makes a room that ends then, not a standing one', async () => {
  const { s } = await open();
  const nextWeek = new Date(Date.now() + 7 * 24 * 3600 * 1000);
  nextWeek.setHours(18, 30, 0, 0);
  byId('room-title').value = 'Elternabend 9b';
  // She types the date into the field next to "Until", as people do, without first
  // clicking the small radio button in front of it.
  const field = byId('room-expires');
  field.value = toLocalInput(nextWeek);
  field.dispatch('input');
  field.dispatch('change');
  byId('room-form').dispatch('submit');
  await until(() => s.requests.some((r) => r.method === 'POST'), 'the create request');
  const made = s.requests.find((r) => r.method === 'POST').body;
  assert.equal(made.expires, fromLocalInput(toLocalInput(nextWeek)), 'the room was made standing although a date was typed');

  // The same in a room's edit form.
  await until(() => items().length === 1, 'the new room listed');
  const li = items()[0];
  li.querySelector('.room-edit').click();
  const form = li.querySelector('.room-edit-form');
  const later = new Date(nextWeek.getTime() + 24 * 3600 * 1000);
  const standing = byId('room-list').querySelector('.room-standing');
  standing.checked = true; // it was one-off; she had made it standing, now changes her mind
  const exp = form.querySelector('.room-expires');
  exp.value = toLocalInput(later);
  exp.dispatch('input');
  exp.dispatch('change');
  form.dispatch('submit');
  await until(() => s.requests.some((r) => r.method === 'PATCH'), 'the change request');
  assert.equal(s.requests.find((r) => r.method === 'PATCH').body.expires, fromLocalInput(toLocalInput(later)));
});

test('the keyboard focus stays with the room after creating, changing, rotating or deleting', async () => {
  const { s } = await open({ rooms: 3 });
  const confirm = async () => { await until(() => byId('confirm-dialog').open, 'the question'); byId('confirm-ok').click(); };

  // New links: the focus comes back to the same room's "New links" button.
  const secondId = s.rooms[1].id;
  const rotate = item(secondId).querySelector('.room-rotate');
  rotate.focus();
  rotate.click();
  await confirm();
  await until(() => !item(secondId) && items().length === 3, 'the rotated list');
  await until(() => doc.activeElement !== doc.body, 'focus placed');
  assert.ok(items()[1].contains(doc.activeElement), 'the focus left the rotated room');
  assert.ok(doc.activeElement.classList.contains('room-rotate'), `focus on ${doc.activeElement.className}`);

  // Save a change: the focus comes back to the room's "Change" button.
  const edit = items()[0].querySelector('.room-edit');
  edit.focus();
  edit.click();
  const save = items()[0].querySelector('.room-save');
  save.focus();
  items()[0].querySelector('.room-edit-form').dispatch('submit');
  await until(() => s.requests.some((r) => r.method === 'PATCH') && !items()[0].querySelector('.room-edit-form'), 'the changed list');
  await until(() => doc.activeElement !== doc.body, 'focus placed');
  assert.ok(items()[0].contains(doc.activeElement) && doc.activeElement.classList.contains('room-edit'), `after a change the focus is on ${doc.activeElement.tagName}.${doc.activeElement.className}`);

  // Delete: the focus goes to a neighbouring room, not to the top of the page.
  const del = items()[1].querySelector('.room-delete');
  del.focus();
  del.click();
  await confirm();
  await until(() => items().length === 2, 'the list without the room');
  await until(() => doc.activeElement !== doc.body, 'focus placed after delete');
  assert.ok(byId('room-list').contains(doc.activeElement), `after delete the focus is on ${doc.activeElement.tagName}.${doc.activeElement.className}`);

  // Create: the new room (at the end of the list) takes the focus, so its links are read next.
  const create = byId('btn-create-room');
  create.focus();
  byId('room-form').dispatch('submit');
  await until(() => items().length === 3, 'the new room listed');
  await until(() => items()[2].contains(doc.activeElement), 'the new room did not take the focus');
});

test('another host key does not build its rooms on the room secret of the key before', async () => {
  const { s, rk, card, state } = await open();
  assert.equal(byId('rk-new').hidden, true, 'the link carried rk: nothing to bookmark');
  // "Change key" (landing.js: rooms.reset()), and a colleague types her own key.
  state.key = '';
  card.reset();
  assert.ok(!byId('host-link').value.includes('host-key'), 'the previous host key stays in the page');
  state.key = 'colleague-key';
  await card.load();
  byId('room-form').dispatch('submit');
  await until(() => s.requests.some((r) => r.method === 'POST'), 'the create request');
  const made = s.requests.find((r) => r.method === 'POST');
  assert.equal(made.auth, 'Bearer colleague-key');
  const old = await roomKeys(rk, made.body.id);
  assert.notEqual(made.body.moderatorSecret, old.moderatorSecret, 'the colleague\'s room is derived from the first host\'s rk: its holder can make the moderator link');
  // She gets her own host link to bookmark, with her key and a new rk.
  assert.equal(byId('rk-new').hidden, false);
  assert.match(byId('host-link').value, /#host=colleague-key&rk=/);
  assert.ok(!byId('host-link').value.includes(rk));
});

test('a change made while the list is loading is shown when the loading is done', async () => {
  const { s, card } = await open({ rooms: 2 });
  const [gone] = s.rooms;
  const release = s.hold(); // the next list is slow (a busy server, a train's network)
  const loading = card.load();
  await until(() => s.requests.filter((r) => r.method === 'GET').length === 2, 'the slow list asked for');
  item(gone.id).querySelector('.room-delete').click();
  await until(() => byId('confirm-dialog').open, 'the question');
  byId('confirm-ok').click();
  await until(() => s.requests.some((r) => r.method === 'DELETE'), 'the delete');
  await tick();
  release();
  await loading;
  for (let i = 0; i < 50; i++) await tick();
  assert.equal(item(gone.id), null, 'the deleted room is still listed (its refresh was dropped while another list was loading)');
});

test('a host key typed without rk is gone from the page after "Change key"', async () => {
  const { card, state } = await open({ key: 'typed-key', linkRk: false });
  assert.equal(byId('rk-new').hidden, false, 'a made rk is shown to bookmark');
  assert.match(byId('host-link').value, /#host=typed-key&rk=/);
  state.key = '';
  card.reset();
  assert.equal(byId('host-link').value, '', 'the changed host key stays in the page (#host-link)');
});

test('a meeting made with "New meeting" is listed as such, not as a room this host link cannot read', async () => {
  const { s, card } = await open({ rooms: 1 });
  // POST /api/meetings keeps a one-off room with no title (signaling/api.go).
  s.rooms.push({ id: newRoomId(), title: '', e2ee: true, settings: { lobby: true }, passwordSet: false, expires: new Date(Date.now() + 3600e3).toISOString() });
  await card.load();
  const quick = items()[1];
  const { t } = await import('../static/js/i18n.js');
  assert.equal(quick.querySelector('.room-title').textContent, t('rooms.title-quick'));
  assert.notEqual(quick.querySelector('.room-title').textContent, t('rooms.title-unreadable'));
  assert.equal(quick.querySelector('.room-links-unknown').textContent, t('rooms.links-quick'));
  // A room of another rk still says its title cannot be read.
  const rk2 = newRootSecret();
  await withRooms(s.rooms, rk2, 1);
  await card.load();
  assert.equal(items()[2].querySelector('.room-title').textContent, t('rooms.title-unreadable'));
});

test('a refusal of another origin is not blamed on the number of rooms', async () => {
  const { card } = await open({ rooms: 1 });
  const { t } = await import('../static/js/i18n.js');
  const plain = globalThis.fetch;
  // A proxy that passes on its own Host: the server refuses every request with an Origin.
  globalThis.fetch = async (path, init) => (init.method === 'GET' ? plain(path, init)
    : { ok: false, status: 403, headers: { get: () => null }, json: async () => ({ error: 'cross-origin request refused' }) });
  const del = items()[0].querySelector('.room-delete');
  del.click();
  await until(() => byId('confirm-dialog').open, 'the question');
  byId('confirm-ok').click();
  await until(() => !byId('rooms-error').hidden, 'the error');
  assert.notEqual(byId('rooms-error').textContent, t('rooms.error.forbidden'), 'deleting a room was refused "because a host may keep only a limited number of rooms"');
  assert.match(byId('rooms-error').textContent, /403/);
  globalThis.fetch = plain;
  void card;
});
