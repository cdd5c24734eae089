// What the page announces (dom.js announce) goes through one polite live region, #live.
// A screen reader reads a change of it a moment after it was made; announce() emptied
// the region and wrote its text 50 ms later, so two announcements within milliseconds
// (a resumed welcome's "You are back in the meeting" and a knock of the same moment, a
// mute and a raised hand) wrote the first and replaced it 2 ms later: it was never read.
// Each announcement is read now, once, and a burst is said in a few words, not read out
// one by one for minutes (announcer.js).
import { test, mock } from 'node:test';
import { stepWall } from './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { liveRegion } from './live-region.mjs';
import { withoutIsolates } from './mini-dom.mjs';

// READ_MS: how long a text must stay in the region for a screen reader to take it. An
// assumption of this test (a frame or two for the browser, then the screen reader's own
// queue), far below what the announcer holds a text for.
const READ_MS = 100;

/** region is #live recording each text written into it and how long it stayed. */
function region() {
  const writes = []; // {text, at, until}
  const close = () => { if (writes.length && writes[writes.length - 1].until === null) writes[writes.length - 1].until = Date.now(); };
  const live = liveRegion({
    onWrite: (text) => {
      close();
      if (text) writes.push({ text, at: Date.now(), until: null });
    },
  });
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
const i18n = await import('../static/js/i18n.js');
// The texts as heard: without the isolates a sentence puts around a name, which the
// announcer does not write into the region (i18n-core.js heardText).
const t = (key, params) => withoutIsolates(i18n.t(key, params));
const { GAP_MS, HOLD_MS, OWN_HOLD_MS } = await import('../static/js/announcer.js');

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
  forgetAnnouncements(); // meeting-end.js stopped(): Leave, an error screen, sent back
  pass(10_000);
  assert.deepEqual(read(), [first], 'news of the meeting left was said over the next screen');
  // What the page says after it is said, as soon as the text before was read.
  const lobby = t('lobby.no-moderator');
  announce(lobby);
  pass(10_000);
  assert.deepEqual(read(), [first, lobby]);
  assert.equal(writes.length, 2);
});

test('quick toggles of the microphone say the state now, not their history', () => {
  const { read } = fresh();
  const on = t('controls.mic.on');
  const off = t('controls.mic.off');
  const mic = { topic: 'mic', own: true };
  const msg = t('chat.announce', { name: 'Ann', text: 'hi' });
  announce(msg, { kind: 'chat' });
  pass(60); // written: what comes now waits
  announce(off, mic);
  announce(on, mic);
  announce(off, mic);
  pass(10_000);
  assert.deepEqual(sentences(read()), [msg, off]);
  // Pressed twice within a hold it is where it was last said: nothing new to say.
  announce(msg, { kind: 'chat' });
  pass(60);
  announce(on, mic);
  announce(off, mic);
  pass(10_000);
  assert.deepEqual(sentences(read()), [msg, off, msg]);
});

test('a person\'s own action is said first, and soon after what was being said', () => {
  const { writes } = fresh();
  const chat = { kind: 'chat', many: (count) => t('chat.announce-many', { count }) };
  const knock = t('waiting.knock.one', { name: 'Kai' });
  announce(t('chat.announce', { name: 'Ann', text: 'hi' }), chat);
  pass(60); // written: what comes now waits
  announce(knock, { kind: 'knock' });
  announce(t('chat.announce', { name: 'Bo', text: 'yo' }), chat);
  const pressed = Date.now();
  announce(t('controls.mic.off'), { topic: 'mic', own: true }); // M pressed
  pass(10_000);
  assert.equal(writes.length, 2, JSON.stringify(writes));
  assert.equal(writes[1].text, `${t('controls.mic.off')}. ${knock}. ${t('chat.announce', { name: 'Bo', text: 'yo' })}.`);
  assert.ok(writes[1].at - pressed <= OWN_HOLD_MS + GAP_MS, `confirmed ${writes[1].at - pressed} ms after the key`);
  assert.ok(writes[0].until - writes[0].at >= OWN_HOLD_MS, 'the text before was not left to be read');
});

test('a knock or a hand withdrawn before it is said is not said, nor counted', () => {
  const { read } = fresh();
  const knocking = new Set(['kai', 'lee', 'max']);
  const hands = new Set(['ann']);
  const knockMany = (count) => t('waiting.knock.many', { count });
  announce(t('reconnect.back'));
  pass(60); // written: what comes now waits
  for (const id of knocking) {
    announce(t('waiting.knock.one', { name: id }), { kind: 'knock', many: knockMany, holds: () => knocking.has(id) });
  }
  announce(t('modctl.hands.raisedBy', { name: 'ann' }), { kind: 'hand', holds: () => hands.has('ann') });
  knocking.delete('lee'); // another moderator let Lee in
  hands.delete('ann'); // Ann lowered her hand
  pass(10_000);
  assert.deepEqual(sentences(read()), [t('reconnect.back'), knockMany(2)]);
  announce(t('reconnect.back'));
  pass(60);
  announce(t('waiting.knock.one', { name: 'Kai' }), { kind: 'knock', many: knockMany, holds: () => knocking.has('kai') });
  announce(t('waiting.knock.one', { name: 'Max' }), { kind: 'knock', many: knockMany, holds: () => knocking.has('max') });
  knocking.delete('max');
  pass(10_000);
  assert.deepEqual(sentences(read()).slice(2), [t('reconnect.back'), t('waiting.knock.one', { name: 'Kai' })]);
});

// Last: it sets the mocked wall clock back.
test('a wall clock set back holds an announcement no longer than one that stays', () => {
  const { writes } = fresh();
  const off = t('controls.mic.off');
  const on = t('controls.mic.on');
  announce(off);
  pass(200); // written, and read
  stepWall(-3_600_000); // the machine's clock set back an hour: Date.now alone, the timers as they were
  announce(on);
  pass(HOLD_MS + GAP_MS);
  assert.deepEqual(writes.map((w) => w.text), [off, on], 'an announcement waited for the clock to catch up');
});
