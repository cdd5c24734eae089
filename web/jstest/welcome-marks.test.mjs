// A welcome's members are marked once, all of them listed (session-join.js,
// listingWelcome), where each was marked as it was listed: _markNames looks at every
// member listed so far, so a welcome of 500 people looked at 125,000 (0.13 s measured on
// a page). Counted here as the people NameMarks.marks is given, not timed. The list of
// people is drawn once after them too, where each member listed drew it again
// (ui.rosterChanged: the count, the people list, the away marks, each of everyone):
// counted as the people each drawing was given.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn, noop } from './media-standins.mjs';
import { eventually } from './harness.mjs';
import { resumingPage } from './resume-page.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');
const { NameMarks } = await import('../static/js/name-marks.js');

test('a welcome of 500 people is marked in one pass, namesakes numbered in its order', async (t) => {
  let looked = 0;
  const marks = NameMarks.prototype.marks;
  NameMarks.prototype.marks = function (people, reserved) {
    looked += people.length;
    return marks.call(this, people, reserved);
  };
  t.after(() => { NameMarks.prototype.marks = marks; });
  const media = new LocalMedia();
  const session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui: uiStandIn() });
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  const n = 500;
  const participants = Array.from({ length: n }, (_, i) => ({ id: `p-${i}`, name: i % 100 === 7 ? 'Anna' : `Person ${i}`, role: 'participant' }));
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, role: 'participant', participants });
  await eventually(() => session.joined, 'joined');
  assert.ok(looked <= 2 * (n + 1), `marking the welcome looked at ${looked} people, for ${n} and the page's own`);
  assert.deepEqual([7, 107, 207, 307, 407].map((i) => session.participants.get(`p-${i}`).name),
    ['Anna (1)', 'Anna (2)', 'Anna (3)', 'Anna (4)', 'Anna (5)']);
  assert.equal(session.participants.get('p-8').name, 'Person 8');
  session.end();
  media.stopAll();
});

test('a welcome of 500 people draws the list of people once, not once a member', async (t) => {
  const media = new LocalMedia();
  let drawings = 0;
  let drawn = 0;
  let session = null;
  // As meeting-roster.js's renderRoster: each drawing goes through everyone the session lists.
  const ui = uiStandIn({ rosterChanged: () => { drawings++; drawn += session.everyone().length; } });
  session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui });
  t.after(() => { session.end(); media.stopAll(); });
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  const n = 500;
  const participants = Array.from({ length: n }, (_, i) => ({ id: `p-${i}`, name: `Person ${i}`, role: 'participant' }));
  drawings = 0;
  drawn = 0;
  serverSays('welcome', { participantId: 'p-ann', e2ee: false, role: 'participant', participants });
  await eventually(() => session.joined, 'joined');
  assert.equal(session.everyone().length, n + 1, 'the welcome\'s members are not all listed');
  assert.ok(drawn <= 3 * (n + 1), `the welcome drew the list of people ${drawings} times, ${drawn} people in all, for ${n} and the page's own`);
  assert.ok(drawings >= 1, 'the welcome did not draw the list of people');
});

// A welcome whose participants is not a list (only a lying server sends one) is a welcome
// of nobody: iterated, an object or a number threw halfway through the welcome, after the
// page had taken itself as joined, and it stayed so with nothing drawn, no media and, in
// an encrypted meeting, no key schedule.
test('a welcome whose participants is not a list is joined with nobody listed, and drawn', async (t) => {
  for (const participants of [{}, { 0: { id: 'p-x' }, length: 1 }, 5, 'p-x', true, null]) {
    const media = new LocalMedia();
    let joined = 0;
    let drawings = 0;
    const ui = uiStandIn({ joined: () => { joined++; }, rosterChanged: () => { drawings++; } });
    const session = new Session({ meetingId: 'm1', name: 'Ann', media, grid: gridStandIn(), chat: noop, ui });
    t.after(() => { session.end(); media.stopAll(); });
    const from = sent.length;
    session.start();
    await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
    serverSays('welcome', { participantId: 'p-ann', e2ee: false, role: 'participant', participants });
    await eventually(() => session.joined, 'joined');
    const what = JSON.stringify(participants);
    assert.equal(joined, 1, `a welcome whose participants is ${what} was not joined`);
    assert.ok(drawings >= 1, `a welcome whose participants is ${what} did not draw the list of people`);
    assert.equal(session.listingWelcome, false, `a welcome whose participants is ${what} left the listing held`);
    assert.deepEqual(session.everyone().map((p) => p.id), ['p-ann'], `a welcome whose participants is ${what} listed someone`);
    session.end();
  }
});

test('an encrypted meeting\'s welcome whose participants is not a list starts the key schedule', async (t) => {
  const p = resumingPage(t);
  const from = sent.length;
  p.open();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-mod', e2ee: true, role: 'moderator', resumeSecret: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', participants: {} });
  const s = p.session;
  await eventually(() => s.joined, 'joined');
  assert.ok(s.keysStarted, 'the key schedule did not start');
  await s.keysStarted;
  await eventually(() => sent.slice(from).some((m) => m.type === 'lobby_key'), 'the moderator\'s lobby key');
  assert.ok(s.view, 'the welcome stopped before the page was shown as joined');
});
