// A long day's chat: the meeting page remembered the id of every chat message it sent
// (Session.chatIds), to tell a refusal of one (`error` whose `ref` is its id: rate
// limited, chat turned off) from other refusals, and never forgot one, so a person who
// wrote through a ten-hour day kept every id for as long as the page stayed. What a
// refusal refers to is a message sent moments ago: the connection's own memory of the
// last messages it sent (signaling.js typeOf, 200 of them) tells it, and nothing more
// is kept per message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverSays, sent, gridStandIn, uiStandIn } from './media-standins.mjs';
import { eventually } from './harness.mjs';

const { LocalMedia } = await import('../static/js/media.js');
const { Session } = await import('../static/js/session.js');

/** idsHeld counts the message ids the session holds anywhere among its own fields. */
function idsHeld(session, ids) {
  let n = 0;
  const seen = new Set();
  const walk = (v, depth) => {
    if (v === null || typeof v !== 'object' || seen.has(v) || depth > 3) return;
    seen.add(v);
    if (v instanceof Set || v instanceof Map) {
      for (const k of v.keys()) if (ids.has(k)) n++;
    }
    for (const x of v instanceof Map || v instanceof Set ? v.values() : Object.values(v)) walk(x, depth + 1);
  };
  walk(session, 0);
  return n;
}

test('a page that sent thousands of chat messages keeps a bounded memory of their ids, and still tells a refused one', async () => {
  const media = new LocalMedia();
  const notices = [];
  const chat = new Proxy({ notice: (key) => notices.push(key) }, { get: (o, k) => (k in o ? o[k] : () => {}) });
  const session = new Session({ meetingId: 'm-day', name: 'Ann', media, grid: gridStandIn(), chat, ui: uiStandIn() });
  const from = sent.length;
  session.start();
  await eventually(() => sent.slice(from).some((m) => m.type === 'join'), 'the join');
  serverSays('welcome', { participantId: 'p-ann-day', e2ee: false, role: 'participant', participants: [] });
  await eventually(() => session.joined, 'joined');

  const ids = new Set();
  const day = 5000;
  for (let i = 0; i < day; i++) {
    assert.equal(session.sendChat(`message ${i}`), true);
    ids.add(sent.at(-1).id);
  }
  assert.equal(sent.at(-1).type, 'chat');
  const held = idsHeld(session, ids);
  assert.ok(held <= 400, `after ${day} chat messages the page holds ${held} of their ids`);

  // The last one refused is still a chat refusal; another message's refusal is not.
  serverSays('error', { code: 'rate_limited', message: 'too many messages; slow down' }, sent.at(-1).id);
  assert.deepEqual(notices, ['chat.not-sent.rate']);
  session.sig.send('raise_hand', { raised: true });
  serverSays('error', { code: 'rate_limited', message: 'too many messages; slow down' }, sent.at(-1).id);
  assert.deepEqual(notices, ['chat.not-sent.rate']);
  session.end();
  media.stopAll();
});
