// Leave ends the session (Session.end closes its SessionKeys and ends the E2EE worker),
// but the page keeps the ended Session for Rejoin (meeting.js: "also after it ended"),
// and the left screen says the page keeps nothing of the meeting. session-keys.js says
// every key lives in the page's memory only until the session ends: once closed, no
// media key, own or another member's (not even as hex), may be reachable from it.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MeetingCrypto, SessionKeys } from '../static/js/e2ee/session-keys.js';
import { randomBytes } from '../static/js/e2ee/keys.js';
import { FakeMedia, KeyRelay } from './harness.mjs';

/** RecordingMedia keeps every key the schedule gave the worker (its own ones too). */
class RecordingMedia extends FakeMedia {
  constructor() {
    super();
    this.all = [];
  }
  setOwnKey(index, raw) {
    super.setOwnKey(index, raw);
    this.all.push(raw.slice());
  }
  setPeerKey(pid, index, raw) {
    super.setPeerKey(pid, index, raw);
    this.all.push(raw.slice());
  }
}

class Room extends KeyRelay {
  async join(id, secret) {
    const meeting = await MeetingCrypto.fromSecret(secret);
    const media = new RecordingMedia();
    const keys = new SessionKeys({ meeting, media, send: (to, data) => this.relay(id, to, data) });
    return this.admit(id, { id, keys, media });
  }
}

const hex = (b) => Buffer.from(b).toString('hex');

/** reachable lists the paths from root at which one of the keys (bytes or hex) is found. */
function reachable(root, keys, skip) {
  const raws = keys.map((k) => hex(k));
  const found = [];
  const seen = new Set();
  const walk = (v, path) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'string') {
      if (raws.some((k) => v.includes(k))) found.push(path);
      return;
    }
    if (typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    if (ArrayBuffer.isView(v) || v instanceof ArrayBuffer) {
      if (raws.includes(hex(new Uint8Array(v.buffer || v, v.byteOffset || 0, v.byteLength)))) found.push(path);
      return;
    }
    if (v instanceof Map) {
      for (const [k, x] of v) {
        walk(k, `${path}<key>`);
        walk(x, `${path}.get(${String(k).slice(0, 12)})`);
      }
      return;
    }
    if (v instanceof Set) {
      for (const x of v) walk(x, `${path}<item>`);
      return;
    }
    for (const k of Object.keys(v)) if (!skip.has(k)) walk(v[k], `${path}.${k}`);
  };
  walk(root, 'keys');
  return found;
}

test('a closed SessionKeys holds no media key, own or received', async () => {
  const room = new Room();
  const secret = randomBytes(16);
  const a = await room.join('p-ann', secret);
  await room.join('p-bob', secret);
  await room.join('p-cat', secret);
  room.leave('p-cat'); // a rotation: the members' earlier keys become "past" ones
  await room.settle();
  await new Promise((resolve) => setTimeout(resolve, 400)); // the rotation is in use
  await room.settle();

  const keys = a.media.all;
  assert.ok(keys.length >= 4, `the schedule gave the worker only ${keys.length} keys`);
  a.keys.close(); // Session.end (Leave); the worker is terminated there too
  // Not the schedule's own state: the link's keys (kept for Rejoin), the stand-in for the
  // worker (terminated on Leave), the callbacks and timers.
  const skip = new Set(['meeting', 'media', 'clock', 'sendRaw', 'sendBatchRaw', 'onChange', 'onName']);
  assert.deepEqual(reachable(a.keys, keys, skip), [], 'keys still reachable after close');
  room.close();
});
