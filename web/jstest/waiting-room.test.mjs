// The moderator's waiting room (waiting.js): "Admit all" names whom it admits, the
// list shown (admit_all's participantIds), so a knock that comes after it was drawn
// keeps waiting; and a resumed session, which gets the same waiting list again, does
// not announce the knocks already announced.
import { test, mock } from 'node:test';
import { stepWall } from './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { liveRegion } from './live-region.mjs';
import { withoutIsolates } from './mini-dom.mjs';

// Elements by id: each records its click handler, its classes, attributes and children;
// #live records what is announced.
const classes = () => {
  const set = new Set();
  return {
    add: (...c) => c.forEach((x) => set.add(x)), remove: (...c) => c.forEach((x) => set.delete(x)),
    toggle: (c, on = !set.has(c)) => (on ? set.add(c) : set.delete(c), on), contains: (c) => set.has(c),
  };
};
const byId = new Map();
const element = (id) => {
  if (!byId.has(id)) {
    const listeners = {};
    byId.set(id, new Proxy({
      id, hidden: false, dataset: {}, disabled: false, offsetWidth: 0,
      // Texts and attributes as seen and heard: without the isolates a sentence puts
      // around a name (i18n-core.js), which draw nothing and are not heard.
      text: '', get textContent() { return this.text; }, set textContent(v) { this.text = withoutIsolates(v); },
      classList: classes(),
      addEventListener: (type, f) => { listeners[type] = f; },
      click: () => listeners.click && listeners.click(),
      attributes: {}, children: [],
      setAttribute(k, v) { this.attributes[k] = withoutIsolates(v); }, removeAttribute(k) { delete this.attributes[k]; },
      append(...c) { this.children.push(...c); }, replaceChildren(...c) { this.children = c; },
      querySelectorAll: () => [], focus() {},
      style: { setProperty() {} },
    }, { get: (t, k) => (k in t ? t[k] : () => {}) }));
  }
  return byId.get(id);
};
element('knock-admit').classList.add('btn', 'btn-small', 'btn-primary'); // as meeting.html has it
const announced = [];
const live = liveRegion({ said: announced });
globalThis.document = {
  querySelector: (sel) => element(sel.replace(/^#/, '')), querySelectorAll: () => [],
  getElementById: (id) => (id === 'live' ? live : null),
  createElement: () => element(Symbol('anonymous')), createTextNode: () => ({}),
  documentElement: element('html'), body: element('body'), addEventListener() {},
};
globalThis.window = { localStorage, sessionStorage, addEventListener() {} };

const { WaitingRoom } = await import('../static/js/waiting.js');
const { GAP_MS, HOLD_MS } = await import('../static/js/announcer.js');
const i18n = await import('../static/js/i18n.js');
// A sentence as the elements above keep it: without the isolates around names.
const heardT = (key, params) => withoutIsolates(i18n.t(key, params));

// Time moves only when a test says so: an announcement is written after the one before
// was held in the live region for its time (announcer.js), and spoken() lets that pass,
// in steps (mock.timers puts a timer set by a timer it runs after the whole tick).
mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
const spoken = () => {
  for (let ms = 0; ms <= HOLD_MS + GAP_MS; ms += 10) mock.timers.tick(10);
};

// shownRoom is a moderator's waiting room, shown, whose actions do nothing; it ends with
// the test t.
function shownRoom(t) {
  const room = new WaitingRoom({ admit() {}, deny() {}, admitAll() {}, openPanel() {}, isPanelOpen: () => false });
  t.after(() => room.setEnabled(false));
  room.setEnabled(true);
  return room;
}

test('"Admit all" admits the list shown; a resumed session does not announce it again', async (t) => {
  const sent = [];
  const room = new WaitingRoom({
    admit: (id) => sent.push(['admit', id]), deny() {}, admitAll: (ids) => sent.push(['admit_all', ids]),
    openPanel() {}, isPanelOpen: () => false,
  });
  t.after(() => room.setEnabled(false)); // stops the list's ticker
  room.setEnabled(true);
  room.update([{ participantId: 'w1', name: 'Ada', since: new Date().toISOString() }, { participantId: 'w2', name: 'Bo', since: new Date().toISOString() }]);
  spoken();
  assert.equal(announced.length, 1);
  element('btn-admit-all').click();
  assert.deepEqual(sent, [['admit_all', ['w1', 'w2']]]);

  // The connection drops and the session resumes: the same list comes again.
  room.setEnabled(false);
  room.setEnabled(true);
  room.update([{ participantId: 'w1', name: 'Ada', since: new Date().toISOString() }, { participantId: 'w2', name: 'Bo', since: new Date().toISOString() }]);
  spoken();
  assert.equal(announced.length, 1, `announced again: ${announced}`);
  // A new knock is announced.
  room.update([{ participantId: 'w2', name: 'Bo', since: new Date().toISOString() }, { participantId: 'w3', name: 'Cy', since: new Date().toISOString() }]);
  spoken();
  assert.equal(announced.length, 2);
});

test('the waiting room\'s count is written the way of the language (1,000, not 1000)', (t) => {
  const room = shownRoom(t);
  const since = new Date().toISOString();
  room.update(Array.from({ length: 1000 }, (_, i) => ({ participantId: `w${i}`, name: `W${i}`, since })));
  assert.equal(element('waiting-count').textContent, '(1,000)');
});

// A knock whose link is not proven yet (its knock proof not come or not read:
// e2ee/FORMAT.md "Knock proof"; it may never come) is let in only knowingly, by "Admit
// anyway", on the knock card as on its waiting-list entry (admitButton), and never by
// "Admit all". The card's Admit was disabled for it while the list's plain "Admit" let
// it in: a knock whose proof never came could be admitted from the list alone, with a
// button that did not say the link was unproven.
test('the knock card and the waiting list admit an unproven knock alike, by "Admit anyway"', async (t) => {
  const tr = heardT;
  const { admitButton } = await import('../static/js/waiting-admit.js');
  const sent = [];
  const room = new WaitingRoom({
    admit: (id) => sent.push(['admit', id]), deny() {}, admitAll: (ids) => sent.push(['admit_all', ids]),
    openPanel() {}, isPanelOpen: () => false,
  });
  t.after(() => room.setEnabled(false));
  room.setEnabled(true);
  const since = new Date().toISOString();
  const checking = { participantId: 'k1', name: 'Kai', since, link: 'checking' };
  room.update([checking]);
  assert.equal(element('knock-card').hidden, false);
  assert.equal(element('knock-admit').disabled, false, 'the card cannot admit what the list admits');
  assert.equal(element('knock-text').textContent, tr('e2ee14.knock.card-checking', { name: 'Kai' }), 'the card does not say the link is being checked');
  assert.equal(element('knock-admit').textContent, tr('e2ee14.knock.admit-anyway'), 'the card\'s Admit does not say the link is unproven');
  // Not the inviting default: the secondary style, as the entry's "Admit anyway".
  assert.equal(element('knock-admit').classList.contains('btn-primary'), false, 'the card\'s "Admit anyway" is a primary button');
  assert.equal(element('knock-admit').classList.contains('btn-secondary'), true);
  assert.deepEqual(admitButton(checking), { anyway: true, text: 'e2ee14.knock.admit-anyway', label: 'e2ee14.knock.admit-unchecked.label' },
    'the entry\'s Admit does not say the link is unproven');
  element('btn-admit-all').click();
  assert.deepEqual(sent, [], '"Admit all" lets in an unproven knock');
  element('knock-admit').click();
  assert.deepEqual(sent, [['admit', 'k1']]);

  // The check says the link is right: a plain Admit, on the card as on the entry.
  sent.length = 0;
  const verified = { ...checking, link: 'verified' };
  room.update([verified]);
  assert.equal(element('knock-admit').textContent, tr('waiting.admit'));
  assert.equal(element('knock-admit').classList.contains('btn-primary'), true, 'a plain Admit is not the primary button');
  assert.equal(element('knock-admit').classList.contains('btn-secondary'), false);
  assert.equal(element('knock-text').textContent, tr('waiting.knock.one', { name: 'Kai' }));
  assert.equal(admitButton(verified).anyway, false);
  element('knock-admit').click();
  assert.deepEqual(sent, [['admit', 'k1']]);
});

// A knock that continues another (its page knocked again after its connection died,
// signaling/PROTOCOL.md "Knocking again") is the same request in the same place: it
// was announced again as someone new, and brought back the knock card the moderator
// had closed.
test('a knock that continues another is not announced again, nor brings back the closed card', async (t) => {
  const room = shownRoom(t);
  const since = new Date().toISOString();
  spoken(); // what the tests before announced
  const before = announced.length;
  room.update([{ participantId: 'r1', name: 'Ria', since }]);
  spoken();
  assert.equal(announced.length, before + 1);
  element('knock-close').click();
  assert.equal(element('knock-card').hidden, true);
  room.update([{ participantId: 'r2', name: 'Ria', since, continues: 'r1' }]);
  room.update([{ participantId: 'r3', name: 'Ria', since, continues: 'r1' }]);
  spoken();
  assert.equal(announced.length, before + 1, `announced again: ${announced.slice(before)}`);
  assert.equal(element('knock-card').hidden, true, 'the closed knock card came back');
  room.update([{ participantId: 'r3', name: 'Ria', since, continues: 'r1' }, { participantId: 's1', name: 'Sam', since }]);
  spoken();
  assert.equal(announced.length, before + 2, 'a new knock was not announced');
});

// A `waiting_list` is the whole waiting room: an empty one says that nobody waits, and
// the knocks it ends (admitted, denied, gone) are forgotten, so whatever waits after it
// is told. An empty list forgot no knock for a while (d01faf2), to get past a resumed
// session that had no list yet and gave an empty one; such a session gives none now
// (WaitingRoom.follow, waiting-resume.test.mjs).
test('an empty list is nobody waiting: the knocks it ends are forgotten', async (t) => {
  const room = shownRoom(t);
  const since = new Date().toISOString();
  spoken(); // what the tests before announced
  const before = announced.length;
  const list = [{ participantId: 'e1', name: 'Eda', since }];
  room.update(list);
  spoken();
  assert.equal(announced.length, before + 1);
  element('knock-close').click();
  room.update([]); // another moderator let her in
  assert.equal(element('waiting-badge').hidden, true, 'the badge still counts a knock');
  assert.equal(element('waiting-empty').hidden, false, 'the list does not say that nobody waits');
  assert.deepEqual(element('waiting-list').children, []);
  assert.equal(element('knock-card').hidden, true);
  // What waits after it is news, announced and on the card again.
  room.update(list);
  spoken();
  assert.equal(announced.length, before + 2, 'a knock after an empty list was taken for one still waiting');
  assert.equal(element('knock-card').hidden, false, 'the knock card stayed closed for a knock after an empty list');
});

/** find is the first element under node with class cls, or undefined. */
function find(node, cls) {
  for (const child of node.children || []) {
    if (typeof child !== 'object') continue;
    if (String(child.className || '').split(' ').includes(cls)) return child;
    const deeper = find(child, cls);
    if (deeper) return deeper;
  }
  return undefined;
}

// A knocker whose name is empty (an end-to-end encrypted meeting's knock whose sealed
// name opened to nothing) is "Guest" on its entry. Its buttons' labels and the knock
// card's Admit said "Guest", the card's text and the announcement "Someone": the name
// was worked out twice, in two ways. One function names a knocker in all of them.
test('a knocker without a name is named alike on its entry, its buttons, the knock card and the announcement', async (t) => {
  const tr = heardT;
  const room = shownRoom(t);
  spoken(); // what the tests before announced
  const before = announced.length;
  room.update([{ participantId: 'g1', name: '', nameLabel: null, since: new Date().toISOString(), link: 'verified' }]);
  spoken();
  const guest = tr('common.guest');
  const entry = element('waiting-list').children[0];
  assert.equal(find(entry, 'waiting-name').textContent, guest);
  assert.equal(find(entry, 'btn-deny').attributes['aria-label'], tr('waiting.deny.label', { name: guest }));
  assert.equal(find(entry, 'btn-admit').attributes['aria-label'], tr('waiting.admit.label', { name: guest }));
  assert.equal(element('knock-admit').attributes['aria-label'], tr('waiting.admit.label', { name: guest }));
  assert.equal(element('knock-text').textContent, tr('waiting.knock.one', { name: guest }), 'the knock card names the knocker otherwise than its entry');
  assert.deepEqual(announced.slice(before), [tr('waiting.knock.one', { name: guest })], 'the announcement names the knocker otherwise than its entry');
});

// The knock card's Admit for one knocker has the name its waiting-list entry's Admit has
// ("Admit anyway, although Kai's link is not verified yet"): a screen reader said a bare
// "Admit anyway" there, naming nobody. Its visible text starts that name (WCAG "label in
// name": one who says "click Admit anyway" reaches it), in both languages; "Admit all"
// has no name but its text.
test('the knock card\'s Admit names the one knocker as the entry\'s does, and "Admit all" nobody', async (t) => {
  const tr = heardT;
  const { setLanguage } = i18n;
  const room = new WaitingRoom({ admit() {}, deny() {}, admitAll() {}, openPanel() {}, isPanelOpen: () => false });
  t.after(() => { room.setEnabled(false); setLanguage('en'); });
  room.setEnabled(true);
  const since = new Date().toISOString();
  const admit = element('knock-admit');
  const label = () => admit.attributes['aria-label'];
  for (const lang of ['en', 'de']) {
    setLanguage(lang);
    for (const [link, key] of [['checking', 'e2ee14.knock.admit-unchecked.label'], ['wrong', 'e2ee14.knock.admit-anyway.label'], ['verified', 'waiting.admit.label']]) {
      room.update([{ participantId: 'k1', name: 'Kai', since, link }]);
      assert.equal(label(), tr(key, { name: 'Kai' }), `${lang} ${link}: the card's Admit is named otherwise than the entry's`);
      assert.ok(label().toLowerCase().includes(admit.textContent.toLowerCase()), `${lang} ${link}: "${label()}" does not say "${admit.textContent}"`);
    }
    // A name not opened yet (e2ee-names.js) is "this person", as on the entry.
    room.update([{ participantId: 'k1', name: '…', nameLabel: tr('e2ee14.names.pending-label'), since, link: 'checking' }]);
    assert.equal(label(), tr('e2ee14.knock.admit-unchecked.label-someone'));
    room.update([{ participantId: 'k1', name: 'Kai', since, link: 'checking' }, { participantId: 'k2', name: 'Lu', since, link: 'verified' }]);
    assert.equal(label(), undefined, `${lang}: "Admit all" kept the one knocker's name`);
    assert.equal(admit.dataset.i18nAttr, undefined, `${lang}: a language switch would name the knocker again`);
  }
});

// A knocker whose name is a placeholder ("…" until its sealed name opens, or "Name
// unknown" for a wrong link: e2ee-names.js) is "Someone" on the knock card and in the
// announcement, which starts the sentence. Its buttons' labels put "Someone" in the
// name's place as well: "Admit Someone", and in German "Jemand einlassen", "Jemand
// trotzdem einlassen, obwohl …", where the object is "jemanden". Each has a label of its
// own now ("Admit this person", "Diese Person einlassen"), holding the button's text.
test('the buttons of a knocker whose name is a placeholder are labelled in sentences, in English and German', async (t) => {
  const tr = heardT;
  const { setLanguage } = i18n;
  const room = shownRoom(t);
  t.after(() => setLanguage('en'));
  const since = new Date().toISOString();
  for (const lang of ['en', 'de']) {
    setLanguage(lang);
    for (const [link, nameLabel] of [['verified', 'e2ee14.names.pending-label'], ['checking', 'e2ee14.names.pending-label'], ['wrong', 'e2ee14.names.unknown']]) {
      room.update([{ participantId: 'p1', name: '…', nameLabel: tr(nameLabel), since, link }]);
      const entry = element('waiting-list').children[0];
      const buttons = [find(entry, 'btn-deny'), find(entry, 'btn-admit'), element('knock-admit')];
      for (const b of buttons) {
        const label = b.attributes['aria-label'];
        const text = (b.children[0] && b.children[0].textContent) || b.textContent;
        assert.ok(label && !label.includes('{'), `${lang} ${link}: no label: ${label}`);
        assert.doesNotMatch(label, lang === 'de' ? /\bJemand\b/ : /\bSomeone\b/, `${lang} ${link}: "${label}" puts "${tr('waiting.someone')}" in the name's place`);
        assert.ok(label.toLowerCase().includes(text.toLowerCase()), `${lang} ${link}: "${label}" does not say "${text}"`);
      }
      // The card and the announcement start a sentence with it: "Jemand wartet auf Einlass".
      assert.ok(element('knock-text').textContent.startsWith(tr('waiting.someone')), `${lang} ${link}: ${element('knock-text').textContent}`);
    }
  }
});

// An encrypted meeting's knock whose sealed name has not opened shows "…", read out as
// "Name not yet received"; one whose link is wrong "Name unknown". The session put those
// texts into its waiting list when the list came (session-roster.js), so after a switch
// of language the entries kept them in the language switched from until the next list,
// while everything around them was in the new one.
test('the placeholder names of a waiting list follow a switch of language', async (t) => {
  const tr = heardT;
  const { setLanguage } = i18n;
  const { rosterMethods } = await import('../static/js/session-roster.js');
  const { marksMethods } = await import('../static/js/session-marks.js');
  const room = shownRoom(t);
  t.after(() => setLanguage('en'));
  setLanguage('en');
  // The session's handling of a `waiting_list` in an encrypted meeting: k1's link is
  // still being checked and its name not opened, k2's link is wrong.
  const session = {
    ...marksMethods, ended: false, joined: true, e2ee: true, waitingSeq: 0, knockWrong: new Set(), participants: new Map(),
    _knockLink: async (w) => (w.participantId === 'k2' ? 'wrong' : 'checking'),
    _knockName: async () => undefined,
    ui: { waitingChanged: (list) => room.update(list) },
  };
  await rosterMethods._waitingList.call(session, [{ participantId: 'k1', waitingMs: 0 }, { participantId: 'k2', waitingMs: 0 }]);
  // As seen (without what is visually hidden) and as read out (without what is
  // aria-hidden; an aria-label on a span without a role is not read by every screen reader).
  const classOf = (node) => `${typeof node.className === 'string' ? node.className : ''} ${(node.attributes && node.attributes.class) || ''}`.split(' ');
  const text = (node, skip) => {
    if (typeof node !== 'object' || skip(node)) return '';
    return node.children && node.children.length ? node.children.map((c) => text(c, skip)).join('') : String(node.textContent);
  };
  const names = () => element('waiting-list').children.map((entry) => {
    const name = find(entry, 'waiting-name');
    return [text(name, (n) => classOf(n).includes('sr-only')), text(name, (n) => n.attributes && n.attributes['aria-hidden'] === 'true')];
  });
  assert.deepEqual(names(), [['…', 'Name not yet received'], ['Name unknown', 'Name unknown']]);
  setLanguage('de');
  assert.deepEqual(names(), [[tr('e2ee14.names.pending'), 'Name noch nicht empfangen'], ['Name unbekannt', 'Name unbekannt']],
    'the placeholders stayed in the language switched from');
  spoken(); // the knocks' announcement
});

test('a knock let in while its announcement waits is not said, nor counted', (t) => {
  const room = shownRoom(t);
  const since = new Date().toISOString();
  room.update([{ participantId: 'w7', name: 'Ada', since }]);
  spoken();
  const before = announced.length;
  mock.timers.tick(60); // Ada's knock is in the live region: what comes now waits
  room.update([{ participantId: 'w7', name: 'Ada', since }, { participantId: 'w8', name: 'Bo', since }, { participantId: 'w9', name: 'Cy', since }]);
  // Another moderator lets Bo in before the hold is over.
  room.update([{ participantId: 'w7', name: 'Ada', since }, { participantId: 'w9', name: 'Cy', since }]);
  spoken();
  assert.deepEqual(announced.slice(before), [heardT('waiting.knock.one', { name: 'Cy' })]);
});

// The server allows a name of 400 characters (MaxNameChars): the knock card, 380 px
// wide, was a column of it over the meeting. The name is shown clipped (clipped.js),
// the card's sentence whole, and a screen reader reads the whole name.
test('the knock card shows a long name clipped and reads it whole', async (t) => {
  const tr = heardT;
  const { clipName, SHOWN_NAME_CHARS } = await import('../static/js/clipped.js');
  const room = shownRoom(t);
  const name = `Kai${'i'.repeat(396)}X`;
  room.update([{ participantId: 'k9', name, since: new Date().toISOString(), link: 'verified' }]);
  const [shown, whole] = element('knock-text').children;
  assert.ok(shown && whole, 'the card shows the whole name');
  assert.equal(shown.attributes['aria-hidden'], 'true');
  assert.deepEqual(shown.children.map(withoutIsolates), [tr('waiting.knock.one', { name: clipName(name) })]);
  assert.ok(clipName(name).length === SHOWN_NAME_CHARS && clipName(name).endsWith('…'));
  assert.equal(whole.className, 'sr-only');
  assert.deepEqual(whole.children, [tr('waiting.knock.one', { name })]);
});

// How long someone has waited is counted on from the server's waitingMs on the monotonic
// clock: the list's entries held a wall time (Date.now() less waitingMs), so after the
// wall clock was set back an hour every entry drawn again said "Waiting just now" for
// the hour, and one set ahead added the hour.
test('how long a knock has waited does not move with the wall clock', async (t) => {
  const { rosterMethods } = await import('../static/js/session-roster.js');
  const { marksMethods } = await import('../static/js/session-marks.js');
  const room = shownRoom(t);
  const session = {
    ...marksMethods, ended: false, joined: true, e2ee: false, waitingSeq: 0, knockWrong: new Set(), participants: new Map(),
    _knockLink: async () => undefined, _knockName: async () => undefined,
    ui: { waitingChanged: (list) => room.update(list) },
  };
  await rosterMethods._waitingList.call(session, [{ participantId: 'w-clock', name: 'Ada', waitingMs: 3 * 60000 }]);
  const waited = () => find(element('waiting-list').children[0], 'waiting-since').textContent;
  assert.equal(waited(), heardT('waiting.since.min', { min: 3 }));
  for (const step of [-3_600_000, 7_200_000]) {
    stepWall(step);
    room.update(room.list); // drawn again (a link's verdict, a language switch)
    assert.equal(waited(), heardT('waiting.since.min', { min: 3 }), `after the wall clock was set ${step / 3_600_000} h`);
  }
  stepWall(-3_600_000);
  spoken(); // the knock's announcement
});
