// Names of others carry no bidi embedding, override or isolate and no control character
// into the page (name-text.js): an override (U+202E) in a name reversed what followed it
// to the end of the paragraph, "Eve\u202E joined" was seen as "Eve denioj", and a name
// could turn the words of a sentence after it into others. Names come from the server in
// a plain meeting (the roster, the waiting list; a lying server sends what it likes) and
// from other pages in an encrypted one (key envelopes, sealed knock names), which the
// server never sees.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM, seen, spoken } from './mini-dom.mjs';
import { FakeClock } from './harness.mjs';
import { liveRegion } from './live-region.mjs';

const doc = installMiniDOM();
const { Announcer, HOLD_MS } = await import('../static/js/announcer.js');
const { PresenceToasts } = await import('../static/js/presence-toasts.js');
const { MemberNames } = await import('../static/js/e2ee-names.js');
const { rosterMethods } = await import('../static/js/session-roster.js');
const { e2eeMethods } = await import('../static/js/session-e2ee.js');
const { Session } = await import('../static/js/session.js');
const { plainName } = await import('../static/js/name-text.js');
const { setLanguage } = await import('../static/js/i18n.js');

// Every explicit bidi control and the C0 and C1 controls a name must not bring in.
const BIDI = /[\u202a-\u202e\u2066-\u2069]/u;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
const clean = (s) => !BIDI.test(s) && !CONTROL.test(s);

// Names a page or a lying server may send, and what the page is to show of each.
const HOSTILE = [
  ['Eve\u202e', 'Eve'], // the rest of the sentence reversed
  ['\u202eanaD', 'anaD'],
  ['Eve\u2067', 'Eve'], // an isolate left open
  ['Eve\u2069\u202e', 'Eve'], // a PDI to close an isolate the page might put around the name
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
  const make = (id, live) => {
    const n = doc.createElement('div');
    n.setAttribute('id', id);
    if (live) n.setAttribute('aria-live', live);
    return n;
  };
  const box = make('toasts');
  box.append(make('toasts-alert', 'assertive'), make('toasts-polite', 'polite'), make('toasts-quiet', 'off'));
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
