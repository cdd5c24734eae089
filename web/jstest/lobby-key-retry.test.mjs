// A moderator's lobby key that the server refused as rate_limited (4 at once, one every
// 5 s: PROTOCOL.md, "Lobby keys") is sent again when the server takes one, once, where the
// page sent its key once a stretch as moderator (lobbyKeySent) and a refused one left every
// knocker unable to check its link or seal its name to this moderator for the stay. The
// wait is on the page's monotonic clock: a step of the wall clock does not move it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepWall } from './wall-step.mjs';
import { serverSays, sent } from './media-standins.mjs';
import { resumingPage } from './resume-page.mjs';
import { eventually } from './harness.mjs';

const { LOBBY_KEY_RETRY_MS } = await import('../static/js/session-join.js');

window.fetch = async () => ({ ok: true, status: 200 }); // the reachability probe: the server is up

const welcome = { participantId: 'p-mod', e2ee: true, role: 'moderator', resumeSecret: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG', participants: [] };
const lobbyKeys = () => sent.filter((m) => m.type === 'lobby_key');
// The page builds the key message with WebCrypto, whose promises settle on no timer:
// while the test's timers stand still, keysSent turns the event loop (setImmediate, not
// mocked) until n keys were sent. What must not be sent is judged where the page decides
// to send (sendsBegun: _sendLobbyKey taking the key as sent), which it does at once when
// a timer runs, so that no verdict waits for a time in which a key sent too early would
// come: on a busy machine such a key could come after the wait, and the test pass.
const turn = () => new Promise((resolve) => setImmediate(resolve));
async function keysSent(n, what) {
  const deadline = process.hrtime.bigint() + 120_000_000_000n;
  while (lobbyKeys().length < n) {
    if (process.hrtime.bigint() > deadline) assert.fail(`timed out waiting for ${what}`);
    await turn();
  }
}
function sendsBegun(s) {
  const counted = { n: 0 };
  const send = s._sendLobbyKey;
  s._sendLobbyKey = function sendCounted(...args) {
    const before = this.lobbyKeySent;
    const out = send.apply(this, args);
    if (!before && this.lobbyKeySent) counted.n++;
    return out;
  };
  return counted;
}

test('a lobby key refused as rate_limited is sent again when the server takes one, once', async (t) => {
  const p = resumingPage(t);
  sent.length = 0;
  p.open();
  await eventually(() => sent.some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', welcome);
  const s = p.session;
  await eventually(() => lobbyKeys().length === 1, 'the lobby key');
  const [first] = lobbyKeys();
  const begun = sendsBegun(s);

  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_800_000_000_000 });
  serverSays('error', { code: 'rate_limited', message: 'slow down' }, first.id);
  t.mock.timers.tick(LOBBY_KEY_RETRY_MS - 1);
  stepWall(-3_600_000); // the machine sets its clock back an hour: no wait grows by it
  assert.equal(begun.n, 0, 'the refused key was sent again before the server takes one');
  t.mock.timers.tick(1);
  assert.equal(begun.n, 1, 'the refused key was not sent again when the server takes one');
  await keysSent(2, 'the refused key sent again when the server takes one');
  const again = lobbyKeys()[1];
  assert.deepEqual(again.payload, first.payload, 'another key was sent in the place of the refused one');

  // Refused again (only a lying server does): sent again once more, never faster.
  serverSays('error', { code: 'rate_limited', message: 'slow down' }, again.id);
  serverSays('error', { code: 'rate_limited', message: 'slow down' }, again.id);
  t.mock.timers.tick(LOBBY_KEY_RETRY_MS);
  assert.equal(begun.n, 2, 'a key refused twice was not sent again once, or sent again more than once');
  await keysSent(3, 'the key refused twice sent again');
  // Taken: nothing more is sent.
  t.mock.timers.tick(10 * LOBBY_KEY_RETRY_MS);
  assert.equal(begun.n, 2, 'a key taken was sent again');
  // Another refusal of another message is no reason to send the key.
  serverSays('error', { code: 'rate_limited', message: 'slow down' }, sent.find((m) => m.type === 'join').id);
  t.mock.timers.tick(LOBBY_KEY_RETRY_MS);
  assert.equal(begun.n, 2, 'another message\'s refusal sent the key');
  // Every send the page began went out, and no other.
  await keysSent(3, 'the keys begun sent');
  assert.equal(lobbyKeys().length, 3, 'the page sent a lobby key it did not begin to send');
  assert.ok(!s.ended);
});
