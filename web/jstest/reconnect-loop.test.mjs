// Reconnecting against a server that welcomes every resume and drops the connection at
// once (a hostile one, or one cutting a client too slow for its queue): the page backs
// off as if the attempts had failed, instead of resuming every 250 ms for ever; a
// connection that lasted starts the backoff afresh. Time is node's mock clock.
import { mock, test } from 'node:test';
import { stepWall } from './wall-step.mjs';
import assert from 'node:assert/strict';
import './page-globals.mjs';

const element = () => ({ hidden: false, dataset: {}, textContent: '' });
globalThis.document = {
  body: element(), documentElement: element(),
  querySelector: () => element(), querySelectorAll: () => [], getElementById: () => null,
  addEventListener() {}, removeEventListener() {},
};
let serverUp = true; // whether the server answers the reachability probe
globalThis.window = {
  localStorage, sessionStorage, addEventListener() {}, removeEventListener() {},
  fetch: async () => (serverUp ? { ok: true, status: 200 } : Promise.reject(new TypeError('NetworkError'))),
};

const { Reconnect } = await import('../static/js/reconnect.js');

/** flush lets the probe's promises and the attempts they start run. */
const flush = async () => { for (let i = 0; i < 10; i++) await Promise.resolve(); };

/** run drives a Reconnect whose every attempt is welcomed and dropped after lastMs. */
async function run(lastMs, forMs) {
  const attempts = [];
  const reconnect = new Reconnect({
    attempt: () => {
      attempts.push(Date.now());
      reconnect.remember('p-alice', 'y'.repeat(43));
      reconnect.joined();
      setTimeout(() => reconnect.dropped(), lastMs);
    },
    giveUp: () => assert.fail('gave up'),
  });
  reconnect.remember('p-alice', 'y'.repeat(43));
  reconnect.joined(); // in the meeting, for a while
  mock.timers.tick(60000);
  assert.equal(reconnect.dropped(), true);
  for (let t = 0; t < forMs; t += 50) {
    mock.timers.tick(50);
    await flush();
  }
  reconnect._stop();
  return attempts;
}

test('welcomed and dropped at once, the attempts back off', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    const attempts = await run(10, 30000);
    // 250 ms, 1 s, 2 s, then 3 s apart (±20 %): about 11 in 30 s, not 100.
    assert.ok(attempts.length >= 8 && attempts.length <= 14, `${attempts.length} attempts in 30 s`);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
    assert.ok(gaps.slice(3).every((g) => g >= 2400), `gaps ${gaps}`);
  } finally {
    mock.timers.reset();
  }
});

test('a connection that lasted starts the backoff afresh', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    const attempts = await run(31000, 70000);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
    // Each attempt's connection lasts 31 s: every drop is a first one, retried within 300 ms.
    assert.ok(attempts.length >= 2 && gaps.every((g) => g <= 31000 + 300), `gaps ${gaps}`);
  } finally {
    mock.timers.reset();
  }
});

test('a drop soon after joining still waits out the outage before giving up', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    const attempts = [];
    let gaveUp = false;
    const reconnect = new Reconnect({
      attempt: () => { attempts.push(Date.now()); reconnect.joined(); },
      giveUp: () => { gaveUp = true; },
    });
    reconnect.remember('p-alice', 'y'.repeat(43));
    reconnect.joined(); // the join's welcome
    mock.timers.tick(5000);
    serverUp = false; // a 20 s outage, 5 s after joining
    assert.equal(reconnect.dropped(), true);
    for (let t = 0; t < 20000; t += 50) {
      mock.timers.tick(50);
      await flush();
    }
    assert.equal(gaveUp, false, 'gave up during a 20 s outage');
    serverUp = true;
    for (let t = 0; t < 5000 && attempts.length === 0; t += 50) {
      mock.timers.tick(50);
      await flush();
    }
    assert.equal(attempts.length, 1, 'no attempt once the server was back');
    reconnect._stop();
  } finally {
    serverUp = true;
    mock.timers.reset();
  }
});

test('a flapping network keeps its membership while each outage is short', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  try {
    let gaveUp = null;
    let welcomes = 0;
    const reconnect = new Reconnect({
      attempt: () => { welcomes++; reconnect.remember('p-alice', 'y'.repeat(43)); reconnect.joined(); },
      giveUp: (kind) => { gaveUp = kind; },
    });
    reconnect.remember('p-alice', 'y'.repeat(43));
    reconnect.joined();
    const run = async (ms) => { for (let t = 0; t < ms; t += 50) { mock.timers.tick(50); await flush(); } };
    await run(60000);
    for (let i = 0; i < 6 && !gaveUp; i++) {
      serverUp = false; // a 4 s outage, then a connection of some 20 s
      assert.equal(reconnect.dropped(), true);
      await run(4000);
      serverUp = true;
      await run(18000);
    }
    assert.equal(gaveUp, null, `gave up (${gaveUp}) after ${welcomes} resumes; every outage was 4 s`);
    assert.ok(welcomes >= 5, `${welcomes} resumes`);
    reconnect._stop();
  } finally {
    serverUp = true;
    mock.timers.reset();
  }
});

// The give-up window and the stable window are spans of the monotonic clock: on
// Date.now(), the machine setting its clock an hour ahead during an outage gave up at the
// next failed attempt (the membership lost, though the server kept it for its grace),
// and one set back an hour tried on for the hour after the server had let it go.
test('a wall clock set ahead during an outage does not give up the resume', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  try {
    const attempts = [];
    let gaveUp = null;
    const reconnect = new Reconnect({
      attempt: () => { attempts.push(Date.now()); reconnect.joined(); },
      giveUp: (kind) => { gaveUp = kind; },
    });
    reconnect.remember('p-alice', 'y'.repeat(43));
    reconnect.joined();
    mock.timers.tick(60000);
    serverUp = false; // a 10 s outage
    assert.equal(reconnect.dropped(), true);
    const run = async (ms) => { for (let t = 0; t < ms; t += 50) { mock.timers.tick(50); await flush(); } };
    await run(2000);
    stepWall(3_600_000); // NTP sets the clock an hour ahead
    await run(8000);
    assert.equal(gaveUp, null, 'gave up 10 s into an outage after the wall clock was set ahead an hour');
    serverUp = true;
    for (let t = 0; t < 5000 && attempts.length === 0; t += 50) await run(50);
    assert.equal(attempts.length, 1, 'no attempt once the server was back');
    reconnect._stop();
  } finally {
    serverUp = true;
    mock.timers.reset();
  }
});

test('a wall clock set back during an outage still gives up after the window', async () => {
  mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_700_000_000_000 });
  try {
    let gaveUp = null;
    const reconnect = new Reconnect({ attempt: () => assert.fail('attempted'), giveUp: (kind) => { gaveUp = kind; } });
    reconnect.remember('p-alice', 'y'.repeat(43));
    reconnect.joined();
    mock.timers.tick(60000);
    serverUp = false; // the server is gone for good
    assert.equal(reconnect.dropped(), true);
    const run = async (ms) => { for (let t = 0; t < ms && !gaveUp; t += 50) { mock.timers.tick(50); await flush(); } };
    await run(2000);
    stepWall(-3_600_000); // the clock set back an hour
    await run(100000); // the give-up window (90 s) and a backoff's wait past it
    assert.equal(gaveUp, 'unreachable', 'still trying 100 s into an outage after the wall clock was set back an hour');
    reconnect._stop();
  } finally {
    serverUp = true;
    mock.timers.reset();
  }
});
