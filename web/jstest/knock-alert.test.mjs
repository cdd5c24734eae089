// Knock alerts (web/static/js/knock-alert.js) over a reconnect: the session that
// resumes gets the waiting list again, and only knocks not announced before chime.
import { mock, test } from 'node:test';
import { stepWall } from './wall-step.mjs';
import assert from 'node:assert/strict';

// The few browser globals the module touches, before it is loaded.
globalThis.window = { localStorage: { getItem: () => null, setItem() {}, removeItem() {} } };
globalThis.navigator ??= { languages: ['en'], language: 'en' };
globalThis.Node ??= { ELEMENT_NODE: 1 };
globalThis.document = { title: 'Meeting', hidden: false, nodeType: 9, querySelector: () => null, querySelectorAll: () => [], documentElement: {} };

const { ALERT_GAP_MS, KnockAlert } = await import('../static/js/knock-alert.js');

/**
 * backgroundTab is a moderator's tab in the background on fake time, its notifications
 * granted: made is every notification made, in order; showing() the one the browser's
 * notification centre shows now (one per tag, a new one replaces it); each has `open`.
 */
function backgroundTab(t) {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => { mock.timers.reset(); delete window.Notification; document.hidden = false; });
  const centre = new Map();
  const made = [];
  window.Notification = class {
    static permission = 'granted';
    constructor(title, opts) {
      this.title = title;
      this.opts = opts;
      this.open = true;
      centre.set(opts.tag, this);
      made.push(this);
    }
    close() {
      this.open = false;
      if (centre.get(this.opts.tag) === this) centre.delete(this.opts.tag);
    }
  };
  window.focus = () => {};
  document.hidden = true;
  return { made, showing: () => centre.get('conclave-knock') };
}

test('a resumed session does not chime again for the knocks already announced', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  let chimes = 0;
  alert.chime = () => chimes++;
  const knock = (id) => ({ participantId: id, name: 'x' });

  alert.update([knock('p-1')]);
  assert.equal(chimes, 1);
  assert.match(document.title, /^\(1\) /);
  alert.reset(); // the connection dropped: the new session starts afresh
  assert.equal(document.title, 'Meeting');
  alert.update([knock('p-1')]); // its waiting list after the resume
  assert.equal(chimes, 1, 'the same knock chimed twice');
  assert.match(document.title, /^\(1\) /);
  mock.timers.tick(ALERT_GAP_MS);
  alert.update([knock('p-1'), knock('p-2')]);
  assert.equal(chimes, 2, 'a new knock did not chime');
  alert.update([]);
  assert.equal(document.title, 'Meeting');
});

test('knocks in a loop chime at most once per ALERT_GAP_MS; one that came meanwhile is chimed when it is over', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  let chimes = 0;
  alert.chime = () => chimes++;
  for (let i = 0; i < 40; i++) { // a knock and a leave every 100 ms, for 4 s
    alert.update([{ participantId: `p-${i}` }]);
    mock.timers.tick(50);
    alert.update([]);
    mock.timers.tick(50);
  }
  alert.update([{ participantId: 'p-last' }]); // still waiting when the gap is over
  assert.equal(chimes, 1);
  mock.timers.tick(ALERT_GAP_MS);
  assert.equal(chimes, 2, 'the knock that came meanwhile was not chimed');
  alert.update([]);
  alert.reset();
});

test('a knock the gap held back is still alerted across a reconnect', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  let chimes = 0;
  alert.chime = () => chimes++;
  const k = (id) => ({ participantId: id });
  alert.update([k('p-1')]); // chimes
  mock.timers.tick(1000);
  alert.update([k('p-1'), k('p-2')]); // held back by the gap
  mock.timers.tick(1000);
  alert.reset(); // the connection drops; a new session attaches
  alert.update([k('p-1'), k('p-2')]); // the resumed session's waiting list
  mock.timers.tick(ALERT_GAP_MS);
  assert.equal(chimes, 2, 'p-2 knocked and was never alerted');
  mock.timers.tick(ALERT_GAP_MS);
  assert.equal(chimes, 2, 'alerted twice');
  alert.update([]);
});

test('the knock notification is taken back once nobody waits, and when the session or the role ends', (t) => {
  const { made: shown } = backgroundTab(t);
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  alert.chime = () => {};
  alert.update([{ participantId: 'p-1' }]);
  assert.equal(shown.length, 1);
  assert.ok(shown[0].open);
  alert.update([{ participantId: 'p-1' }]); // still waiting: it stays
  assert.ok(shown[0].open);
  alert.update([]); // admitted, denied or gone: nobody waits
  assert.equal(shown[0].open, false, 'the notification still says someone waits');
  mock.timers.tick(ALERT_GAP_MS);
  alert.update([{ participantId: 'p-2' }]);
  assert.equal(shown.length, 2);
  alert.end(); // the session ended or the role was lost
  assert.equal(shown[1].open, false, 'the notification outlived the session');
});

test('a reconnect leaves the knock notification to the new waiting list, whose count it then says', (t) => {
  const { made, showing } = backgroundTab(t);
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  alert.chime = () => {};
  const k = (id) => ({ participantId: id });
  alert.update([k('p-1')]);
  mock.timers.tick(ALERT_GAP_MS);
  alert.update([k('p-1'), k('p-2'), k('p-3')]);
  assert.match(showing().opts.body, /3 people/);
  alert.reset(); // the connection drops; p-1, p-2 and p-3 still wait
  assert.ok(showing(), 'the reconnect took back the notification of people who still wait');
  alert.update([k('p-1'), k('p-2'), k('p-3')]); // the resumed session's waiting list
  assert.ok(showing());
  const before = made.length;
  alert.update([k('p-3')]); // two admitted by another moderator
  assert.match(showing().opts.body, /\b1 person\b/, `the notification still says "${showing().opts.body}"`);
  assert.equal(showing().opts.silent, true, 'correcting the count alerted again');
  alert.update([k('p-3')]);
  assert.equal(made.length, before + 1, 'the same count was notified again');
  alert.update([]);
  assert.equal(showing(), undefined, 'nobody waits and the notification stays');
  alert.end();
});

test('a knock after the gap makes one notification, which alerts and says the new count', (t) => {
  const { made } = backgroundTab(t);
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  alert.chime = () => {};
  const k = (id) => ({ participantId: id });
  alert.update([k('p-1')]);
  assert.equal(made.length, 1);
  mock.timers.tick(ALERT_GAP_MS); // the second knock comes after the gap: alerted at once
  alert.update([k('p-1'), k('p-2')]);
  assert.deepEqual(made.slice(1).map((n) => [n.opts.body, n.opts.silent]), [['2 people are in the waiting room', false]],
    'one knock, one notification: the alert, with the count');
  mock.timers.tick(ALERT_GAP_MS);
  assert.equal(made.length, 2, 'notified again with nothing new');
  // Within the gap a knock is held back from alerting: the one shown is corrected
  // quietly at once, and the alert follows when the gap is over.
  alert.update([k('p-1'), k('p-2'), k('p-3')]);
  mock.timers.tick(1000);
  alert.update([k('p-1'), k('p-2'), k('p-3'), k('p-4')]);
  assert.deepEqual(made.slice(2).map((n) => [n.opts.body, n.opts.silent]), [['3 people are in the waiting room', false], ['4 people are in the waiting room', true]]);
  mock.timers.tick(ALERT_GAP_MS);
  assert.deepEqual(made.slice(4).map((n) => [n.opts.body, n.opts.silent]), [['4 people are in the waiting room', false]]);
  alert.update([]);
  alert.end();
});

test('a tab that closes or reloads takes its knock notification with it', (t) => {
  const handlers = {};
  window.addEventListener = (type, fn) => { (handlers[type] ||= []).push(fn); };
  t.after(() => { delete window.addEventListener; });
  const { made: shown } = backgroundTab(t);
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  alert.chime = () => {};
  alert.update([{ participantId: 'p-1' }]);
  assert.equal(shown.length, 1);
  for (const fn of handlers.pagehide || []) fn({ persisted: false }); // the moderator closes the tab
  assert.equal(shown[0].open, false, 'the notification outlived the page');
});

// A waiting page whose connection died knocks again, and its new knock takes the old
// one's place (signaling/PROTOCOL.md, "Knocking again"): a new id, which says which
// knock it continues. It is the same request: the moderators' pages chimed for it
// again, as for someone new. One the gap held back is still alerted, once.
test('a knock that continues another (the page knocked again) does not chime again', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  let chimes = 0;
  alert.chime = () => chimes++;
  alert.update([{ participantId: 'p-1' }]);
  assert.equal(chimes, 1);
  mock.timers.tick(ALERT_GAP_MS);
  alert.update([{ participantId: 'p-2', continues: 'p-1' }]);
  mock.timers.tick(ALERT_GAP_MS);
  alert.update([{ participantId: 'p-3', continues: 'p-1' }]);
  mock.timers.tick(ALERT_GAP_MS);
  assert.equal(chimes, 1, 'the same request chimed again');
  assert.match(document.title, /^\(1\) /);

  // A new knock, held back by the gap, is replaced before the gap is over.
  alert.update([{ participantId: 'p-3', continues: 'p-1' }, { participantId: 'p-4' }]);
  assert.equal(chimes, 2);
  mock.timers.tick(1000);
  alert.update([{ participantId: 'p-3', continues: 'p-1' }, { participantId: 'p-5' }]);
  mock.timers.tick(1000);
  alert.update([{ participantId: 'p-3', continues: 'p-1' }, { participantId: 'p-6', continues: 'p-5' }]);
  mock.timers.tick(ALERT_GAP_MS);
  assert.equal(chimes, 3, 'the knock held back was not alerted once');
  mock.timers.tick(ALERT_GAP_MS);
  assert.equal(chimes, 3);
  alert.update([]);
});

// The gap between two alerts is a span of the monotonic clock: on Date.now(), a wall
// clock set back an hour (NTP after a wake, a changed system time) held every knock's
// chime for that hour, the one due meanwhile waiting on a timer of an hour.
test('a wall clock set back an hour does not hold the knocks\' alerts for the hour', (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  t.after(() => mock.timers.reset());
  const alert = new KnockAlert({ isModerator: () => true, openWaiting() {} });
  let chimes = 0;
  alert.chime = () => chimes++;
  alert.update([{ participantId: 'p-1' }]);
  assert.equal(chimes, 1);
  stepWall(-3_600_000);
  mock.timers.tick(ALERT_GAP_MS);
  alert.update([{ participantId: 'p-1' }, { participantId: 'p-2' }]);
  assert.equal(chimes, 2, 'a knock after the wall clock went back an hour was not chimed');
  alert.update([]);
  alert.reset();
});
