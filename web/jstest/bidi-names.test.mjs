// Names of others carry no bidi embedding, override or isolate and no control character
// into the page (name-text.js): an override (U+202E) in a name reversed what followed it
// to the end of the paragraph, "Eve\u202E joined" was seen as "Eve denioj", and a name
// could turn the words of a sentence after it into others. Names come from the server in
// a plain meeting (the roster, the waiting list; a lying server sends what it likes) and
// from other pages in an encrypted one (key envelopes, sealed knock names), which the
// server never sees. A sentence puts each name in an isolate (i18n-core.js), which what
// is only heard leaves out; a name loses its invisible characters and is cut to the
// length the server allows (name-text.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import './page-globals.mjs';
import { installMiniDOM, seen, spoken, toastStacks } from './mini-dom.mjs';
import { FakeClock } from './harness.mjs';
import { liveRegion } from './live-region.mjs';

const doc = installMiniDOM();
const { Announcer, HOLD_MS } = await import('../static/js/announcer.js');
const { PresenceToasts } = await import('../static/js/presence-toasts.js');
const { MemberNames } = await import('../static/js/e2ee-names.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const { e2eeMethods } = await import('../static/js/session-e2ee.js');
const { Session } = await import('../static/js/session.js');
const { plainName, MAX_NAME_CHARS } = await import('../static/js/name-text.js');
const { setLanguage } = await import('../static/js/i18n.js');
const { translate } = await import('../static/js/i18n-core.js');
const { el } = await import('../static/js/dom.js');
const { fillName } = await import('../static/js/e2ee-names.js');
const en = JSON.parse(readFileSync(new URL('../static/i18n/en.json', import.meta.url), 'utf8'));
const de = JSON.parse(readFileSync(new URL('../static/i18n/de.json', import.meta.url), 'utf8'));

// Every explicit bidi control and the C0 and C1 controls a name must not bring in.
const BIDI = /[\u202a-\u202e\u2066-\u2069]/u;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const clean = (s) => !BIDI.test(s) && !CONTROL.test(s);

// Names a page or a lying server may send, and what the page is to show of each.
const HOSTILE = [
  ['Eve\u202e', 'Eve'], // the rest of the sentence reversed
  ['\u202eanaD', 'anaD'],
  ['Eve\u2067', 'Eve'], // an isolate left open
  ['Eve\u2069\u202e', 'Eve'], // a PDI to close the isolate the page puts around the name
  ['Eve\u202a\u202b\u202c\u202d', 'Eve'],
  ['Eve\u0000\u0007\u001b[31m', 'Eve   [31m'],
  ['Eve\u0085Smith', 'Eve Smith'],
  ['\u202e\u2066', ''], // nothing left: "Guest"
];

test('plainName drops bidi controls and control characters, and keeps marks, joiners and right-to-left letters', () => {
  for (const [sent, shown] of HOSTILE) assert.equal(plainName(sent), shown, JSON.stringify(sent));
  for (const name of ['Ann Quill', 'Bea 🎻 Ümlaut', 'דנה\u200f', 'فاطمة\u061c', '👩‍👩‍👧', 'می\u200cخواهم']) {
    assert.equal(plainName(name), name, name);
  }
  assert.equal(plainName(undefined), '');
  assert.equal(plainName(null), '');
});

/** page builds meeting.html's #toasts and a #live region that records what it says. */
function page() {
  const box = toastStacks(doc);
  doc.body.replaceChildren(box);
  const said = [];
  return { box, said, live: liveRegion({ said }) };
}

/** meeting is a joined moderator's session (roster, waiting list), its announcer on the clock. */
function meeting(clock, live, { e2ee = false } = {}) {
  const announcer = new Announcer(live, clock);
  const changed = { roster: 0, waiting: null };
  const s = Object.assign(Object.create(Session.prototype), rosterMethods, e2eeMethods, {
    ended: false, joined: true, e2ee, participantId: 'p-me', name: 'Mia', role: 'moderator',
    participants: new Map(), departed: new Set(), strayTracks: new Map(), names: new MemberNames(),
    keys: e2ee ? { peerJoined() {}, peerLeft() {}, stateOf: () => 'verified' } : null,
    grid: { ensure: () => ({ setTrack() {} }), update() {}, removeParticipant() {} },
    presence: new PresenceToasts({ clock, say: (text, o) => announcer.say(text, o) }),
    ui: { rosterChanged() { changed.roster++; }, waitingChanged(list) { changed.waiting = list; } },
    knockWrong: new Set(), waitingSeq: 0,
  });
  return { s, changed };
}

const toasts = (box) => box.querySelectorAll('.toast:not(.toast-out)');

test("a name's bidi controls reach neither the roster nor a toast nor what is said, in a plain meeting", (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  for (const [sent, shown] of HOSTILE) {
    const clock = new FakeClock();
    const { box, said, live } = page();
    const { s } = meeting(clock, live);
    s._participant({ id: 'p-eve', name: sent, role: 'participant', media: {} }, true);
    clock.advance(HOLD_MS * 2);
    const entry = s.participants.get('p-eve');
    assert.equal(entry.name, shown, `${JSON.stringify(sent)}: the roster's name`);
    const [toast] = toasts(box);
    assert.ok(toast, 'a join toast');
    assert.ok(clean(seen(toast)) && clean(spoken(toast)), `${JSON.stringify(sent)}: the toast ${JSON.stringify(seen(toast))}`);
    assert.equal(seen(toast), `${shown || 'Guest'} joined`);
    assert.ok(said.length > 0 && said.every(clean), `said: ${JSON.stringify(said)}`);
  }
});

test("a name's bidi controls do not come in through a key envelope", (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  for (const [sent, shown] of HOSTILE) {
    const clock = new FakeClock();
    const { box, live } = page();
    const { s } = meeting(clock, live, { e2ee: true });
    s._participant({ id: 'p-eve', name: 'the server says', role: 'participant', media: {} }, true);
    s.names.received('p-eve', sent);
    s._namesChanged();
    clock.advance(HOLD_MS * 2);
    assert.equal(s.participants.get('p-eve').name, shown, `${JSON.stringify(sent)}: the roster's name`);
    assert.equal(s._chatName('p-eve').name, shown, `${JSON.stringify(sent)}: a chat line's sender`);
    const [toast] = toasts(box);
    assert.ok(toast && clean(seen(toast)), `${JSON.stringify(sent)}: the toast ${toast && JSON.stringify(seen(toast))}`);
  }
});

test("a knocker's bidi controls reach no waiting list, plain or sealed", async () => {
  for (const [sent, shown] of HOSTILE) {
    const plain = meeting(new FakeClock(), liveRegion());
    await plain.s._waitingList([{ participantId: 'w1', name: sent, waitingMs: 1000 }]);
    assert.equal(plain.changed.waiting[0].name, shown, `${JSON.stringify(sent)}: a plain knock's name`);

    const sealed = meeting(new FakeClock(), liveRegion(), { e2ee: true });
    sealed.s._knockLink = async () => 'verified';
    sealed.s._knockName = async () => sent; // as the knocker's page sealed it
    await sealed.s._waitingList([{ participantId: 'w1', waitingMs: 1000 }]);
    assert.equal(sealed.changed.waiting[0].name, shown, `${JSON.stringify(sent)}: a sealed knock's name`);
  }
});

// A sentence puts each name in an isolate (i18n-core.js): FIRST STRONG ISOLATE, the name,
// POP DIRECTIONAL ISOLATE. Bare, two right-to-left names in "{first}, {second} and
// {third} joined" were laid out as one right-to-left run, the second to the left of the
// first with the comma moved, and a name's own "!" or digits showed at its wrong end.
const FSI = '\u2068';
const PDI = '\u2069';
const ISOLATES = /[\u2068\u2069]/u;
const NAME_KEYS = /\{(name|first|second|third)\}/;
const textsOf = (value) => (typeof value === 'string' ? [value] : Object.values(value));

test('every sentence of both catalogues puts a name in an isolate of its own', () => {
  const params = { name: 'דנה!', first: 'רון', second: 'سارة 2', third: 'Bo', count: 3 };
  let sentences = 0;
  for (const [lang, catalogue] of [['en', en], ['de', de]]) {
    for (const [key, value] of Object.entries(catalogue)) {
      if (!textsOf(value).some((text) => NAME_KEYS.test(text))) continue;
      for (const count of [1, 3]) {
        const text = translate(catalogue, en, lang, key, { ...params, count }, lang);
        sentences++;
        for (const [placeholder, name] of Object.entries(params)) {
          if (placeholder === 'count' || !textsOf(value).some((t) => t.includes(`{${placeholder}}`))) continue;
          assert.ok(text.includes(`${FSI}${name}${PDI}`), `${lang} ${key}: ${JSON.stringify(text)} holds ${name} not isolated`);
        }
        const opened = [...text].filter((c) => c === FSI).length;
        assert.equal(opened, [...text].filter((c) => c === PDI).length, `${lang} ${key}: isolates unbalanced`);
      }
    }
  }
  assert.ok(sentences > 60, `only ${sentences} sentences name someone`);
  // Nothing else is isolated: a count, a time, a title.
  assert.equal(translate(en, en, 'en', 'modctl.knock.tab-title', { count: 2, title: 'Conclave' }), '(2) Conclave');
});

test('a right-to-left name is isolated in the toast a moderator sees, and nothing heard carries the isolates', (t) => {
  t.after(() => setLanguage('en'));
  for (const lang of ['en', 'de']) {
    setLanguage(lang);
    const clock = new FakeClock();
    const { box, said, live } = page();
    const { s } = meeting(clock, live);
    // The second brings a PDI to close the isolate around it early: plainName drops it.
    s._participant({ id: 'p-dana', name: 'דנה', role: 'participant', media: {} }, true);
    clock.advance(HOLD_MS * 2);
    s._participant({ id: 'p-ron', name: '\u2069רון!', role: 'participant', media: {} }, true);
    clock.advance(HOLD_MS * 2);
    const [toast] = toasts(box);
    assert.ok(toast, 'a join toast');
    const sentence = lang === 'en' ? `${FSI}דנה${PDI} and ${FSI}רון!${PDI} joined` : `${FSI}דנה${PDI} und ${FSI}רון!${PDI} sind beigetreten`;
    assert.equal(toast.textContent, sentence, `${lang}: the toast's text`);
    assert.ok(said.length > 0, 'the joins were announced');
    assert.ok(said.every((text) => !ISOLATES.test(text)), `${lang}: said with isolates: ${JSON.stringify(said)}`);
    const heard = lang === 'en' ? ['דנה joined', 'רון! joined'] : ['דנה ist beigetreten', 'רון! ist beigetreten'];
    assert.deepEqual(said, heard, `${lang}: said`);
  }
});

test("a name's aria-label is heard without the isolates, its tooltip keeps them, and a name of its own element takes its own direction", (t) => {
  t.after(() => setLanguage('en'));
  setLanguage('en');
  const button = el('button', { i18nAttr: { 'aria-label': 'waiting.deny.label', title: 'waiting.deny.label' }, i18nParams: { name: 'דנה' } });
  doc.body.replaceChildren(button);
  assert.equal(button.getAttribute('aria-label'), 'Deny דנה');
  assert.equal(button.getAttribute('title'), `Deny ${FSI}דנה${PDI}`);
  setLanguage('de'); // drawn again by the switch
  assert.equal(button.getAttribute('aria-label'), 'דנה ablehnen');
  assert.equal(button.getAttribute('title'), `${FSI}דנה${PDI} ablehnen`);

  const name = fillName(doc.createElement('span'), { name: 'דנה 2' });
  assert.equal(name.getAttribute('dir'), 'auto', "a list's name is laid out in its own direction");
});

test('a name is cut to the characters the server allows, and its invisible characters are dropped', async () => {
  assert.equal(MAX_NAME_CHARS, 400, 'signaling MaxNameChars');
  assert.equal(plainName('a'.repeat(100_000)), 'a'.repeat(MAX_NAME_CHARS));
  // Counted in code points, as the server counts: no half of a surrogate pair is left.
  assert.equal(plainName('😀'.repeat(1000)), '😀'.repeat(MAX_NAME_CHARS));
  assert.equal(plainName(`Ann${' '.repeat(397)}Quill`), 'Ann', 'a cut that leaves spaces at the end is trimmed');
  assert.equal(plainName('x'.repeat(MAX_NAME_CHARS)), 'x'.repeat(MAX_NAME_CHARS));

  // A look-alike of a member: the same letters with characters between that draw nothing.
  for (const sent of ['An\u200bna', '\ufeffAnna', 'An\u2060na', 'Anna\u00ad', 'A\u2063nna', '\u206aAnna']) {
    assert.equal(plainName(sent), 'Anna', JSON.stringify(sent));
  }
  assert.equal(plainName('\u200b\u200b'), '', 'nothing left: "Guest"');

  // Through the page: a lying server's roster and waiting list, a sealed knock.
  const clock = new FakeClock();
  const { live, said } = page();
  const { s, changed } = meeting(clock, live);
  s._participant({ id: 'p-long', name: 'L'.repeat(50_000), role: 'participant', media: {} }, true);
  s._participant({ id: 'p-anna', name: 'An\u200bna', role: 'participant', media: {} }, true);
  clock.advance(HOLD_MS * 2);
  assert.equal(s.participants.get('p-long').name.length, MAX_NAME_CHARS, "the roster's long name");
  assert.equal(s.participants.get('p-anna').name, 'Anna', "the roster's look-alike");
  assert.ok(said.every((text) => text.length < 2 * MAX_NAME_CHARS), `said ${said.map((x) => x.length)} characters`);
  await s._waitingList([{ participantId: 'w1', name: 'W'.repeat(10_000), waitingMs: 1000 }]);
  assert.equal(changed.waiting[0].name.length, MAX_NAME_CHARS, "a plain knock's long name");
  const sealed = meeting(new FakeClock(), liveRegion(), { e2ee: true });
  sealed.s._knockLink = async () => 'verified';
  sealed.s._knockName = async () => 'An\u200bna';
  await sealed.s._waitingList([{ participantId: 'w1', waitingMs: 1000 }]);
  assert.equal(sealed.changed.waiting[0].name, 'Anna', "a sealed knock's look-alike");
});

test('a name of Hangul fillers or other blanks is no name: "Guest", in the roster and its toast', (t) => {
  // The fillers (U+115F, U+1160, U+3164, U+FFA0) are letters to Unicode and draw nothing.
  t.after(() => setLanguage('en'));
  setLanguage('en');
  for (const blank of ['\u3164', '\u115f\u1160', '\uffa0\uffa0', '\u3164 \u3164', '\u2800', ' \u2800\u200b ']) {
    assert.equal(plainName(blank), '', JSON.stringify(blank));
  }
  assert.equal(plainName('\u3164Bo\u3164'), 'Bo');
  assert.equal(plainName('An\u3164na'), 'Anna', 'a look-alike of Anna');
  const clock = new FakeClock();
  const { box, live } = page();
  const { s } = meeting(clock, live);
  s._participant({ id: 'p-x', name: '\u3164\u3164', role: 'participant', media: {} }, true);
  clock.advance(HOLD_MS * 2);
  assert.equal(s.participants.get('p-x').name, '', 'no name: shown as "Guest"');
  assert.deepEqual(toasts(box).map(seen), ['Guest joined']);
});
