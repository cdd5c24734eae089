// Every id that enters one of the page's per-member memories is checked as a member's
// id is (keys.js validId: at most MAX_ID_BYTES = 64 bytes, the server's bound). The
// memories bounded how many ids they hold, not how long each one is, and a waiting
// list's ids were not checked at all: a lying server's waiting list of ids of 100,000
// characters was shown and kept (the knockers seen with a wrong link, the knock nonces'
// owners), and carried across the page's own resume. Now such an entry is neither shown
// nor kept, and in an encrypted meeting it is a roster warning ('invalid-id'), as an
// announced one is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent } from './media-standins.mjs';
import { LINK_SECRET, resumingPage } from './resume-page.mjs';
import { eventually } from './harness.mjs';

const { MeetingCrypto } = await import('../static/js/e2ee/session-keys.js');
const { answerKnock, KnockChecker } = await import('../static/js/e2ee/knock.js');
const { encode } = await import('../static/js/e2ee/b64.js');
const { randomBytes, MAX_ID_BYTES } = await import('../static/js/e2ee/keys.js');
const { MemberNames } = await import('../static/js/e2ee-names.js');

window.fetch = async () => ({ ok: true, status: 200 }); // the reachability probe: the server is up

const RESUME = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const welcome = (extra = {}) => ({ participantId: 'p-ann', e2ee: true, role: 'moderator', resumeSecret: RESUME, participants: [], ...extra });
const LONG = `p-${'x'.repeat(100000)}`;
const AT_BOUND = `p-${'y'.repeat(MAX_ID_BYTES - 2)}`; // 64 bytes: a server's id may be this long
const BAD = [LONG, `p-${'y'.repeat(MAX_ID_BYTES - 1)}`, 'p-\0x', '', 7, null];
// Long ids are named by their length: a failure would print 100,000 characters.
const named = (ids) => ids.map((id) => (typeof id === 'string' && id.length > 64 ? `${id.length} characters` : id));

/** wrongKnock is a waiting-list entry for id whose knocker's link is not the meeting's. */
async function wrongKnock(id) {
  const knockNonce = encode(randomBytes(32));
  const answer = await answerKnock((await MeetingCrypto.fromSecret(new Uint8Array(16).fill(9))).identityKey, knockNonce, []);
  return { participantId: id, waitingMs: 0, knockNonce, knockProof: answer.proof, knockEph: answer.eph };
}

test('a waiting list\'s id that no knocker can have is refused with a warning, not shown and not kept', async (t) => {
  const p = resumingPage(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome());
  const s = p.session;
  await eventually(() => s.joined && s.keys, 'the welcome');
  await s.keysStarted;
  const waiting = [await wrongKnock('p-kim'), await wrongKnock(AT_BOUND), { ...(await wrongKnock('p-ki')), continues: LONG }];
  for (const id of BAD) waiting.push(await wrongKnock(id));
  serverSays('waiting_list', { waiting });
  await eventually(() => s.waiting, 'the waiting list');
  assert.deepEqual(named(s.waiting.map((w) => w.participantId)), ['p-kim', AT_BOUND, 'p-ki'], 'an id no knocker can have is listed');
  assert.equal(s.waiting[2].continues, '', 'a continued knock\'s id no knocker can have is kept');
  assert.deepEqual(named(s.knockWrongIds()), ['p-kim', AT_BOUND, 'p-ki'], 'an id no knocker can have is remembered as a wrong link');
  assert.deepEqual(named(s.knockNonceOwners().map(([, id]) => id)), ['p-kim', AT_BOUND, 'p-ki'], 'an id no knocker can have owns a nonce');
  assert.deepEqual(s.e2eeInfo().warnings.kinds, { 'invalid-id': BAD.length });

});

test('what a resume carries and what the server sends elsewhere keep no id a member cannot have', async (t) => {
  const key = (await MeetingCrypto.fromSecret(LINK_SECRET)).identityKey;
  const [n1, n2, n3] = [0, 1, 2].map(() => encode(randomBytes(32)));
  const p = resumingPage(t);
  sent.length = 0;
  p.open({ participantId: 'p-ann', secret: RESUME }, {
    left: [...BAD, 'p-bo'], knockWrong: [...BAD, 'p-kim'], knockNonces: [[n1, LONG], [n2, 'p-ki'], [n3, 'p-\0x']],
  });
  await eventually(() => sent.some((m) => m.type === 'resume'), 'the resume');
  const s = p.session;
  assert.deepEqual(named(s.leftIds()), ['p-bo'], 'a carried id that left is kept though no member can have it');
  assert.deepEqual(named(s.knockWrongIds()), ['p-kim'], 'a carried wrong-link knocker is kept though no knocker can have its id');

  const checker = new KnockChecker(key, [[n1, LONG], [n2, 'p-ki'], [n3, 'p-\0x']]);
  assert.deepEqual(named(checker.ownerEntries().map(([, id]) => id)), ['p-ki'], 'a carried nonce owner no knocker can be is kept');
  const fresh = encode(randomBytes(32));
  assert.equal(await checker.check({ participantId: LONG, knockNonce: fresh }), 'wrong');
  assert.deepEqual(named(checker.ownerEntries().map(([, id]) => id)), ['p-ki'], 'a nonce is remembered for an id no knocker can have');

  serverSays('welcome', welcome({ resumed: true }));
  await eventually(() => s.joined && s.keys, 'the welcome');
  s._remoteTrack({ mid: '3', participantId: LONG, source: 'camera', kind: 'video', track: { readyState: 'live' } });
  assert.equal(s.strayTracks.size, 0, 'a track of an id no member can have is kept aside');

  const names = new MemberNames();
  names.received(LONG, 'Eve');
  names.received('p-bo', 'Bo');
  assert.deepEqual(named([...names.names.keys()]), ['p-bo'], 'a name is kept for an id no member can have');
});

test('a waiting list longer than any waiting room is kept up to the server\'s bound, and is one warning', async (t) => {
  const { MAX_WAITING } = await import('../static/js/session-roster.js');
  const p = resumingPage(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome());
  const s = p.session;
  await eventually(() => s.joined && s.keys, 'the welcome');
  await s.keysStarted;
  // As many as a waiting room may hold: all kept, no warning (an honest server's list).
  const ids = (n) => Array.from({ length: n }, (_, i) => `p-${i.toString(16).padStart(16, '0')}`);
  serverSays('waiting_list', { waiting: ids(MAX_WAITING).map((id) => ({ participantId: id, waitingMs: 0 })) });
  await eventually(() => s.waiting && s.waiting.length, 'the waiting list');
  assert.equal(s.waiting.length, MAX_WAITING, 'a list as long as a waiting room may be is cut');
  assert.deepEqual(s.e2eeInfo().warnings.kinds, {}, 'a list as long as a waiting room may be is a warning');
  // Longer: the first MAX_WAITING kept, what is beyond neither shown nor kept, one warning.
  const more = [await wrongKnock('p-first'), ...ids(MAX_WAITING * 3).map((id) => ({ participantId: id, waitingMs: 0 })), await wrongKnock('p-beyond')];
  serverSays('waiting_list', { waiting: more });
  await eventually(() => s.waiting[0].participantId === 'p-first', 'the longer list');
  assert.equal(s.waiting.length, MAX_WAITING, 'a list longer than any waiting room is held whole');
  assert.equal(s.waiting.at(-1).participantId, more[MAX_WAITING - 1].participantId, 'the list is not kept in its order up to the bound');
  assert.ok(!s.knockWrongIds().includes('p-beyond'), 'a knocker beyond the bound is remembered with a wrong link');
  assert.ok(!s.knockNonceOwners().some(([, id]) => id === 'p-beyond'), 'a knocker beyond the bound owns a nonce');
  assert.deepEqual(s.e2eeInfo().warnings.kinds, { 'invalid-id': 1 }, 'a list longer than any waiting room is not one warning');
});
