// The page's spans read the monotonic clock (web/static/js/monotonic.js), not Date.now():
// each test here sets the wall clock an hour ahead or back, as the machine setting its
// time does (NTP after a laptop wakes, a person changing it), while the timers and the
// monotonic clock run on (wall-step.mjs), and wants the span unmoved.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { stepWall } from './wall-step.mjs';
import './media-standins.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Prejoin } = await import('../static/js/prejoin.js');
const { runningTime } = await import('../static/js/meeting-timer.js');
const { waitedFor } = await import('../static/js/waiting.js');
const heartbeat = await import('../static/js/heartbeat.js');
const viewReport = await import('../static/js/view-report.js');
const { Reknock } = await import('../static/js/reknock.js');
const { Announcer } = await import('../static/js/announcer.js');
const { KeyRequests, FIRST_WAIT_MS, systemClock } = await import('../static/js/e2ee/key-requests.js');

const HOUR = 3_600_000;
const mockClocks = (t) => {
  mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_700_000_000_000 });
  t.after(() => mock.timers.reset());
};

test('a wrong password\'s lock lasts its seconds whichever way the wall clock is set', (t) => {
  mockClocks(t);
  for (const step of [-HOUR, HOUR]) {
    const prejoin = new Prejoin(new LocalMedia(), { mic: false, camera: false, shareURL: 'https://meet.example/m/x', onJoin() {} });
    prejoin.nameInput.value = 'Ann';
    prejoin.passwordInput.value = 'secret';
    prejoin.askPassword({ message: 'wrong', lockMs: 30000, countdown: (s) => `wait ${s} s` });
    assert.equal(prejoin.joinBtn.disabled, true);
    mock.timers.tick(10000);
    stepWall(step);
    mock.timers.tick(1000);
    assert.equal(prejoin.joinBtn.disabled, true, `the lock ended 11 s into its 30 after the wall clock was set ${step / HOUR} h`);
    assert.equal(prejoin.passwordError.textContent, 'wait 19 s');
    mock.timers.tick(19000);
    assert.equal(prejoin.joinBtn.disabled, false, `the lock held past its 30 s after the wall clock was set ${step / HOUR} h`);
    clearInterval(prejoin.lockTimer);
  }
});

test('the meeting\'s running time does not jump with the wall clock', (t) => {
  mockClocks(t);
  let shown = '';
  const tick = runningTime((text) => { shown = text; });
  mock.timers.tick(65000);
  tick();
  assert.equal(shown, '01:05');
  stepWall(HOUR);
  mock.timers.tick(1000);
  tick();
  assert.equal(shown, '01:06', 'the wall clock set ahead an hour went into the running time');
  stepWall(-2 * HOUR);
  mock.timers.tick(1000);
  tick();
  assert.equal(shown, '01:07', 'the wall clock set back an hour went into the running time');
});

test('how long a knock has waited is read on the monotonic clock, a server\'s time alone on the wall clock', (t) => {
  mockClocks(t);
  // As session-roster.js makes an entry of a waiting_list's waitingMs, and waiting.js
  // reads it at its ticks.
  const entry = { waitedSince: performance.now() - 3 * 60000, since: '' };
  assert.deepEqual(waitedFor(entry), ['waiting.since.min', { min: 3 }]);
  stepWall(-HOUR);
  assert.deepEqual(waitedFor(entry), ['waiting.since.min', { min: 3 }], 'set back an hour');
  stepWall(2 * HOUR);
  mock.timers.tick(60000);
  assert.deepEqual(waitedFor(entry), ['waiting.since.min', { min: 4 }], 'set ahead an hour');
  // Only a server's `since` alone is read on the wall clock, which is all it can be.
  assert.deepEqual(waitedFor({ since: new Date(Date.now() - 120000).toISOString() }), ['waiting.since.min', { min: 2 }]);
});

test('the page\'s own clocks do not follow the wall clock', (t) => {
  mockClocks(t);
  const clocks = {
    'heartbeat.js realClock': heartbeat.realClock.now,
    'view-report.js realClock': viewReport.realClock.now,
    "reknock.js's": new Reknock({ knock() {}, giveUp() {} }).clock.now,
    "announcer.js's": new Announcer({ textContent: '' }).clock.now,
  };
  const moved = [];
  for (const [name, now] of Object.entries(clocks)) {
    const before = now();
    stepWall(HOUR);
    mock.timers.tick(1000);
    if (now() - before !== 1000) moved.push(name);
    stepWall(-HOUR);
  }
  assert.deepEqual(moved, [], 'clocks that moved with the wall clock set ahead an hour');
});

test('a sender whose frames fail is asked for its key again after a wall clock set back', (t) => {
  mockClocks(t);
  const asked = [];
  const requests = new KeyRequests({ ask: (pid) => { asked.push(pid); return true; } }); // the page's clock
  t.after(() => requests.close());
  requests.missing('p-b');
  assert.equal(asked.length, 1);
  stepWall(-HOUR);
  mock.timers.tick(FIRST_WAIT_MS);
  requests.missing('p-b'); // still failing
  assert.equal(asked.length, 2, 'no key request for the hour the wall clock was set back');
  // The own chat counter stays on the wall clock (chat-counter.test.mjs).
  assert.equal(systemClock.wall(), Date.now());
});
