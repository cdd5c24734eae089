// The dead ids are bounded, and the bound fails closed (e2ee/roster.js MAX_DEAD_IDS,
// session-roster.js _departedFull; e2ee/FORMAT.md, "Dead ids"). The page's list of the
// ids that left and its key schedule's dead ids grew with every leave the server
// announced, and a lying server could grow them without end by inventing joins and
// leaves. A dead id must never be forgotten (it could then be verified again), so once
// 20,000 are held the page takes no new id: a join, a welcome's entry or a key message
// of an id it does not hold is refused with a warning, and an id that leaves then, which
// it cannot remember, never comes back. The page's resume carries the bound on. The
// identities a session remembers for its members (those from before their resumes,
// which the page's resume carries over) have the same kind of bound.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, dropAndResume, captureShown } from './media-standins.mjs';
import { LINK_SECRET, resumingPage, identityOf } from './resume-page.mjs';
import { FakeMedia, eventually } from './harness.mjs';

const { MeetingCrypto, SessionKeys } = await import('../static/js/e2ee/session-keys.js');
const { Roster, MAX_DEAD_IDS } = await import('../static/js/e2ee/roster.js');
const { MAX_IDENTITIES } = await import('../static/js/e2ee/seen-keys.js');

window.fetch = async () => ({ ok: true, status: 200 }); // the reachability probe: the server is up

const RESUME = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const welcome = (extra = {}) => ({ participantId: 'p-ann', e2ee: true, role: 'participant', resumeSecret: RESUME, ...extra });
const person = (id) => ({ id, role: 'participant', media: { mic: false, camera: false, screen: false } });
const invented = (n) => Array.from({ length: n }, (_, i) => `p-gone-${i}`);

const keysTo = (id) => sent.filter((m) => m.type === 'e2ee' && m.payload.to === id && JSON.parse(m.payload.data).t === 'key');

test('a roster remembers at most MAX_DEAD_IDS dead ids, and once full takes no new id', () => {
  assert.equal(MAX_DEAD_IDS, 20000);
  const roster = new Roster(invented(MAX_DEAD_IDS - 1));
  roster.announce(['p-bo', 'p-xe']);
  roster.leave('p-xe'); // the last one it can remember
  assert.equal(roster.full(), true);
  roster.leave('p-bo'); // one it cannot
  assert.equal(roster.dead.size, MAX_DEAD_IDS, 'the dead ids grew past their bound');
  assert.equal(roster.join('p-bo'), false, 'an id that left beyond the bound came back');
  assert.equal(roster.join('p-new'), false, 'a new id was taken once full');
  roster.announce(['p-new2']);
  assert.equal(roster.admits('p-bo') || roster.admits('p-new') || roster.admits('p-new2'), false);
  roster.refuse('p-new');
  assert.deepEqual(roster.warnings().kinds, { 'memory-full': 4 }, 'two joins, a welcome\'s entry and a key message');
  // A roster given more (the resume of one that held as many) keeps its bound.
  assert.equal(new Roster(invented(MAX_DEAD_IDS + 5)).dead.size, MAX_DEAD_IDS);
});

test('once the page remembers MAX_DEAD_IDS ids that left, invented joins and leaves neither grow it nor bring anyone in', async (t) => {
  const bo = await identityOf('p-bo', ['p-ann']);
  const p = resumingPage(t);
  sent.length = 0;
  // A resumed stay whose earlier sessions saw MAX_DEAD_IDS - 1 ids leave (the server
  // invented them): Bo is in the meeting.
  p.open({ participantId: 'p-ann', secret: RESUME }, { left: invented(MAX_DEAD_IDS - 1) });
  await eventually(() => sent.some((m) => m.type === 'resume'), 'the resume');
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-bo')] }));
  const s = p.session;
  await eventually(() => s.joined && s.keys, 'the welcome');
  await s.keysStarted;
  serverSays('e2ee', { from: 'p-bo', data: bo });
  await eventually(() => s.keys.stateOf('p-bo') === 'verified' && keysTo('p-bo').length === 1, 'Bo verified and given the key');

  // Two more invented joins and leaves: the first fills the memory, the second does not fit.
  for (const id of ['p-x1', 'p-x2']) {
    serverSays('participant_joined', { participant: person(id) });
    serverSays('participant_left', { participantId: id });
  }
  // Then Bo leaves, and the server brings both back with their identities, and a new id.
  const x2 = await identityOf('p-x2', ['p-ann']);
  const nu = await identityOf('p-new', ['p-ann']);
  serverSays('participant_left', { participantId: 'p-bo' });
  await s.keys.queue;
  sent.length = 0;
  for (const [id, data] of [['p-x2', x2], ['p-bo', bo], ['p-new', nu]]) {
    serverSays('participant_joined', { participant: person(id) });
    serverSays('e2ee', { from: id, data });
  }
  await eventually(() => ![null, 'pending'].includes(s.keys.stateOf('p-new')), 'the new id judged');
  await s.keys.queue;
  assert.ok(s.leftIds().length <= MAX_DEAD_IDS, `the page remembers ${s.leftIds().length} ids that left, more than ${MAX_DEAD_IDS}`);
  assert.ok(s.keys.roster.dead.size <= MAX_DEAD_IDS, `the key schedule remembers ${s.keys.roster.dead.size} dead ids`);
  assert.deepEqual(s.everyone().map((x) => x.id), ['p-ann'], 'an id beyond the bound is listed');
  for (const id of ['p-x2', 'p-bo', 'p-new']) {
    assert.notEqual(s.keys.stateOf(id), 'verified', `${id} verified once the memory was full`);
    assert.deepEqual(keysTo(id), [], `${id} was sent the key once the memory was full`);
  }
  assert.ok(s.e2eeInfo().warnings.kinds['memory-full'] >= 1, JSON.stringify(s.e2eeInfo().warnings.kinds));

  // The page's next resume takes the full memory: the resumed welcome's new id stays out.
  await dropAndResume(p);
  const resumed = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [person('p-new')] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  serverSays('e2ee', { from: 'p-new', data: nu });
  await resumed.keys.queue;
  assert.ok(resumed.leftIds().length <= MAX_DEAD_IDS);
  assert.deepEqual(resumed.everyone().map((x) => x.id), ['p-ann']);
  assert.notEqual(resumed.keys.stateOf('p-new'), 'verified');
  assert.deepEqual(keysTo('p-new'), []);
});

test('a key schedule takes at most MAX_IDENTITIES carried identities, no junk, and once full verifies no new one', async () => {
  assert.equal(MAX_IDENTITIES, 20000);
  const hexKey = (i) => i.toString(16).padStart(64, '0');
  const many = [];
  for (let i = 0; i < MAX_IDENTITIES + 10; i += 10) many.push([`p-old-${i}`, Array.from({ length: 10 }, (_, j) => hexKey(i + j))]);
  const junk = [null, 'x', ['p-j1', 'nope'], ['p-j2', ['ABC', 7, hexKey(0xabc).toUpperCase()]], ['', [hexKey(2)]], ['p-dead', [hexKey(3)]]];
  const out = [];
  const keys = new SessionKeys({
    meeting: await MeetingCrypto.fromSecret(LINK_SECRET), media: new FakeMedia(), send: (to, data) => out.push({ to, data }),
    left: ['p-dead'], identities: [...junk, ...many],
  });
  const taken = keys.earlierIdentities();
  assert.equal(taken.flatMap(([, pubs]) => pubs).length, MAX_IDENTITIES, 'the carried identities are not bounded');
  assert.ok(taken.every(([id]) => id.startsWith('p-old-')), `junk or a dead id taken: ${taken.filter(([id]) => !id.startsWith('p-old-')).map(([id]) => id)}`);
  await keys.start('p-ann', ['p-bo']);
  keys.receive('p-bo', await identityOf('p-bo', ['p-ann']));
  await keys.queue;
  assert.equal(keys.stateOf('p-bo'), 'unverified', 'a new identity verified once the memory was full');
  assert.deepEqual(out.filter((m) => m.to === 'p-bo' && JSON.parse(m.data).t === 'key'), []);
  assert.deepEqual(keys.warnings().kinds, { 'memory-full': 1 });
  keys.close();
});

test('an id longer than any the server makes is never listed nor remembered when it leaves: 20,000 dead ids cost a bounded memory', async (t) => {
  const p = resumingPage(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  const long = (i) => `p-${i}-${'x'.repeat(100000)}`;
  serverSays('welcome', welcome({ participants: [person('p-bo'), person(long('w'))] }));
  const s = p.session;
  await eventually(() => s.joined && s.keys, 'the welcome');
  await s.keysStarted;
  // The server invents joins and leaves of ids of 100,000 characters, and a key message of one.
  for (let i = 0; i < 3; i++) {
    serverSays('participant_joined', { participant: person(long(i)) });
    serverSays('e2ee', { from: long(i), data: await identityOf('p-zz', ['p-ann']) });
    serverSays('participant_left', { participantId: long(i) });
  }
  serverSays('participant_left', { participantId: 'p-bo' });
  await s.keys.queue;
  // Long ids are named by their length here: a failure would print 100,000 characters.
  const named = (ids) => ids.map((id) => (id.length > 64 ? `${id.length} characters` : id));
  assert.deepEqual(named(s.everyone().map((x) => x.id)), ['p-ann'], 'an id longer than 64 bytes was listed');
  assert.deepEqual(named(s.leftIds()), ['p-bo'], 'the page remembers an id longer than 64 bytes that left');
  assert.deepEqual(named([...s.keys.roster.dead]), ['p-bo'], 'the key schedule remembers an id longer than 64 bytes');
  assert.ok(s.e2eeInfo().warnings.kinds['invalid-id'] >= 4, JSON.stringify(s.e2eeInfo().warnings.kinds));
});

// A full memory is not tampering: 1,000 members coming back under new ids every ten
// minutes fill it in 3 h 20 min. It was told as "the server may be tampering with the
// meeting"; it has its own sentence now, and tampering still gets its own.
test('a full memory is told in its own words, not as the server tampering, and tampering still is', async (t) => {
  const { RosterWarning } = await import('../static/js/e2ee-roster-ui.js');
  const { t: tr, setLanguage } = await import('../static/js/i18n.js');
  const p = resumingPage(t);
  sent.length = 0;
  p.open({ participantId: 'p-ann', secret: RESUME }, { left: invented(MAX_DEAD_IDS) });
  await eventually(() => sent.some((m) => m.type === 'resume'), 'the resume');
  serverSays('welcome', welcome({ resumed: true, participants: [] }));
  const s = p.session;
  await eventually(() => s.joined && s.keys, 'the welcome');
  await s.keysStarted;
  serverSays('participant_joined', { participant: person('p-new') }); // an honest newcomer, refused
  await s.keys.queue;
  const full = s.e2eeInfo();
  assert.deepEqual(full.warnings.kinds, { 'memory-full': 1 });
  // Then the server brings back an id that left: that is tampering.
  serverSays('participant_joined', { participant: person('p-gone-3') });
  await s.keys.queue;
  const both = s.e2eeInfo();
  assert.deepEqual(both.warnings.kinds, { 'memory-full': 1, 'departed-rejoin': 1 });
  // And the page's own resume carries both.
  await dropAndResume(p);
  const resumed = p.session;
  serverSays('welcome', welcome({ resumed: true, participants: [] }));
  await eventually(() => resumed.joined && resumed.keys, 'the resumed welcome');
  await resumed.keysStarted;
  const after = resumed.e2eeInfo();

  t.mock.timers.enable({ apis: ['setTimeout'] }); // the toasts' own timers: not waited for
  t.after(() => setLanguage('en'));
  for (const lang of ['en', 'de']) {
    setLanguage(lang);
    const shown = captureShown();
    const warning = new RosterWarning();
    warning.render(full);
    assert.equal(warning.note.hidden, true, `${lang}: a full memory was told as the server tampering`);
    assert.equal(warning.fullNote.hidden, false, `${lang}: the full memory was not told`);
    assert.equal(warning.chip.dataset.warning, 'memory-full');
    assert.deepEqual(shown, [tr('e2ee.memory-full')], `${lang}: what was toasted`);
    assert.notEqual(tr('e2ee.memory-full'), tr('e2ee14.roster.warning'));

    // Tampering beside a full memory is told beside it, each once.
    warning.render(both);
    warning.render(both);
    assert.equal(warning.note.hidden, false, `${lang}: tampering beside a full memory was not told`);
    assert.equal(warning.fullNote.hidden, false);
    assert.equal(warning.chip.dataset.warning, 'roster');
    assert.deepEqual(shown, [tr('e2ee.memory-full'), tr('e2ee14.roster.warning')], `${lang}: what was toasted`);

    // After the page's own resume both stay in the panel and neither is toasted again.
    warning.render(null); // reconnecting
    warning.render(after);
    assert.equal(warning.note.hidden, false);
    assert.equal(warning.fullNote.hidden, false);
    assert.equal(shown.length, 2, `${lang}: told again after the resume: ${JSON.stringify(shown)}`);
  }
});
