// An id that left stays dead across the page's own resume (e2ee/FORMAT.md, "Identity per
// session"; session-roster.js leftIds, meeting.js join). A resume starts a new Session,
// and with it a new key schedule: the ids the dropped one had seen leave were forgotten.
// A server that lies can drop a member's connection whenever it likes; it listed an id
// that had left in the resumed welcome and replayed that id's identity (which it relayed
// earlier, tagged under the link's key for that id), and the resumed page listed the one
// who left again, verified it and sent it its key: the member a moderator removed was
// back in that member's meeting, with no word of a join. Now the resumed session starts
// with the dropped one's dead ids: the id is not listed, never verified, gets no key,
// and the page warns that the server may be tampering with the meeting. That warning
// too lasts the stay: a server that dropped the link again wiped it (a new session's
// key schedule counts from nothing), so the resumed session takes the dropped one's
// warnings by kind, shows them, and does not toast them again. So does what a
// moderator's page knows of knockers it saw with a wrong link and admitted anyway: after
// a resume it took such a member for a sign that its own link was wrong. And so does
// its memory of the knocker each knock nonce was first shown for: a resumed page's
// waiting list showed a real knocker's proof, replayed under a bot's id, as "Link
// verified".
//
// And so does its memory of the identities a member had before its own resume: a
// resumed page verified such an identity, replayed ahead of the member's real one,
// and refused the real one as a second identity.
//
// The page's glue (meeting.js: join with what the dropped session carries over,
// Session.carriedOver, and the Reconnect) is played by resume-page.mjs's resumingPage
// with the same calls.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, dropAndResume, captureShown } from './media-standins.mjs';
import { LINK_SECRET, resumingPage, identityOf } from './resume-page.mjs';
import { eventually } from './harness.mjs';

const { MeetingCrypto } = await import('../static/js/e2ee/session-keys.js');
const { RosterWarning } = await import('../static/js/e2ee-roster-ui.js');
const { SelfLinkWarning } = await import('../static/js/e2ee-self-link.js');
const { answerKnock, selfLinkWrong } = await import('../static/js/e2ee/knock.js');
const { encode } = await import('../static/js/e2ee/b64.js');
const { randomBytes } = await import('../static/js/e2ee/keys.js');

window.fetch = async () => ({ ok: true, status: 200 }); // the reachability probe: the server is up

const RESUME = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const welcome = (extra = {}) => ({ participantId: 'p-ann', e2ee: true, role: 'participant', resumeSecret: RESUME, ...extra });
const person = (id) => ({ id, role: 'participant', media: { mic: false, camera: false, screen: false } });

/** keysTo are the key messages the page sent to id since sent was last cleared. */
const keysTo = (id) => sent.filter((m) => m.type === 'e2ee' && m.payload.to === id && JSON.parse(m.payload.data).t === 'key');

/**
 * joinedWithBoAndXe opens a page that joins a meeting of Bo and Xe and is sent both
 * identities; it returns the page and the identities, for the server to replay.
 */
async function joinedWithBoAndXe(t) {
  const bo = await identityOf('p-bo', ['p-ann', 'p-xe']);
  const xe = await identityOf('p-xe', ['p-ann', 'p-bo']);
  const p = resumingPage(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome({ participants: [person('p-bo'), person('p-xe')] }));
  await eventually(() => p.session.joined && p.session.keys, 'the welcome');
  await p.session.keysStarted;
  serverSays('e2ee', { from: 'p-bo', data: bo });
  serverSays('e2ee', { from: 'p-xe', data: xe });
  return { p, bo, xe };
}

test('an id that left before the page\'s own resume is not brought back by the resumed welcome and a replayed identity', async (t) => {
  const { p, bo, xe } = await joinedWithBoAndXe(t);
  await eventually(() => p.session.keys.stateOf('p-xe') === 'verified' && keysTo('p-xe').length === 1, 'Xe verified and given the key');
  // Xe leaves (or a moderator removed Xe).
  serverSays('participant_left', { participantId: 'p-xe' });
  await eventually(() => !p.session.everyone().some((x) => x.id === 'p-xe'), 'Xe gone');
  assert.equal(p.session.e2eeInfo().warnings.count, 0, 'nothing to warn about yet');

  // The server drops the page's connection and lists Xe in the resumed welcome, then
  // replays Xe's identity (and announces Xe's join again, for good measure).
  await dropAndResume(p);
  const resumed = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo'), person('p-xe')] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  serverSays('e2ee', { from: 'p-bo', data: bo });
  serverSays('e2ee', { from: 'p-xe', data: xe });
  serverSays('participant_joined', { participant: person('p-xe') });
  await eventually(() => resumed.keys.stateOf('p-bo') === 'verified' && keysTo('p-bo').length === 1, 'Bo verified again and given the new key');
  await resumed.keys.queue;

  const listed = resumed.everyone().map((x) => x.id);
  assert.deepEqual(listed, ['p-ann', 'p-bo'], 'the one who left is listed again after the resume');
  assert.notEqual(resumed.keys.stateOf('p-xe'), 'verified', 'the one who left is verified again after the resume');
  assert.deepEqual(resumed.e2eeInfo().verified, ['p-bo']);
  assert.deepEqual(keysTo('p-xe'), [], 'the resumed page sent its key to the one who left');
  assert.deepEqual(resumed.e2eeInfo().warnings.kinds, { 'departed-rejoin': 2, 'departed-sender': 1 },
    'the welcome\'s entry, the join and the identity of the one who left are warnings');

  // And so across a second resume: the dead ids go on from session to session.
  await dropAndResume(p);
  const again = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo'), person('p-xe')] }));
  await eventually(() => again.joined && again.keys, 'the second resumed welcome');
  await again.keysStarted;
  serverSays('e2ee', { from: 'p-xe', data: xe });
  await again.keys.queue;
  assert.deepEqual(again.everyone().map((x) => x.id), ['p-ann', 'p-bo']);
  assert.notEqual(again.keys.stateOf('p-xe'), 'verified');
  assert.deepEqual(keysTo('p-xe'), []);
});

test('a tampering warning stays across the page\'s own resume: the server cannot wipe it by dropping the link', async (t) => {
  const { p, bo, xe } = await joinedWithBoAndXe(t);
  await eventually(() => p.session.keys.stateOf('p-xe') === 'verified', 'Xe verified');
  // Xe leaves, and the server replays Xe's identity: refused, a warning.
  serverSays('participant_left', { participantId: 'p-xe' });
  serverSays('e2ee', { from: 'p-xe', data: xe });
  await eventually(() => p.session.e2eeInfo().warnings.count === 1, 'the warning');
  const before = p.session.e2eeInfo();

  // Then it drops the page's link, and the resumed meeting looks honest: Bo alone.
  await dropAndResume(p);
  await dropAndResume(p); // an attempt that drops before its welcome carries it too
  const resumed = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo')] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  serverSays('e2ee', { from: 'p-bo', data: bo });
  await eventually(() => resumed.keys.stateOf('p-bo') === 'verified', 'Bo verified again');
  await resumed.keys.queue;
  const after = resumed.e2eeInfo();
  assert.deepEqual(after.warnings.kinds, { 'departed-sender': 1 }, 'the resume wiped the warning of the replayed identity');
  assert.equal(after.warnings.count, 1);

  // What the person sees: the sentence and the chip stay; the toast was said once.
  t.mock.timers.enable({ apis: ['setTimeout'] }); // the toast's own timers: not waited for
  const shown = captureShown();
  const warning = new RosterWarning();
  warning.render(before);
  assert.equal(warning.note.hidden, false);
  warning.render(null); // reconnecting: no session joined
  warning.render(after);
  assert.equal(warning.note.hidden, false, 'the warning is gone after the resume');
  assert.equal(warning.chip.dataset.warning, 'roster');
  assert.equal(shown.length, 1, `the warning was toasted again at the resume: ${JSON.stringify(shown)}`);
});

test('a participant_resumed for an id that left is a tampering warning, in the session it left and after the page\'s own resume', async (t) => {
  const { p, xe } = await joinedWithBoAndXe(t);
  await eventually(() => p.session.keys.stateOf('p-xe') === 'verified' && keysTo('p-xe').length === 1, 'Xe verified and given the key');
  // Xe leaves; only a lying server says it resumed after that (a real one gives a new
  // connection a new id once the old one left), and replays its identity.
  sent.length = 0;
  serverSays('participant_left', { participantId: 'p-xe' });
  serverSays('participant_resumed', { participant: person('p-xe') });
  serverSays('e2ee', { from: 'p-xe', data: xe });
  // The key schedule takes them in order: the identity's refusal comes after the resume's.
  await eventually(() => p.session.e2eeInfo().warnings.kinds['departed-sender'] === 1, 'the replayed identity refused');
  await p.session.keys.queue;
  assert.deepEqual(p.session.e2eeInfo().warnings.kinds, { 'departed-rejoin': 1, 'departed-sender': 1 },
    'the resume of the one who left is not counted as a warning');
  assert.deepEqual(p.session.everyone().map((x) => x.id), ['p-ann', 'p-bo'], 'the one who left is listed again');
  assert.notEqual(p.session.keys.stateOf('p-xe'), 'verified');
  assert.deepEqual(keysTo('p-xe'), []);

  // After the page's own resume the id is still dead, and its resume still a warning.
  await dropAndResume(p);
  const resumed = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo')] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  serverSays('participant_resumed', { participant: person('p-xe') });
  serverSays('e2ee', { from: 'p-xe', data: xe });
  await eventually(() => resumed.e2eeInfo().warnings.kinds['departed-sender'] === 2, 'the replayed identity refused after the page\'s own resume');
  await resumed.keys.queue;
  assert.deepEqual(resumed.e2eeInfo().warnings.kinds, { 'departed-rejoin': 2, 'departed-sender': 2 },
    'the resume of the one who left is not counted as a warning after the page\'s own resume');
  assert.deepEqual(resumed.everyone().map((x) => x.id), ['p-ann', 'p-bo']);
  assert.notEqual(resumed.keys.stateOf('p-xe'), 'verified');
  assert.deepEqual(keysTo('p-xe'), []);
});

test('a knocker seen with a wrong link and admitted anyway is still known for it after the page\'s own resume', async (t) => {
  // Ann moderates alone; Wx knocks with a link cut short, and Ann admits it anyway.
  const wrongSecret = new Uint8Array(16).fill(9);
  const wx = await identityOf('p-wx', ['p-ann'], wrongSecret);
  const p = resumingPage(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome({ role: 'moderator', participants: [] }));
  await eventually(() => p.session.joined && p.session.keys, 'the welcome');
  await p.session.keysStarted;
  const knockNonce = encode(randomBytes(32));
  const answer = await answerKnock((await MeetingCrypto.fromSecret(wrongSecret)).identityKey, knockNonce, []);
  serverSays('waiting_list', { waiting: [{ participantId: 'p-wx', waitingMs: 0, knockNonce, knockProof: answer.proof, knockEph: answer.eph }] });
  await eventually(() => p.session.waiting && p.session.waiting.length === 1, 'the waiting list');
  assert.equal(p.session.waiting[0].link, 'wrong');
  serverSays('waiting_list', { waiting: [] });
  serverSays('participant_joined', { participant: person('p-wx') });
  serverSays('e2ee', { from: 'p-wx', data: wx });
  await eventually(() => p.session.keys.stateOf('p-wx') === 'unverified', 'Wx unverified');
  assert.equal(selfLinkWrong(p.session.e2eeInfo()), false, 'the admitted wrong link taken for the page\'s own');

  // The server drops the page's link (twice, the second attempt before its welcome);
  // the resumed meeting has Wx in it, whose identity still does not verify.
  await dropAndResume(p);
  await dropAndResume(p);
  const resumed = p.session;
  serverSays('welcome', welcome({ role: 'moderator', resumed: true, participants: [person('p-wx')] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  serverSays('e2ee', { from: 'p-wx', data: wx });
  await eventually(() => resumed.keys.stateOf('p-wx') === 'unverified', 'Wx unverified after the resume');
  const info = resumed.e2eeInfo();
  assert.deepEqual(info.knockWrong, ['p-wx'], 'the resume forgot the knocker seen with a wrong link');
  assert.equal(selfLinkWrong(info), false, 'after the resume the admitted wrong link is taken for the page\'s own');
  const warning = new SelfLinkWarning();
  warning.render(info);
  assert.equal(warning.card.hidden, true, 'the page tells its person that its own link is probably wrong');
});

test('a knock proof shown before the page\'s own resume is not shown as "Link verified" under another knocker\'s id after it', async (t) => {
  // Ann moderates; Ki knocks with the right link, and its proof verifies.
  const p = resumingPage(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome({ role: 'moderator', participants: [] }));
  await eventually(() => p.session.joined && p.session.keys, 'the welcome');
  await p.session.keysStarted;
  const knockNonce = encode(randomBytes(32));
  const answer = await answerKnock((await MeetingCrypto.fromSecret(LINK_SECRET)).identityKey, knockNonce, []);
  const ki = { participantId: 'p-ki', waitingMs: 0, knockNonce, knockProof: answer.proof, knockEph: answer.eph };
  serverSays('waiting_list', { waiting: [ki] });
  await eventually(() => p.session.waiting && p.session.waiting.length === 1, 'the waiting list');
  assert.equal(p.session.waiting[0].link, 'verified');

  // The server drops the page's link (twice, the second attempt before its welcome) and
  // shows the resumed page Ki's nonce and proof under a bot's id, Ki's knock left out.
  await dropAndResume(p);
  await dropAndResume(p);
  const resumed = p.session;
  serverSays('welcome', welcome({ role: 'moderator', resumed: true, participants: [] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  serverSays('waiting_list', { waiting: [{ ...ki, participantId: 'p-bot' }] });
  await eventually(() => resumed.waiting && resumed.waiting.length === 1, 'the resumed waiting list');
  assert.equal(resumed.waiting[0].participantId, 'p-bot');
  assert.equal(resumed.waiting[0].link, 'wrong', 'after the resume the proof shown for Ki verified under the bot\'s id');

  // Ki's own knock, shown again with its nonce, still verifies: the memory is of this stay.
  serverSays('waiting_list', { waiting: [ki] });
  await eventually(() => resumed.waiting && resumed.waiting[0].participantId === 'p-ki', 'Ki listed again');
  assert.equal(resumed.waiting[0].link, 'verified');
  assert.ok(resumed.knockNonceOwners().some(([n, id]) => n === knockNonce && id === 'p-ki'));
});

test('an identity a member had before its own resume is not taken after the page\'s own resume', async (t) => {
  const { p, bo } = await joinedWithBoAndXe(t);
  await eventually(() => p.session.keys.stateOf('p-bo') === 'verified' && keysTo('p-bo').length === 1, 'Bo verified and given the key');
  // Bo's connection drops and Bo's page resumes with a new identity, which the page verifies.
  const bo2 = await identityOf('p-bo', ['p-ann', 'p-xe']);
  serverSays('participant_resumed', { participant: person('p-bo') });
  serverSays('e2ee', { from: 'p-bo', data: bo2 });
  await eventually(() => p.session.keys.stateOf('p-bo') === 'verified' && keysTo('p-bo').length === 2, 'Bo verified again after its resume');
  const pubOf = (data) => JSON.parse(data).pub;
  assert.equal(encode(p.session.keys.peers.get('p-bo').pub), pubOf(bo2));
  assert.deepEqual(p.session.earlierIdentities(), [['p-bo', [Buffer.from(pubOf(bo), 'base64').toString('hex')]]]);

  // The server drops the page's link (twice, the second attempt before its welcome) and,
  // in the resumed meeting, replays Bo's identity from before Bo's resume ahead of the
  // one Bo has now.
  await dropAndResume(p);
  await dropAndResume(p);
  const resumed = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo'), person('p-xe')] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  serverSays('e2ee', { from: 'p-bo', data: bo });
  serverSays('e2ee', { from: 'p-bo', data: bo2 });
  await eventually(() => resumed.keys.stateOf('p-bo') === 'verified', 'Bo verified after the page\'s resume');
  await resumed.keys.queue;
  assert.equal(encode(resumed.keys.peers.get('p-bo').pub), pubOf(bo2),
    'after the page\'s resume the identity Bo had before its own resume verified, and Bo\'s real one was refused');
  assert.equal(keysTo('p-bo').length, 1, 'the key went to Bo once, under its identity of now');
  assert.deepEqual(resumed.e2eeInfo().warnings.kinds, { 'replayed-identity': 1 });

  // And so across a second resume of the page, where Bo's identity of now verifies first.
  await dropAndResume(p);
  const again = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo'), person('p-xe')] }));
  await eventually(() => again.joined && again.keys, 'the second resumed welcome');
  await again.keysStarted;
  serverSays('e2ee', { from: 'p-bo', data: bo2 });
  serverSays('e2ee', { from: 'p-bo', data: bo });
  await eventually(() => again.keys.stateOf('p-bo') === 'verified', 'Bo verified after the second resume');
  await again.keys.queue;
  assert.equal(encode(again.keys.peers.get('p-bo').pub), pubOf(bo2));
  assert.deepEqual(again.e2eeInfo().warnings.kinds, { 'replayed-identity': 1, 'second-identity': 1 });
});
