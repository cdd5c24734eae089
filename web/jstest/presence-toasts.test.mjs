// Joins and leaves close in time are one toast each (presence-toasts.js). When 50 people
// joined a webinar within seconds, or left at its end, every member's page stacked a
// toast per person in #toasts-polite, each read out: fifty read-outs. Now one toast for
// the joins (and one for the leaves) is changed in place while more come, and it is in
// no live region: the announcer says the news once, a burst in a few words. A toast
// gathers for GATHER_MS at most, names each person once and truly (one who left is not
// among its joins; a person is told apart by member id, never by name), and ends with
// the session.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
// seen: a toast's text as it is seen (no .sr-only); spoken: as a screen reader reads it (no aria-hidden).
import { installMiniDOM, seen, spoken, toastStacks, withoutIsolates } from './mini-dom.mjs';
import { FakeClock } from './harness.mjs';
import { liveRegion } from './live-region.mjs';

const doc = installMiniDOM();
const { Announcer, HOLD_MS } = await import('../static/js/announcer.js');
const { PresenceToasts, SHOWN_MS, GATHER_MS } = await import('../static/js/presence-toasts.js');
const { TOAST_OUT_MS } = await import('../static/js/dom.js');
const { SHOWN_NAME_CHARS } = await import('../static/js/clipped.js');
const { MemberNames } = await import('../static/js/e2ee-names.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const { e2eeMethods } = await import('../static/js/session-e2ee.js');
const { Session } = await import('../static/js/session.js');
const i18n = await import('../static/js/i18n.js');
const { setLanguage } = i18n;
// Sentences as seen and spoken give them (mini-dom.mjs): without the isolates around names.
const tr = (key, params) => withoutIsolates(i18n.t(key, params));

/** page builds meeting.html's #toasts (its stacks, live or not) and a #live region that records what it says. */
function page() {
  const box = toastStacks(doc);
  doc.body.replaceChildren(box);
  const said = [];
  const live = liveRegion({ said });
  return { box, said, live };
}

/** shown: the toasts on the screen (not fading), each with whether a live region reads it as it comes. */
function shown(box) {
  return box.querySelectorAll('.toast:not(.toast-out)').map((n) => {
    let live = null;
    for (let p = n.parentNode; p && p !== doc.body; p = p.parentNode) live = live || p.getAttribute('aria-live');
    return { text: seen(n), live: live === 'off' ? null : live };
  });
}

/** meeting is a joined session's roster (session-roster.js, session-e2ee.js), its announcer on the clock. */
function meeting(clock, live, { e2ee = false, states = {} } = {}) {
  const announcer = new Announcer(live, clock);
  return Object.assign(Object.create(Session.prototype), rosterMethods, e2eeMethods, {
    ended: false, joined: true, e2ee, participantId: 'p-me', name: 'Mia', role: 'participant',
    participants: new Map(), departed: new Set(), strayTracks: new Map(), names: new MemberNames(),
    keys: e2ee ? { peerJoined() {}, peerLeft() {}, stateOf: (id) => states[id] || 'pending' } : null,
    grid: { ensure: () => ({ setTrack() {} }), update() {}, removeParticipant() {} },
    presence: new PresenceToasts({ clock, say: (text, o) => announcer.say(text, o) }),
    ui: { rosterChanged() {} },
  });
}

const NAMES = ['Anna', 'Ben', 'Cem', 'Dora', ...Array.from({ length: 46 }, (_, i) => `P${i + 5}`)];
const join = (s, name) => s._participant({ id: `p-${name}`, name, role: 'participant', media: {} }, true);

/** counted: how many joins (or leaves) what was said tells of, each said once. */
function counted(said, way) {
  let n = 0;
  for (const text of said) {
    const many = text.match(new RegExp(`^(\\d+) people ${way}$`));
    if (many) n += Number(many[1]);
    else if (text.endsWith(` ${way}`)) n += 1;
    else assert.fail(`said: ${text}`);
  }
  return n;
}

test('fifty joining within seconds are one toast, changed in place, said once in a few words; leaving alike', (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const clock = new FakeClock();
  const { box, said, live } = page();
  const s = meeting(clock, live);
  const texts = [];
  for (const name of NAMES) {
    join(s, name);
    const now = shown(box);
    assert.equal(now.length, 1, `${now.length} toasts on the screen after ${name} joined`);
    assert.equal(now[0].live, null, 'the toast is read out as it comes, and again at each change');
    texts.push(now[0].text);
    clock.advance(100);
  }
  assert.deepEqual(texts.slice(0, 5), ['Anna joined', 'Anna and Ben joined', 'Anna, Ben and Cem joined',
    'Anna, Ben and 2 others joined', 'Anna, Ben and 3 others joined']);
  assert.equal(texts.at(-1), 'Anna, Ben and 48 others joined');
  clock.advance(HOLD_MS * 2);
  assert.equal(said[0], 'Anna joined', 'the first join is said at once');
  assert.ok(said.length <= 6, `${said.length} read-outs for 50 joins: ${said.join(' | ')}`);
  assert.equal(counted(said, 'joined'), 50, `each join is said once: ${said.join(' | ')}`);

  // The toast stays SHOWN_MS after the last join; a join after that is news of its own.
  clock.advance(SHOWN_MS);
  assert.deepEqual(shown(box), []);
  join(s, 'Zoe');
  assert.deepEqual(shown(box), [{ text: 'Zoe joined', live: null }]);
  clock.advance(SHOWN_MS + 1000);

  // The webinar ends: everyone leaves within seconds.
  said.length = 0;
  for (const name of [...NAMES, 'Zoe']) {
    s._participantLeft(`p-${name}`);
    assert.equal(shown(box).length, 1, `toasts on the screen after ${name} left`);
    clock.advance(50);
  }
  assert.deepEqual(shown(box), [{ text: 'Anna, Ben and 49 others left', live: null }]);
  clock.advance(HOLD_MS * 2);
  assert.ok(said.length <= 4, `${said.length} read-outs for 51 leaves: ${said.join(' | ')}`);
  assert.equal(counted(said, 'left'), 51, `each leave is said once: ${said.join(' | ')}`);
});

test('the gathered toast is natural German, and follows a switch of language', (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('de');
  const clock = new FakeClock();
  const { box, said, live } = page();
  const s = meeting(clock, live);
  const texts = [];
  for (const name of NAMES.slice(0, 5)) {
    join(s, name);
    texts.push(shown(box)[0].text);
  }
  assert.deepEqual(texts, ['Anna ist beigetreten', 'Anna und Ben sind beigetreten', 'Anna, Ben und Cem sind beigetreten',
    'Anna, Ben und 2 weitere sind beigetreten', 'Anna, Ben und 3 weitere sind beigetreten']);
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(said, ['5 Personen sind beigetreten'], 'joins at once are said together');
  s._participantLeft('p-Anna');
  s._participantLeft('p-Ben');
  // Gone, Anna and Ben are taken out of the joins toast.
  assert.deepEqual(shown(box).map((x) => x.text), ['Cem, Dora und P5 sind beigetreten', 'Anna und Ben haben das Meeting verlassen']);
  setLanguage('en');
  s.presence.languageChanged(); // meeting.js onLanguageChange
  assert.deepEqual(shown(box).map((x) => x.text), ['Cem, Dora and P5 joined', 'Anna and Ben left']);
});

test('in an encrypted meeting the joins told when their names open are gathered too, "Someone" counted, not named', (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const clock = new FakeClock();
  const { box, said, live } = page();
  const states = {};
  const s = meeting(clock, live, { e2ee: true, states });
  for (const id of ['p-a', 'p-b', 'p-c', 'p-d']) s._participant({ id, name: 'from the server', role: 'participant', media: {} }, true);
  assert.deepEqual(shown(box), [], 'a join is told once its name opened');
  for (const [id, name] of [['p-a', 'Anna'], ['p-b', 'Ben'], ['p-c', 'Cem']]) {
    states[id] = 'verified';
    s.names.received(id, name);
    s._namesChanged();
  }
  states['p-d'] = 'unverified';
  s._namesChanged();
  assert.deepEqual(shown(box), [{ text: 'Anna, Ben and 2 others joined', live: null }]);
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(said, ['4 people joined']);
});

test('a join whose person left before it was said is not said', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const { box, said, live } = page();
  const s = meeting(clock, live);
  join(s, 'Anna');
  join(s, 'Ben');
  s._participantLeft('p-Ben');
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(said, ['Anna joined. Ben left.']);
  assert.deepEqual(shown(box).map((x) => x.text), ['Anna joined', 'Ben left']);
});

test('one who leaves and comes back before it is said is said to be back, last', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const { said, live } = page();
  const s = meeting(clock, live);
  const anna = (id) => ({ id, name: 'Anna', role: 'participant', media: {} });
  join(s, 'Ben'); // said at once: what follows waits its turn
  clock.advance(200);
  s._participant(anna('p-anna1'), true);
  clock.advance(200);
  s._participantLeft('p-anna1');
  clock.advance(200);
  s._participant(anna('p-anna2'), true); // back, a new member id
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(said, ['Ben joined', 'Anna left. Anna joined.'], 'Anna is in the meeting');
  // And back out again: her leaves are said, after her join, which no longer holds.
  said.length = 0;
  join(s, 'Cem');
  clock.advance(200);
  s._participantLeft('p-anna2');
  clock.advance(200);
  s._participant(anna('p-anna3'), true);
  clock.advance(200);
  s._participantLeft('p-anna3');
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(said, ['Cem joined', '2 people left'], 'Anna is not in the meeting');
});

test('a trickle of joins is not one toast for as long as it lasts: each closes at most some seconds after it opened', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const { box, live } = page();
  const s = meeting(clock, live);
  // One joins every 3 s for three minutes of a webinar's start: a toast that waited
  // SHOWN_MS after each join stayed over the stage all that time.
  const opened = new Map(); // toast → when it was first seen
  const longest = GATHER_MS + SHOWN_MS;
  const told = new Set(); // the names the toasts showed
  for (let i = 0; i < 60; i++) {
    const name = `P${i}`;
    join(s, name);
    const now = shown(box);
    assert.ok(now.length <= 2, `${now.length} toasts of joins at once: ${JSON.stringify(now)}`);
    for (const x of now) for (const named of x.text.replace(/ joined$/, '').split(/, | and /)) told.add(named);
    for (let ms = 0; ms < 3000; ms += 100) {
      for (const n of box.querySelectorAll('.toast:not(.toast-out)')) {
        if (!opened.has(n)) opened.set(n, clock.now());
        const up = clock.now() - opened.get(n);
        assert.ok(up <= longest, `"${seen(n)}" up for ${up / 1000} s after ${name} joined, more than ${longest / 1000} s`);
      }
      clock.advance(100);
    }
  }
  assert.ok(opened.size >= 60 * 3000 / longest, `${opened.size} toasts for 60 joins over 3 minutes`);
  assert.equal(told.size, 60, 'each join is shown by name as it comes');
  clock.advance(longest);
  assert.deepEqual(shown(box), []);
});

test('a long name is shown clipped in a toast, read whole: a toast stays a few lines whatever the names', (t) => {
  t.after(() => setLanguage('en'));
  // The server allows 400 characters (MaxNameChars); the page's own field only 64.
  const [a, b, c, d] = ['A', 'B', 'C', 'D'].map((x) => `${x}${'x'.repeat(398)}${x}`);
  const clip = (name) => `${name.slice(0, SHOWN_NAME_CHARS - 1)}…`;
  for (const lang of ['en', 'de']) {
    setLanguage(lang);
    const clock = new FakeClock();
    const { box, live } = page();
    const s = meeting(clock, live);
    for (const name of [a, b, c]) s._participant({ id: `p-${name[0]}`, name, role: 'participant', media: {} }, true);
    let [toast] = box.querySelectorAll('.toast:not(.toast-out)');
    assert.equal(seen(toast), tr('meeting.joined-toast-three', { first: clip(a), second: clip(b), third: clip(c) }));
    // Three names of SHOWN_NAME_CHARS and the sentence's words: about three lines of a
    // 360 px screen, where each 400-character name took ten.
    assert.ok(seen(toast).length <= 3 * SHOWN_NAME_CHARS + 30, `${lang}: ${seen(toast).length} characters seen`);
    // A screen reader reads the whole text, not "…", and once.
    assert.equal(spoken(toast), tr('meeting.joined-toast-three', { first: a, second: b, third: c }));
    s._participant({ id: 'p-D', name: d, role: 'participant', media: {} }, true);
    [toast] = box.querySelectorAll('.toast:not(.toast-out)');
    assert.equal(seen(toast), tr('meeting.joined-toast-more', { first: clip(a), second: clip(b), count: 2 }));
    assert.equal(spoken(toast), tr('meeting.joined-toast-more', { first: a, second: b, count: 2 }));
    // A name that fits is shown as it is, and the toast's text is plain.
    clock.advance(GATHER_MS + SHOWN_MS);
    join(s, 'Anna');
    [toast] = box.querySelectorAll('.toast:not(.toast-out)');
    assert.deepEqual([toast.children.length, toast.textContent], [0, i18n.t('meeting.joined-toast', { name: 'Anna' })]);
  }
});

test('each toast names each person once and truly: who leaves is taken out of the joins, who joins again is told joined', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const { box, said, live } = page();
  const s = meeting(clock, live);
  const anna = (id) => ({ id, name: 'Anna', role: 'participant', media: {} });
  const texts = () => shown(box).map((x) => x.text);
  join(s, 'Ben');
  clock.advance(200);
  s._participant(anna('p-anna1'), true);
  assert.deepEqual(texts(), ['Ben and Anna joined']);
  clock.advance(200);
  s._participantLeft('p-anna1');
  assert.deepEqual(texts(), ['Ben joined', 'Anna left'], 'she left: she is not among the joins');
  clock.advance(200);
  s._participant(anna('p-anna2'), true); // back, a new member id: nothing ties it to p-anna1
  assert.deepEqual(texts(), ['Ben and Anna joined', 'Anna left'], 'p-anna1 left, p-anna2 joined: both are told, as they are said');
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(said, ['Ben joined', 'Anna left. Anna joined.'], 'what is said is unchanged');

  // A toast that names nobody any more closes at once, and is taken away once faded;
  // two of one name are two people.
  clock.advance(GATHER_MS + SHOWN_MS);
  clock.advance(TOAST_OUT_MS);
  join(s, 'Cem');
  const [cemJoined] = box.querySelectorAll('.toast');
  s._participantLeft('p-Cem');
  assert.deepEqual(texts(), ['Cem left']);
  assert.ok(cemJoined.classList.contains('toast-out'), '"Cem joined", emptied, does not fade at once');
  clock.advance(TOAST_OUT_MS);
  assert.equal(cemJoined.parentNode, null, '"Cem joined", emptied, is not taken away once faded');
  join(s, 'Dora');
  s._participant({ id: 'p-dora2', name: 'Dora', role: 'participant', media: {} }, true);
  s._participantLeft('p-Dora');
  assert.deepEqual(texts(), ['Cem and Dora (1) left', 'Dora (2) joined']); // two of one name are marked (session-marks.js)
  // Nameless guests, and placeholders, are not told apart by their name: each is told.
  clock.advance(GATHER_MS + SHOWN_MS);
  s._participant({ id: 'p-g1', name: '', role: 'participant', media: {} }, true);
  s._participantLeft('p-g1');
  s._participant({ id: 'p-g2', name: '', role: 'participant', media: {} }, true);
  assert.deepEqual(texts(), ['Guest left', 'Guest joined']);
});

test('a namesake joining does not take a leave out: two pupils called Anna are two people', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const { box, said, live } = page();
  const s = meeting(clock, live);
  const texts = () => shown(box).map((x) => x.text);
  // Anna (one pupil) and Ben were in the class when this page joined; Anna leaves.
  leaves(s, 'p-Anna');
  assert.deepEqual(texts(), ['Anna left']);
  // Another pupil called Anna joins: the first Anna is still gone.
  s._participant({ id: 'p-anna-b', name: 'Anna', role: 'participant', media: {} }, true);
  assert.deepEqual(texts(), ['Anna left', 'Anna joined'], 'the leave of one Anna is taken out by the join of another');
  leaves(s, 'p-Ben');
  assert.deepEqual(texts(), ['Anna and Ben left', 'Anna joined']);
  // Her namesake joins again: one Anna left, two joined, and so the toasts say.
  s._participant({ id: 'p-anna-c', name: 'Anna', role: 'participant', media: {} }, true);
  assert.deepEqual(texts(), ['Anna and Ben left', 'Anna and Anna (2) joined']); // the second marked (session-marks.js)
  clock.advance(HOLD_MS * 2);
  assert.deepEqual(said, ['2 people left. 2 people joined.'], 'what is said is what the toasts show');
  // A namesake's leave takes out only its own join, by member id.
  s._participantLeft('p-anna-c');
  assert.deepEqual(texts(), ['Anna, Ben and Anna (2) left', 'Anna joined']);
});

test('the gathered toasts end with the session: not shown over the screen that follows, nor gathering a rejoin', () => {
  setLanguage('en');
  const clock = new FakeClock();
  const { box, live } = page();
  const first = meeting(clock, live);
  const presence = first.presence; // meeting.js's, the page's one
  join(first, 'Anna');
  leaves(first, 'p-Ben');
  assert.deepEqual(shown(box).map((x) => x.text), ['Anna joined', 'Ben left']);
  // A resume keeps them: its joins are gathered with those before the drop.
  const resumed = Object.assign(meeting(clock, live), { presence });
  join(resumed, 'Cem');
  assert.deepEqual(shown(box).map((x) => x.text), ['Anna and Cem joined', 'Ben left']);
  // Leave (or the meeting ended, or sent back): meeting-end.js stopped() ends them.
  presence.end();
  assert.deepEqual(shown(box), [], 'the toasts close with the session');
  clock.advance(TOAST_OUT_MS);
  assert.deepEqual(box.querySelectorAll('.toast'), [], 'and are taken away once faded');
  // Rejoined within SHOWN_MS: its joins are a toast of their own.
  const rejoined = Object.assign(meeting(clock, live), { presence });
  join(rejoined, 'Dora');
  assert.deepEqual(shown(box).map((x) => x.text), ['Dora joined']);
  clock.advance(SHOWN_MS - 1);
  assert.deepEqual(shown(box).map((x) => x.text), ['Dora joined'], 'the ended toasts\' timers do not close the new one');
  clock.advance(1);
  assert.deepEqual(shown(box), []);
});

/** leaves: a member the page listed (from the welcome: no join told) leaves. */
function leaves(s, id) {
  s._participant({ id, name: id.slice(2), role: 'participant', media: {} }, false);
  s._participantLeft(id);
}
