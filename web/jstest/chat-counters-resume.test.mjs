// The chat counters across the page's own resume (e2ee/FORMAT.md, "Chat (version 3)";
// SessionKeys' chatCounters and chatCounter, Session.carriedOver). A receiver refuses a
// sender's text whose counter is not above the last it took from that sender. The
// page's own resume starts a new key schedule, whose ChatKeys took nothing of the
// dropped one's, so the resumed page had no counter of anyone.
//
// With the server as the attacker: it announces the page's resume to a member while
// the page's old connection still runs (the server decides when it drops it). The
// member ratchets its key for the resumed page, as for a newcomer, and writes a text
// under the ratchet; the server hands that text to the old connection, whose key
// schedule follows the member's key one ratchet step and shows it. Then it drops the
// old connection: the page resumes, verifies the member, which gives it its current
// key, the very ratchet the text is under (it heard of the resume before it wrote).
// The server sends the text again: the resumed page had no counter of the member and
// showed it a second time ("yes, I agree" under a later question). The resumed session
// now takes the dropped one's counters, and its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MeetingCrypto } from '../static/js/e2ee/session-keys.js';
import { UNREADABLE } from '../static/js/e2ee/session-chat.js';
import { ROTATE_DELAY_MS } from '../static/js/e2ee/rotations.js';
import { DayKeys, FakeClock, FakeMedia, KeyRelay, eventually } from './harness.mjs';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { MAX_IDENTITIES } from '../static/js/e2ee/seen-keys.js';
import { serverSays, sent, dropAndResume } from './media-standins.mjs';
import { resumingPage } from './resume-page.mjs';

/**
 * room is a meeting of Ann (p-a) and Bob (p-b) on clock. page(id, carried) makes id's
 * page's key schedule, with carried the SessionKeys options a resume passes on
 * (session-e2ee.js: what the dropped session carries over); resumeOwn(id) is id's
 * page's own resume as the server may play it, the members already told.
 */
async function room(clock) {
  const relay = new KeyRelay();
  relay.clock = clock;
  const secret = randomBytes(16);
  const page = async (id, carried = {}) => {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const keys = new DayKeys({
      meeting, media: new FakeMedia(), clock, ...carried,
      send: (to, data) => relay.relay(id, to, data),
      sendBatch: (envelopes) => { for (const { to, data } of envelopes) relay.relay(id, to, data); },
    });
    return { id, keys };
  };
  const a = await relay.admit('p-a', await page('p-a'));
  const b = await relay.admit('p-b', await page('p-b'));
  // The identities the server relayed, for it to replay: from -> data.
  const identities = new Map();
  relay.record = (m, from, to, msg) => {
    if (msg.t === 'identity') identities.set(from, JSON.stringify(msg));
  };
  // told: the server announced the resume to the members already (the other members
  // then sent their identities to the old connection: the server replays them).
  const resumeOwn = async (id, { told = false } = {}) => {
    const old = relay.members.get(id);
    old.keys.close();
    // What meeting.js's join hands the new Session from the dropped one, and the
    // Session its key schedule (session-roster.js carriedOver, session-e2ee.js).
    const m = await page(id, { chatCounters: old.keys.chatCounters(), chatCounter: old.keys.chatCounter });
    relay.members.set(id, m);
    const others = [...relay.members.keys()].filter((o) => o !== id);
    if (!told) for (const o of others) relay.members.get(o).keys.peerResumed(id);
    await m.keys.start(id, others);
    if (told) for (const o of others) relay.deliver(m, o, identities.get(o));
    await relay.settle();
    clock.advance(ROTATE_DELAY_MS);
    await relay.settle();
    return m;
  };
  return { relay, a, b, resumeOwn };
}

test("a text shown before the page's own resume, sent again after it, is not shown again", async () => {
  const clock = new FakeClock();
  const { relay, a, b, resumeOwn } = await room(clock);
  try {
    // The server tells Ann that Bob's page resumed while Bob's old connection still runs.
    a.keys.peerResumed('p-b');
    await relay.settle();
    const text = await a.keys.encryptChat('yes, I agree');
    await relay.settle();
    assert.equal(await b.keys.decryptChat('p-a', text), 'yes, I agree', "Bob's old session reads Ann's text");

    const b2 = await resumeOwn('p-b', { told: true });
    assert.equal(b2.keys.stateOf('p-a'), 'verified');
    assert.equal(await b2.keys.decryptChat('p-a', text), UNREADABLE,
      "Ann's text, shown before Bob's page resumed, was shown again after the resume");
    // Ann's next text is shown: the counter carried over refuses no honest text.
    const next = await a.keys.encryptChat('and one more thing');
    assert.equal(await b2.keys.decryptChat('p-a', next), 'and one more thing');
  } finally {
    relay.close();
  }
});

test("the page's own texts after its resume count on from its last counter: a clock set back refuses none", async () => {
  const clock = new FakeClock();
  let wall = 1_800_000_000_000;
  clock.wall = () => wall;
  const { relay, a, b, resumeOwn } = await room(clock);
  try {
    const before = await b.keys.encryptChat('before the drop');
    assert.equal(await a.keys.decryptChat('p-b', before), 'before the drop');
    wall -= 3_600_000; // the computer's clock is set back an hour
    const b2 = await resumeOwn('p-b');
    // Ann keeps Bob's last counter across his resume (FORMAT.md): a text of the
    // resumed page counted from the clock alone would be refused there for the hour.
    const after = await b2.keys.encryptChat('after the drop');
    assert.equal(await a.keys.decryptChat('p-b', after), 'after the drop',
      "the resumed page's text was refused by a member, its counter below the page's last before the drop");
  } finally {
    relay.close();
  }
});

// The page's glue: meeting.js's join hands the Session a resume starts what the dropped
// one carries over (Session.carriedOver), and the Session its key schedule. Played by
// resume-page.mjs's resumingPage with the same calls.
test("the page's own resume hands its new key schedule the chat counters, also through an attempt that drops before its welcome", async (t) => {
  window.fetch = async () => ({ ok: true, status: 200 }); // the reachability probe: the server is up
  const welcome = (extra = {}) => ({ participantId: 'p-ann', e2ee: true, role: 'participant', resumeSecret: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', ...extra });
  const p = resumingPage(t);
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome({ participants: [] }));
  await eventually(() => p.session.joined && p.session.keys, 'the welcome');
  await p.session.keysStarted;
  // Ann writes; the server echoes her text, which her page opens (its counter taken).
  assert.equal(p.session.sendChat('hello'), true);
  await eventually(() => sent.some((m) => m.type === 'chat'), 'the text sent');
  const text = sent.find((m) => m.type === 'chat').payload.text;
  serverSays('chat', { from: 'p-ann', name: 'Ann', text });
  await eventually(() => p.session.keys.chatCounters().length === 1, 'the echo opened');
  const counters = p.session.keys.chatCounters();
  const own = p.session.keys.chatCounter;
  assert.deepEqual(counters, [['p-ann', own]]);

  await dropAndResume(p);
  await dropAndResume(p); // an attempt that drops before its welcome carries them too
  const resumed = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  assert.deepEqual(resumed.keys.chatCounters(), counters, 'the resumed key schedule lost the chat counters');
  assert.equal(resumed.keys.chatCounter, own, 'the resumed key schedule lost the own chat counter');
});

// What a resume carries is the page's own memory, but SessionKeys checks it as it checks
// the carried identities (dead-ids-bound.test.mjs): what reaches its ChatKeys is bounded
// over a day of resumes, holds no junk and no id that left, and a counter that is not
// one (FORMAT.md: 1 to 2^53 − 1) is not taken for the own last, from which the page's
// next text counts on: taken, an own counter above 2^53 − 1 (or not a number)
// left the page unable to write a text for the rest of its stay.
test('a key schedule takes the carried chat counters bounded: no junk, no dead id, at most MAX_IDENTITIES; a junk own counter is not taken', async () => {
  assert.equal(MAX_IDENTITIES, 20000);
  const meeting = await MeetingCrypto.fromSecret(randomBytes(16));
  const many = Array.from({ length: MAX_IDENTITIES + 10 }, (_, i) => [`p-old-${i}`, 1_800_000_000_000 + i]);
  const junk = [null, 'p-x', ['p-j1'], ['p-j2', 0], ['p-j3', -5], ['p-j4', 1.5], ['p-j5', '7'], ['p-j6', NaN],
    ['p-j7', 2 ** 53], ['p-j8', Infinity], ['', 5], [7, 5], ['p-dead', 9]];
  const make = (chatCounter) => new DayKeys({
    meeting, media: new FakeMedia(), clock: new FakeClock(), send: () => {},
    left: ['p-dead'], chatCounters: [...junk, ...many], chatCounter,
  });
  const keys = make(0);
  const taken = [...keys.chatKeys.counters];
  const wrong = taken.filter(([id]) => !id.startsWith('p-old-')).map(([id, c]) => `${id}: ${c}`);
  assert.deepEqual(wrong, [], 'junk or a dead id taken');
  assert.equal(taken.length, MAX_IDENTITIES, 'the carried chat counters are not bounded (or a good one skipped)');
  // A counter of an id that left, still held while a text of it in flight is taken
  // (ChatKeys.left): not carried on.
  keys.chatKeys.counters.set('p-dead', 12);
  assert.ok(!keys.chatCounters().some(([id]) => id === 'p-dead'), 'the counter of an id that left is carried on');
  keys.close();

  for (const own of [2 ** 53, Infinity, NaN, '1800000000000', -1]) {
    const k = make(own);
    await k.start('p-ann', []);
    let text;
    try {
      text = await k.encryptChat('still writing');
    } catch (err) {
      assert.fail(`with ${String(own)} carried as the own counter the page cannot write: ${err.message}`);
    }
    assert.equal(await k.decryptChat('p-ann', text), 'still writing', `own counter ${String(own)}`);
    k.close();
  }
});
