// What the page announces (dom.js announce) goes through one polite live region, #live.
// A screen reader reads a change of it a moment after it was made; announce() emptied
// the region and wrote its text 50 ms later, so two announcements within milliseconds
// (a resumed welcome's "You are back in the meeting" and a knock of the same moment, a
// mute and a raised hand) wrote the first and replaced it 2 ms later: it was never read.
// Each announcement is read now, once, and a burst is said in a few words, not read out
// one by one for minutes (announcer.js).
import { test, mock } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';

// READ_MS: how long a text must stay in the region for a screen reader to take it. An
// assumption of this test (a frame or two for the browser, then the screen reader's own
// queue), far below what the announcer holds a text for.
const READ_MS = 100;

/** region is #live recording each text written into it and how long it stayed. */
function region() {
  const writes = []; // {text, at, until}
  let text = '';
  const close = () => { if (writes.length && writes[writes.length - 1].until === null) writes[writes.length - 1].until = Date.now(); };
  const live = {
    get textContent() { return text; },
    set textContent(v) {
      close();
      text = String(v);
      if (text) writes.push({ text, at: Date.now(), until: null });
    },
  };
  /** read: the texts a screen reader read, those that stayed READ_MS or more (to now). */
  const read = () => writes.filter((w) => (w.until ?? Date.now()) - w.at >= READ_MS).map((w) => w.text);
  return { live, writes, read };
}

let current = region();
globalThis.document = {
  getElementById: (id) => (id === 'live' ? current.live : null),
  querySelectorAll: () => [], documentElement: {}, addEventListener() {},
};
globalThis.window = { localStorage, sessionStorage, addEventListener() {} };
mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });

const { announce, forgetAnnouncements } = await import('../static/js/dom.js');
const { t } = await import('../static/js/i18n.js');
const { GAP_MS, HOLD_MS } = await import('../static/js/announcer.js');

/** pass lets ms go by in steps (mock.timers runs a timer set by a timer only at the end of a tick). */
function pass(ms) {
  for (let i = 0; i < ms; i += 10) mock.timers.tick(10);
}

/** fresh gives each test a region of its own, whose announcements before it have been read. */
function fresh() {
  pass(10_000);
  current = region();
  return current;
}

/** sentences splits what was read into its sentences (the announcer ends each with a full stop). */
const sentences = (read) => read.flatMap((text) => text.split(/(?<=\.) /)).map((s) => s.replace(/\.$/, ''));

test('two announcements at once are both read, once each, in the order they came', () => {
  const { read } = fresh();
  const back = t('reconnect.back');
  const knock = t('waiting.knock.one', { name: 'Kai' });
  announce(back);
  pass(2);
  announce(knock, { kind: 'knock', many: (count) => t('waiting.knock.many', { count }) });
  pass(10_000);
  assert.deepEqual(sentences(read()), [back, knock]);
});

test('an announcement a moment after another waits until that one was read', () => {
  const { read } = fresh();
  const off = t('controls.mic.off');
  const raised = t('modctl.hands.raisedBy', { name: 'Lee' });
  announce(off);
  pass(60); // written
  announce(raised, { kind: 'hand' });
  pass(10_000);
  announce(off); // the same text again later is read again
  pass(10_000);
  assert.deepEqual(sentences(read()), [off, raised, off]);
});

test('a burst of 50 knocks is said in a few read-outs that count each knock once', () => {
  const { read } = fresh();
  const many = (count) => t('waiting.knock.many', { count });
  for (let i = 0; i < 50; i++) {
    announce(t('waiting.knock.one', { name: `K${i}` }), { kind: 'knock', many });
    pass(20); // one knock every 20 ms: a second of knocks
  }
  pass(10_000);
  const said = read();
  assert.ok(said.length <= 3, `read out ${said.length} times: ${JSON.stringify(said)}`);
  const counted = said.reduce((sum, text) => {
    if (text === t('waiting.knock.one', { name: 'K0' })) return sum + 1;
    const n = Number((text.match(/^(\d+) /) || [])[1]);
    assert.equal(text, many(n), `not a count of knocks: ${text}`);
    return sum + n;
  }, 0);
  assert.equal(counted, 50, JSON.stringify(said));
});

test('a burst of the page\'s own news says the latest few, and what else came in its place', () => {
  const { read } = fresh();
  const on = t('controls.mic.on');
  const off = t('controls.mic.off');
  const msg = t('chat.announce', { name: 'Ann', text: 'hi' });
  announce(t('reconnect.back'));
  pass(60); // written: what comes now waits
  for (let i = 0; i < 20; i++) announce(i % 2 ? on : off);
  announce(msg, { kind: 'chat', many: (count) => t('chat.announce-many', { count }) });
  announce(msg, { kind: 'chat', many: (count) => t('chat.announce-many', { count }) });
  pass(10_000);
  const said = sentences(read());
  assert.deepEqual(said, [t('reconnect.back'), on, off, on, t('chat.announce-many', { count: 2 })]);
});

test('what waits to be said when the session ends (Leave, the meeting ended) is not said over the screen that follows', () => {
  const { read, writes } = fresh();
  const chat = { kind: 'chat', many: (count) => t('chat.announce-many', { count }) };
  const first = t('chat.announce', { name: 'Ann', text: 'see you' });
  announce(first, chat);
  pass(60); // written: what comes now waits
  announce(t('chat.announce', { name: 'Bo', text: 'bye' }), chat);
  announce(t('waiting.knock.one', { name: 'Kai' }), { kind: 'knock' });
  announce(t('controls.mic.off'));
  forgetAnnouncements(); // meeting.js stopped(): Leave, an error screen, sent back
  pass(10_000);
  assert.deepEqual(read(), [first], 'news of the meeting left was said over the next screen');
  // What the page says after it is said, as soon as the text before was read.
  const lobby = t('lobby.announce');
  announce(lobby);
  pass(10_000);
  assert.deepEqual(read(), [first, lobby]);
  assert.equal(writes.length, 2);
});

// Last: it sets the mocked wall clock back.
test('a wall clock set back holds an announcement no longer than one that stays', () => {
  const { writes } = fresh();
  const off = t('controls.mic.off');
  const on = t('controls.mic.on');
  announce(off);
  pass(200); // written, and read
  mock.timers.setTime(Date.now() - 3_600_000); // the machine's clock set back an hour
  announce(on);
  pass(HOLD_MS + GAP_MS);
  assert.deepEqual(writes.map((w) => w.text), [off, on], 'an announcement waited for the clock to catch up');
});
