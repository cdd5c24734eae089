// "New meeting" on the landing page (landing.js) makes a one-off room of the host's
// (POST /api/meetings): the Rooms card below, when it shows the host's rooms, lists it
// at once instead of at the host's next visit.
import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import { doc } from './landing-page.mjs';
import { eventually } from './harness.mjs';
import { stepWall } from './wall-step.mjs';

window.location = { origin: 'https://meet.example', hash: '#host=the-host.key', pathname: '/', search: '' };
window.history = { replaceState() {} };
globalThis.history = window.history;

const requests = [];
let refusal = null; // [status, body] of the next POST /api/meetings
globalThis.fetch = async (path, init = {}) => {
  requests.push(`${init.method || 'GET'} ${path}`);
  const answer = (status, data) => ({ ok: status < 300, status, headers: { get: () => null }, json: async () => data });
  if (path === '/api/meetings' && refusal) { const [status, body] = refusal; refusal = null; return answer(status, body); }
  if (path === '/api/meetings') return answer(201, { meetingId: 'AAAAAAAAAAAAAAAAAAAAAA', moderatorSecret: 'mod-secret', url: '/m/AAAAAAAAAAAAAAAAAAAAAA' });
  if (path === '/api/rooms') return answer(200, { rooms: [] });
  return answer(404, {});
};
const tick = () => new Promise((r) => setTimeout(r, 0));

test('the rooms card lists a meeting made with "New meeting" at once', async () => {
  await import('../static/js/landing.js');
  for (let i = 0; i < 50; i++) await tick();
  const lists = () => requests.filter((r) => r === 'GET /api/rooms').length;
  assert.equal(lists(), 1, `the card listed the host's rooms: ${requests}`);
  assert.equal(doc.querySelector('#rooms-body').hidden, false);
  doc.querySelector('#create-form').dispatch('submit');
  for (let i = 0; i < 50; i++) await tick();
  assert.ok(requests.includes('POST /api/meetings'), `${requests}`);
  assert.equal(lists(), 2, `the new meeting's room is not listed until the page is opened again: ${requests}`);
});

// Its 403 has two causes the server tells apart by a code (PROTOCOL.md, "Errors of the
// HTTP API"): the host's room limit, and a request taken for another site's (a proxy
// passing on another Host). The page blamed every 403 on the room limit.
test('"New meeting" refused says whether the room limit or the origin check refused it', async () => {
  await import('../static/js/landing.js');
  const { t } = await import('../static/js/i18n.js');
  const box = doc.querySelector('#create-error');
  for (const [body, key] of [
    [{ error: 'x', code: 'room_limit' }, 'rooms.error.forbidden'],
    [{ error: 'x', code: 'cross_origin' }, 'rooms.error.cross-origin'],
    [{ error: 'x' }, 'rooms.error.status'],
  ]) {
    refusal = [403, body];
    doc.querySelector('#create-form').dispatch('submit');
    for (let i = 0; i < 50; i++) await tick();
    assert.equal(box.hidden, false, JSON.stringify(body));
    assert.equal(box.textContent, t(key, { status: 403 }), JSON.stringify(body));
  }
});

// "Show my rooms" without a host key asks for the key: the field shown and focused.
test('"Show my rooms" without a host key puts the focus in the host key field', async () => {
  await import('../static/js/landing.js');
  doc.querySelector('#host-key-change').click(); // forget the link's key
  doc.querySelector('#btn-load-rooms').click();
  assert.equal(doc.activeElement, doc.querySelector('#host-key'));
  assert.equal(doc.querySelector('#host-key-field').hidden, false);
  assert.equal(doc.querySelector('#rooms-key-missing').hidden, false);
  doc.querySelector('#host-key').value = 'k';
  doc.querySelector('#host-key').dispatch('input');
  assert.equal(doc.querySelector('#rooms-key-missing').hidden, true, 'the message stays after a key was typed');
});

// Its 429 has two causes the server tells apart by a code: too many wrong host keys from
// this address, or meetings made faster than the host's budget (no attempt was wrong);
// the page said "Too many attempts" for both. Its 503 (code `unavailable`: the host key
// could not be checked just now) says that the server is busy, to try again, not that
// the meeting could not be created.
test('"New meeting" refused says which 429 it was, and that a 503 is the server busy', async () => {
  await import('../static/js/landing.js');
  const { t } = await import('../static/js/i18n.js');
  const box = doc.querySelector('#create-error');
  const btn = doc.querySelector('#btn-new-meeting');
  for (const [status, code, key] of [
    [503, 'unavailable', 'rooms.error.unavailable'],
    [429, 'too_fast', 'common.too-fast'],
    [429, 'too_many_attempts', 'common.too-many-attempts'],
  ]) {
    // A 429 holds the button for its Retry-After (1 s here): wait it out.
    for (let i = 0; i < 300 && btn.disabled; i++) await new Promise((r) => setTimeout(r, 10));
    refusal = [status, { error: 'x', code }];
    doc.querySelector('#create-form').dispatch('submit');
    for (let i = 0; i < 50; i++) await tick();
    assert.equal(box.hidden, false, code);
    assert.equal(box.textContent, t(key, { count: 1 }), code);
  }
});

// The 429's hold is a span of the monotonic clock (monotonic.js): on Date.now(), the
// wall clock set back an hour kept "New meeting" off for the hour.
test('a wall clock set back an hour does not hold "New meeting" for the hour', async (t) => {
  await import('../static/js/landing.js');
  const btn = doc.querySelector('#btn-new-meeting');
  await eventually(() => !btn.disabled, 'the button free of an earlier test\'s hold');
  mock.timers.enable({ apis: ['setInterval', 'Date'], now: 1_700_000_000_000 });
  t.after(() => mock.timers.reset());
  refusal = [429, { error: 'x', code: 'too_fast' }]; // Retry-After: 1 s
  doc.querySelector('#create-form').dispatch('submit');
  await eventually(() => btn.disabled, 'the hold');
  stepWall(-3_600_000);
  mock.timers.tick(1000);
  mock.timers.tick(1000);
  assert.equal(btn.disabled, false, 'the button still held 2 s into a hold of 1 s after the wall clock went back an hour');
});
