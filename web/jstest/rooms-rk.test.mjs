// The host's room secret (rk) on the Rooms card (rooms.js) when the host key changes on
// one page: a key typed again finds its rk again (its rooms stay readable, a made rk not
// yet bookmarked is not lost), a room is stored with the key its rk belongs to, and the
// previous key's rooms do not come back into the page from a list still loading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byId, page, tick, until, withRooms } from './rooms-page.mjs';

/** server: the Rooms API of several hosts (by key; another key gets 401); hold() delays the next request of a method. */
function server(keys) {
  const s = { rooms: {}, requests: [], gates: {} };
  for (const k of keys) s.rooms[k] = [];
  s.hold = (method) => { let release; s.gates[method] = new Promise((r) => { release = r; }); return release; };
  globalThis.fetch = async (path, { method, headers, body }) => {
    const key = headers.Authorization.replace(/^Bearer /, '');
    const req = { method, path, key, body: body ? JSON.parse(body) : undefined };
    s.requests.push(req);
    const answer = (status, data) => ({ ok: status < 300, status, headers: { get: () => null }, json: async () => data });
    const mine = s.rooms[key];
    const gate = s.gates[method];
    if (gate) { s.gates[method] = null; await gate; }
    if (!mine) return answer(401, { error: 'unknown host key' });
    if (method === 'GET') return answer(200, { rooms: mine.map((r) => ({ ...r })) });
    if (method === 'POST' && path === '/api/rooms') {
      const r = { id: req.body.id, title: req.body.title, e2ee: true, settings: req.body.settings, passwordSet: false };
      mine.push(r);
      return answer(201, { room: r });
    }
    return answer(404, { error: 'no such room' });
  };
  return s;
}

const settle = async () => { for (let i = 0; i < 30; i++) await tick(); };

const { Rooms } = await import('../static/js/rooms.js');
const { roomKeys, newRootSecret } = await import('../static/js/rooms-keys.js');

const items = () => [...byId('room-list').children];
const readable = () => items().filter((li) => li.querySelector('.room-moderator')).length;

async function open({ key, rk, rooms = 0 }) {
  page();
  const s = server(['host-key', 'colleague-key']);
  if (rk) await withRooms(s.rooms[key], rk, rooms);
  const state = { key };
  const card = new Rooms({ hostKey: () => state.key, rk });
  card.start();
  await until(() => s.requests.length >= 1 && items().length === rooms, 'the first list');
  // landing.js "Change key" then a key typed and the rooms loaded.
  const typeKey = async (k) => { state.key = ''; card.reset(); state.key = k; await card.load(); };
  return { s, card, state, typeKey };
}

test('the host key of the link typed again after another key finds the link\'s rk: its rooms stay readable', async () => {
  const rk = newRootSecret();
  const { typeKey } = await open({ key: 'host-key', rk, rooms: 2 });
  assert.equal(readable(), 2);
  await typeKey('colleague-key'); // or a typo, refused
  await typeKey('host-key');
  assert.equal(items().length, 2);
  assert.equal(readable(), 2, 'the host\'s own rooms are "(title unreadable)" under their own host key: the page made it a new rk');
  assert.equal(byId('rk-new').hidden, true, 'a host link with another rk is offered to bookmark for the key whose link carries its rk');
});

test('a key typed on a page without rk, then another, then the first again keeps the rk its rooms were made on', async () => {
  const { s, card, typeKey, state } = await open({ key: 'host-key', rk: '' });
  const first = byId('host-link').value;
  assert.match(first, /#host=host-key&rk=/);
  byId('room-form').dispatch('submit');
  await until(() => items().length === 1, 'the room made');
  assert.equal(readable(), 1);
  await typeKey('colleague-key');
  assert.match(byId('host-link').value, /#host=colleague-key&rk=/);
  assert.ok(!byId('host-link').value.includes(first.split('rk=')[1]));
  await typeKey('host-key');
  assert.equal(byId('host-link').value, first, 'the host link to bookmark changed its rk: the room made a minute ago can no longer show its links');
  assert.equal(readable(), 1);
  void s; void card; void state;
});

test('a room is stored with the host key its rk belongs to, not with a key typed while it is being made', async () => {
  const rk = newRootSecret();
  const { s, state } = await open({ key: 'host-key', rk });
  byId('room-form').dispatch('submit');
  state.key = 'colleague-key'; // typed while the room's keys are being derived
  await until(() => s.requests.some((r) => r.method === 'POST'), 'the create request');
  const made = s.requests.find((r) => r.method === 'POST');
  const fromLinkRk = await roomKeys(rk, made.body.id);
  if (made.key === 'colleague-key') {
    assert.notEqual(made.body.moderatorSecret, fromLinkRk.moderatorSecret, 'the colleague\'s room is derived from the first host link\'s rk');
  } else {
    assert.equal(made.body.moderatorSecret, fromLinkRk.moderatorSecret);
  }
});

test('after "Change key" the previous key\'s rooms do not come back from a list that was still loading', async () => {
  const rk = newRootSecret();
  const { s, card, state } = await open({ key: 'host-key', rk, rooms: 2 });
  const release = s.hold('GET');
  const loading = card.load();
  await until(() => s.requests.filter((r) => r.method === 'GET').length === 2, 'the slow list');
  state.key = '';
  card.reset(); // "Change key": a colleague will type hers
  release();
  await loading;
  await settle();
  assert.equal(items().length, 0, 'the previous host\'s rooms, moderator links included, are back in the page');
});

test('a key typed over another (no "Change key") does not leave the previous key\'s rooms on the page', async () => {
  const rk = newRootSecret();
  const { state, card } = await open({ key: 'host-key', rk, rooms: 2 });
  state.key = 'wrong-key'; // typed into #host-key; the server refuses it
  await card.load();
  assert.equal(byId('rooms-error').hidden, false);
  assert.equal(items().length, 0, 'the rooms and moderator links of the key before stay under a refused key');
});
