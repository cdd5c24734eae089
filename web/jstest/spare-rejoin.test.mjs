// The spare E2EE worker (e2ee-hooks.js prewarmMediaWorker, loaded once the session's
// worker runs) and the error screens (meeting.js showError, status.js offersRejoin): a
// screen with a way back ("Disconnected" after a reconnect gave up, "Try again" …)
// keeps it, and Rejoin's session takes it instead of loading a worker over a network
// that may have died without a close (its modules then never came, and the session
// failed closed after 30 s); a screen with no way back ("The meeting has ended",
// removed, declined, a wrong link …) ends it, as Leave does.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeWorker } from './fake-worker.mjs';
import './page-globals.mjs';

globalThis.document = {
  querySelectorAll: () => [], querySelector: () => null, getElementById: () => null,
  addEventListener() {}, removeEventListener() {}, documentElement: { lang: 'en' },
};

const { MediaCrypto, discardWarmWorker, prewarmMediaWorker } = await import('../static/js/e2ee-hooks.js');
const { FATAL, offersRejoin } = await import('../static/js/status.js');

// As meeting.js's showError and showLeft treat the spare.
const showError = (kind) => { if (!offersRejoin(kind)) discardWarmWorker(); };
const showLeft = () => discardWarmWorker();

/** joined: a session whose worker runs, and the spare it loaded (meeting.js join). */
function joined() {
  discardWarmWorker();
  FakeWorker.made = [];
  prewarmMediaWorker(); // the pre-join screen
  const mc = new MediaCrypto({ api: 'script', selfId: 'p-ann1' });
  mc.worker.say({ t: 'ready' });
  assert.equal(FakeWorker.made.length, 2, 'no spare loaded once the session\'s worker ran');
  return { mc, spare: FakeWorker.made[1] };
}

const withRejoin = Object.keys(FATAL).filter((k) => FATAL[k][2]);
const terminal = ['ended', 'removed', 'denied', 'unknown_meeting', 'invalid', 'link_invalid', 'link_incomplete',
  'not_encrypted', 'e2ee_version', 'unsupported_version', 'e2ee_unsupported'];

test('Rejoin from "Disconnected" takes the spare: no worker is loaded then', () => {
  const { mc, spare } = joined();
  mc.close(); // the connection died; the reconnect gave up
  showError('disconnected');
  assert.equal(spare.terminated, false, 'the "Disconnected" screen, which offers Rejoin, ended the spare');
  const again = new MediaCrypto({ api: 'script', selfId: 'p-ann2' }); // Rejoin
  assert.equal(again.worker, spare, 'Rejoin loaded a worker of its own');
  assert.equal(FakeWorker.made.length, 2);
  // Still fail closed: the spare holds nothing until taken, and the session is not ready
  // (sends nothing) until the worker says it runs.
  assert.deepEqual(spare.posted, [{ t: 'self', pid: 'p-ann2' }]);
  assert.equal(again.isReady, false);
  spare.say({ t: 'ready' });
  assert.equal(again.isReady, true);
  again.close();
  showLeft(); // Leave ends the next spare
  assert.equal(FakeWorker.made[2].terminated, true, 'Leave kept the spare');
});

test('every screen with a way back keeps the spare; every screen without one ends it', () => {
  for (const kind of [...withRejoin, 'something-new']) {
    const { mc, spare } = joined();
    mc.close();
    showError(kind);
    assert.equal(spare.terminated, false, `${kind} (which offers a way back) ended the spare`);
    discardWarmWorker();
  }
  assert.ok(withRejoin.includes('disconnected') && withRejoin.includes('locked') && withRejoin.includes('shutdown'));
  for (const kind of terminal) {
    assert.equal(FATAL[kind][2], null, `${kind} offers a way back`);
    const { mc, spare } = joined();
    mc.close();
    showError(kind);
    assert.equal(spare.terminated, true, `the ${kind} screen kept the spare`);
    assert.equal(discardWarmWorker(), false);
  }
});

test('a spare that failed on the error screen is not used by Rejoin', () => {
  const { mc, spare } = joined();
  mc.close();
  showError('disconnected');
  spare.fail();
  const again = new MediaCrypto({ api: 'script', selfId: 'p-ann3' });
  assert.equal(spare.terminated, true);
  assert.notEqual(again.worker, spare, 'Rejoin took a failed worker');
  again.close();
  discardWarmWorker();
});
