// Reconnecting (web/static/js/reconnect-core.js) and the key schedule after a resume
// (SessionKeys.peerResumed): a member that comes back with a new identity key is
// verified again and exchanges keys with everyone; an id that left is not revived.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { parseResume, backoffMs, formatMedia, parseMedia, reachable } from '../static/js/reconnect-core.js';
import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { FakeMedia, KeyRelay } from './harness.mjs';
import { canRead, frameOf } from './session-room.mjs';


test('the kept secret parses only in its own shape', () => {
  const secret = 'Zk3q0xT8v2mWJ4pLr7cN1aYb9sE6dHf5uG0iKoQzXw8';
  assert.deepEqual(parseResume(`p-5f2c9a0e1b7d4c33.${secret}`), { participantId: 'p-5f2c9a0e1b7d4c33', secret });
  for (const bad of [null, undefined, 5, '', '.', 'p-1.', `.${secret}`, 'p-1.short', `p 1.${secret}`, `p-1.${secret}!`]) {
    assert.equal(parseResume(bad), null, String(bad));
  }
});

test('the reachability probe: a HEAD that is never cached; only a 2xx answer is "reachable"', async () => {
  const asked = [];
  const answer = (res) => (url, init) => { asked.push({ url, init }); return res instanceof Error ? Promise.reject(res) : Promise.resolve(res); };
  assert.equal(await reachable(answer({ ok: true, status: 200 }), '/static/js/reconnect.js'), true);
  assert.equal(asked[0].url, '/static/js/reconnect.js');
  assert.equal(asked[0].init.method, 'HEAD');
  assert.equal(asked[0].init.cache, 'no-store');
  assert.equal(asked[0].init.credentials, 'omit');
  assert.ok(asked[0].init.signal instanceof AbortSignal);
  for (const res of [{ ok: false, status: 502 }, { ok: false, status: 404 }, new TypeError('NetworkError'), null, {}]) {
    assert.equal(await reachable(answer(res), '/x'), false, JSON.stringify(res));
  }
  // A request that hangs (a dead network) is aborted and counts as unreachable.
  let aborted = false;
  const hang = (url, init) => new Promise((resolve, reject) => {
    init.signal.addEventListener('abort', () => { aborted = true; reject(new DOMException('aborted', 'AbortError')); });
  });
  assert.equal(await reachable(hang, '/x', 5), false);
  assert.equal(aborted, true);
});

test('the kept microphone and camera state round-trips and nothing else parses', () => {
  for (const mic of [false, true]) {
    for (const camera of [false, true]) assert.deepEqual(parseMedia(formatMedia({ mic, camera })), { mic, camera });
  }
  for (const bad of [null, undefined, 1, '', 'mic=1', 'mic=2;camera=0', 'camera=0;mic=1', 'mic=1;camera=0;x', ' mic=1;camera=1']) {
    assert.equal(parseMedia(bad), null, String(bad));
  }
});

test('backoff starts quickly, grows, and stays bounded', () => {
  const mid = () => 0.5;
  assert.ok(backoffMs(0, mid) < 500);
  for (let n = 1; n < 50; n++) assert.ok(backoffMs(n, mid) >= backoffMs(n - 1, mid));
  assert.ok(backoffMs(1000, () => 1) <= 6000);
});

/** Room relays key messages between members in order (a fake server). */
class Room extends KeyRelay {
  constructor(secret) {
    super();
    this.secret = secret;
  }
  send(from, to, data) {
    this.relay(from, to, data);
  }
  async connect(id, { resumed = false } = {}) {
    const meeting = await MeetingCrypto.fromSecret(this.secret);
    const media = new FakeMedia();
    const keys = new SessionKeys({ meeting, media, send: (to, data) => this.send(id, to, data) });
    return this.admit(id, { id, keys, media }, { resumed });
  }
}

test('a resumed member with a new identity is verified again and keys flow both ways', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.connect('p-a');
  const b = await room.connect('p-b');
  await room.connect('p-c');
  const c = await room.connect('p-c', { resumed: true }); // a reload: new keys, same id
  await room.settle();
  for (const [id, m] of room.members) {
    assert.deepEqual(m.keys.verified().sort(), [...room.members.keys()].filter((x) => x !== id).sort(), id);
  }
  await Promise.all([a, b, c].map((m) => m.keys.codePending)); // the code is a slow hash
  assert.notEqual(c.keys.code, '');
  assert.equal(a.keys.code, c.keys.code);
  assert.equal(b.keys.code, c.keys.code);
  for (const [rid, r] of room.members) {
    for (const [sid, s] of room.members) {
      if (rid !== sid) assert.ok(await canRead(r, sid, await frameOf(s)), `${rid} reads ${sid}`);
    }
  }
  room.close();
});

test('without a resume announcement a second identity for a verified id is ignored', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.connect('p-a');
  await room.connect('p-b');
  await a.keys.codePending; // the code is a slow hash
  const codeBefore = a.keys.code;
  assert.notEqual(codeBefore, '');
  // p-b's id sends a new identity without the server announcing a resume.
  const meeting = await MeetingCrypto.fromSecret(room.secret);
  const rogue = new SessionKeys({ meeting, media: new FakeMedia(), send: (to, data) => room.send('p-b', to, data) });
  await rogue.start('p-b', ['p-a']);
  await room.settle();
  await a.keys.codePending;
  assert.equal(a.keys.code, codeBefore, 'the first verified identity stays');
  rogue.close();
  room.close();
});

test('peerResumed does not revive an id that left', async () => {
  const room = new Room(randomBytes(16));
  const a = await room.connect('p-a');
  await room.connect('p-b');
  a.keys.peerLeft('p-b');
  a.keys.peerResumed('p-b');
  await room.settle();
  assert.equal(a.keys.stateOf('p-b'), 'unverified'); // dead: never verified again (roster.js)
  assert.deepEqual(a.keys.verified(), []);
  room.close();
});
