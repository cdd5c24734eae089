// A waiting person's knock again after a drop (reknock.js), on harness.mjs's FakeClock:
// the knock lives as long as its websocket, so a Wi-Fi blip in the waiting room ended
// at "Disconnected" and the moderators saw the knock go. The page now knocks again by
// itself, with backoff, for at most 90 s from the drop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from './harness.mjs';
import { Reknock, REKNOCK_GIVE_UP_MS, REKNOCK_STABLE_MS } from '../static/js/reknock.js';

/** settled lets the probe's promise and what follows it run. */
const settled = () => new Promise((resolve) => setImmediate(resolve));

function fixture({ up = () => true } = {}) {
  const clock = new FakeClock();
  const log = { knocks: 0, gaveUp: 0, showing: [], probes: 0 };
  const r = new Reknock({
    knock: () => { log.knocks++; },
    giveUp: () => { log.gaveUp++; },
    showing: (on) => log.showing.push(on),
    probe: async () => { log.probes++; return up(); },
    clock,
    random: () => 0.5, // no jitter
  });
  // advance runs the timers due, then lets the probe answer.
  const advance = async (ms) => { clock.advance(ms); await settled(); };
  return { clock, log, r, advance };
}

test('a drop in the waiting room knocks again once the server answers, and says so while it does', async () => {
  const { log, r, advance } = fixture();
  assert.equal(r.dropped('disconnected'), true);
  assert.deepEqual(log.showing, [true]);
  assert.equal(log.knocks, 0, 'not at once: the backoff first');
  await advance(250);
  assert.equal(log.probes, 1);
  assert.equal(log.knocks, 1);
  assert.equal(r.knocked(), true, 'the knock again reached the waiting room');
  assert.deepEqual(log.showing, [true, false]);
  assert.equal(r.knocked(), false, 'a later lobby message is no knock again');
});

test('a server that stays away: attempts with backoff, then it gives up after 90 s, once', async () => {
  let up = false;
  const { log, r, advance } = fixture({ up: () => up });
  assert.equal(r.dropped('shutdown'), true);
  for (let t = 0; t < REKNOCK_GIVE_UP_MS + 10000; t += 500) await advance(500);
  assert.equal(log.knocks, 0);
  assert.equal(log.gaveUp, 1);
  assert.ok(log.probes >= 25 && log.probes <= 40, `probes in 90 s: ${log.probes}`);
  assert.deepEqual(log.showing, [true, false]);
  up = true;
  await advance(10000);
  assert.equal(log.knocks, 0, 'nothing after giving up');
});

test('knocks that fail as they are made go on until 90 s from the drop, then the page shows the failure', async () => {
  const { clock, log, r, advance } = fixture();
  assert.equal(r.dropped('disconnected'), true);
  let knocks = 0;
  let over = 0;
  while (!over && clock.now() - 1_000_000 < 2 * REKNOCK_GIVE_UP_MS) {
    await advance(100);
    if (log.knocks > knocks) {
      knocks = log.knocks;
      // The new websocket fails too (refused, or dropped before the lobby message).
      if (!r.dropped('unreachable')) over = clock.now() - 1_000_000;
    }
  }
  assert.ok(knocks >= 20, `knocks again in 90 s: ${knocks}`);
  assert.ok(over >= REKNOCK_GIVE_UP_MS && over < REKNOCK_GIVE_UP_MS + 5000, `given up ${over} ms after the drop`);
  assert.equal(log.gaveUp, 0, 'the failed knock ends through the page, not giveUp');
  assert.deepEqual(log.showing, [true, false]);
});

test('what is not worth another knock stops it: denied, ended, a wrong password', async () => {
  for (const kind of ['denied', 'ended', 'wrong_password', 'removed', 'locked']) {
    const { log, r, advance } = fixture();
    assert.equal(r.dropped('disconnected'), true);
    assert.equal(r.dropped(kind), false, kind);
    await advance(10000);
    assert.equal(log.knocks, 0, `${kind}: no knock after it`);
    assert.deepEqual(log.showing, [true, false], kind);
  }
  const { log, r, advance } = fixture();
  assert.equal(r.dropped('denied'), false, 'a first failure that is no drop');
  await advance(10000);
  assert.equal(log.knocks, 0);
  assert.deepEqual(log.showing, []);
});

test('Leave (or being let in) while a knock again waits for the probe: nothing is sent', async () => {
  let answer;
  const { clock, log, r } = fixture();
  r.probe = () => new Promise((resolve) => { answer = resolve; log.probes++; });
  assert.equal(r.dropped('disconnected'), true);
  clock.advance(250);
  assert.equal(log.probes, 1);
  r.stop();
  answer(true);
  await settled();
  assert.equal(log.knocks, 0);
  assert.equal(log.gaveUp, 0);
});

test('a drop soon after knocking again goes on with the backoff; after 30 s waiting it starts afresh', async () => {
  const { log, r, advance } = fixture();
  const waitFor = async (knocks) => {
    let waited = 0;
    while (log.knocks < knocks) {
      await advance(50);
      waited += 50;
    }
    return waited;
  };
  r.dropped('disconnected');
  assert.equal(await waitFor(1), 250);
  r.knocked();
  r.dropped('disconnected'); // a second blip at once
  assert.equal(await waitFor(2), 1000, 'the second wait of the backoff');
  r.knocked();
  await advance(REKNOCK_STABLE_MS);
  r.dropped('disconnected');
  assert.equal(await waitFor(3), 250, 'a knock that held 30 s starts the backoff afresh');
});

test('a server that takes each knock again and drops it at once: given up 90 s after the first drop, not knocked at for ever', async () => {
  // Each knock again reaches the waiting room and its link drops a moment later (a proxy
  // that cuts websockets, a path that loses them): the give-up clock started again at
  // each of these drops, so the page knocked every few seconds without end, the
  // moderators' pages chimed for each new knock, a screen reader said both texts each time.
  const { clock, log, r, advance } = fixture();
  const start = clock.now();
  assert.equal(r.dropped('disconnected'), true);
  let knocks = 0;
  let over = 0;
  while (!over && clock.now() - start < 4 * REKNOCK_GIVE_UP_MS) {
    await advance(100);
    if (log.knocks > knocks) {
      knocks = log.knocks;
      assert.equal(r.knocked(), true, 'the knock again reached the waiting room');
      await advance(500);
      if (!r.dropped('disconnected')) over = clock.now() - start;
    }
  }
  assert.ok(over >= REKNOCK_GIVE_UP_MS && over < REKNOCK_GIVE_UP_MS + 5000, `given up ${over} ms after the first drop (0: never), after ${knocks} knocks again`);
  await advance(10000);
  assert.equal(log.knocks, knocks, 'nothing after giving up');
});

test('the first knock, dropped soon after it reached the waiting room, knocks again for the whole 90 s', async () => {
  const { clock, log, r, advance } = fixture();
  await advance(600_000); // long after the page was loaded
  assert.equal(r.knocked(), false, 'the first knock is no knock again');
  await advance(1000);
  const start = clock.now();
  assert.equal(r.dropped('disconnected'), true, 'a drop 1 s after the first knock');
  await advance(250);
  assert.equal(log.knocks, 1);
  assert.equal(r.dropped('unreachable'), true);
  await advance(REKNOCK_GIVE_UP_MS - 5000);
  assert.equal(r.dropped('unreachable'), true, `still knocking again ${clock.now() - start} ms after the drop`);
});
