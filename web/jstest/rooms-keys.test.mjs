// Room keys from the host's rk (web/static/js/rooms-keys.js): known answers computed
// independently (Python hmac/hashlib HKDF), same rk+id → same keys, another id or rk →
// other keys; titles open only with the right room key; links and the host fragment.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import {
  decryptTitle, encryptTitle, fromLocalInput, hostLink, newRoomId, newRootSecret,
  parseHostFragment, parseRootSecret, roomKeys, roomLinks, toLocalInput, validHostKey,
} from '../static/js/rooms-keys.js';

const RK = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8'; // bytes 0..31
const ID0 = 'AAAAAAAAAAAAAAAAAAAAAA';
const ID1 = 'AAAAAAAAAAAAAAAAAAAAAQ';

test('known answers', async () => {
  assert.deepEqual(await roomKeys(RK, ID0), {
    meetingSecret: 'R-3TNiAJgXR_cJ9DLBNAjQ',
    moderatorSecret: 'vJuCEXaSZt4ngFVjuOQD6ZDzk1f0ORphwXFZS2atzzA',
  });
  assert.deepEqual(await roomKeys(RK, ID1), {
    meetingSecret: 'BHupOZzCxYjH1lit3x5BCQ',
    moderatorSecret: 'rXSez_kIl1X4UQ-aKQsD75sjMBkvoKxoRk0b-GTcLqs',
  });
});

test('same rk and id give the same keys; another id or rk gives others', async () => {
  const rk = newRootSecret();
  const id = newRoomId();
  assert.match(id, /^[A-Za-z0-9_-]{22}$/);
  const a = await roomKeys(rk, id);
  assert.deepEqual(await roomKeys(rk, id), a);
  const b = await roomKeys(rk, newRoomId());
  assert.notEqual(b.meetingSecret, a.meetingSecret);
  assert.notEqual(b.moderatorSecret, a.moderatorSecret);
  const c = await roomKeys(newRootSecret(), id);
  assert.notEqual(c.meetingSecret, a.meetingSecret);
  assert.notEqual(a.meetingSecret, a.moderatorSecret.slice(0, 22));
  assert.ok(a.moderatorSecret.length >= 22);
});

test('bad rk or id is refused', async () => {
  assert.equal(parseRootSecret('short'), null);
  assert.equal(parseRootSecret(RK + '='), null);
  assert.equal(parseRootSecret(''), null);
  assert.notEqual(parseRootSecret(RK), null);
  await assert.rejects(roomKeys('nope', ID0));
  await assert.rejects(roomKeys(RK, 'too/short'));
});

test('titles open only under the right room key', async () => {
  const a = await roomKeys(RK, ID0);
  const b = await roomKeys(RK, ID1);
  const cipher = await encryptTitle(a.meetingSecret, 'Weekly sync ✓');
  assert.match(cipher, /^e1\.[A-Za-z0-9_-]+$/);
  assert.ok(!cipher.includes('Weekly'));
  assert.equal(await decryptTitle(a.meetingSecret, cipher), 'Weekly sync ✓');
  assert.equal(await decryptTitle(b.meetingSecret, cipher), null);
  assert.equal(await decryptTitle('', cipher), null);
  assert.equal(await decryptTitle(a.meetingSecret, 'e1.garbage'), null);
  // An empty title is sealed too, so it still tells whether rk is the room's.
  const empty = await encryptTitle(a.meetingSecret, '  ');
  assert.match(empty, /^e1\./);
  assert.equal(await decryptTitle(a.meetingSecret, empty), '');
  assert.equal(await decryptTitle(b.meetingSecret, empty), null);
  assert.equal(await decryptTitle(a.meetingSecret, ''), null);
});

test('links keep the landing page format', () => {
  const keys = { meetingSecret: 'K', moderatorSecret: 'M-_' };
  assert.deepEqual(roomLinks('https://x', ID0, keys), {
    participant: `https://x/m/${ID0}#k=K`,
    moderator: `https://x/m/${ID0}#k=K&mod=M-_`,
  });
  assert.deepEqual(roomLinks('https://x', ID0, keys, false), {
    participant: `https://x/m/${ID0}`,
    moderator: `https://x/m/${ID0}#mod=M-_`,
  });
});

test('host fragment and host link', () => {
  assert.deepEqual(parseHostFragment('#host=h.s&rk=' + RK), { host: 'h.s', rk: RK, badHost: false });
  assert.deepEqual(parseHostFragment('#host=h.s'), { host: 'h.s', rk: '', badHost: false });
  assert.deepEqual(parseHostFragment('#x=1&rk=%zz'), { host: '', rk: '%zz', badHost: false });
  assert.deepEqual(parseHostFragment(''), { host: '', rk: '', badHost: false });
  const link = hostLink('https://x', 'h.s', RK);
  assert.equal(link, `https://x/#host=h.s&rk=${RK}`);
  assert.deepEqual(parseHostFragment(link.slice(link.indexOf('#'))), { host: 'h.s', rk: RK, badHost: false });
});

// The server refuses, unread, a host key not of its form (signaling.ParseHostKey), and
// `conclave room` refuses such a link before any request; the page took any key from
// the link and sent it. The cases are the Go test's (TestHostKeyVectors), from one file.
test('a host link\'s key is taken only in the form the server takes, the same cases as Go\'s', () => {
  const { cases } = JSON.parse(readFileSync(new URL('../../signaling/testdata/hostkeys.json', import.meta.url), 'utf8'));
  assert.ok(cases.length > 10 && cases.some((c) => c.ok) && cases.some((c) => !c.ok));
  for (const { key, ok, why } of cases) {
    assert.equal(validHostKey(key), ok, `${why}: ${JSON.stringify(key)}`);
    if (key !== key.trim() || key === '') continue; // the fragment's value is trimmed; '' is no key at all
    const got = parseHostFragment(`#host=${encodeURIComponent(key)}&rk=${RK}`);
    assert.deepEqual(got, { host: ok ? key : '', rk: RK, badHost: !ok }, `${why}: ${JSON.stringify(key)}`);
  }
});

test('local date and time round trip', () => {
  const d = new Date(2031, 4, 6, 7, 8);
  assert.equal(toLocalInput(d), '2031-05-06T07:08');
  assert.equal(fromLocalInput('2031-05-06T07:08'), d.toISOString());
  assert.equal(fromLocalInput('tomorrow'), '');
});

// The vectors the Go twin (e2ee/rooms.go, `conclave room … -link`) writes and checks:
// both derive the same keys and open each other's titles, so they cannot drift apart.
test('shared vectors with the Go implementation (e2ee/testdata/rooms.json)', async () => {
  const { readFileSync } = await import('node:fs');
  const v = JSON.parse(readFileSync(new URL('../../e2ee/testdata/rooms.json', import.meta.url), 'utf8'));
  assert.ok(v.rooms.length >= 3);
  for (const r of v.rooms) {
    assert.deepEqual(await roomKeys(v.rk, r.id), { meetingSecret: r.meetingSecret, moderatorSecret: r.moderatorSecret }, r.id);
    assert.equal(await decryptTitle(r.meetingSecret, r.titleCipher), r.title, r.id);
    // and the other way round: a title sealed here opens with the same derivation
    assert.equal(await decryptTitle(r.meetingSecret, await encryptTitle(r.meetingSecret, r.title)), r.title);
  }
  for (const bad of v.badRks) assert.equal(parseRootSecret(bad), null, bad);
  for (const bad of v.badIds) await assert.rejects(roomKeys(v.rk, bad), bad);
});
