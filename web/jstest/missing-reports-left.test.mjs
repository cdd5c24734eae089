// The media worker's missing-key reports (web/static/js/e2ee/key-requests.js
// MissingReports) are forgotten with a sender's keys: the page's {t: 'forget', pid}
// (a member left, or resumed with new keys; e2ee-hooks.js forget) drops the sender's
// report as it drops its keys. Before, a long day of people coming and going grew the
// worker's reports by one per sender whose frames had ever failed, until at 1,000 they
// were all cleared at once, and a resumed member's frames failing under its new key
// were not reported until a second after the report of its old session's.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MissingReports, REPORT_INTERVAL_MS } from '../static/js/e2ee/key-requests.js';
import { MediaRings } from '../static/js/e2ee/media-rings.js';
import { CAMERA, VP8 } from '../static/js/e2ee/frame.js';
import { FakeClock, eventually, loadMediaWorker, tick } from './harness.mjs';

test('1,500 senders that fail and leave leave no report behind; one who stays is reported once a second throughout', () => {
  const clock = new FakeClock();
  const posted = [];
  const rep = new MissingReports((m) => posted.push({ ...m, at: clock.now() }), clock);
  const t0 = clock.now();
  const STAY = 'p-stay';
  const comers = 1500;
  // Ten frames a second of the one who stays fail throughout, from 500 ms on; each
  // 100 ms one newcomer's frames fail for 300 ms (three frames), then it leaves.
  const here = [];
  for (let step = 0; step < comers + 3; step++) {
    if (step >= 5) rep.failed(STAY);
    if (step < comers) here.push({ pid: `p-come-${step}`, frames: 0 });
    for (const c of here) {
      rep.failed(c.pid);
      c.frames++;
    }
    while (here.length && here[0].frames === 3) rep.forget(here.shift().pid);
    clock.advance(100);
  }
  assert.equal(here.length, 0);

  const stay = posted.filter((m) => m.pid === STAY).map((m) => m.at - t0);
  const want = Array.from({ length: Math.ceil((comers - 2) / 10) }, (_, i) => 500 + i * REPORT_INTERVAL_MS);
  assert.deepEqual(stay, want, 'the one who stays: reported once a second, no more, no less');
  for (let i = 0; i < comers; i += 250) {
    const mine = posted.filter((m) => m.pid === `p-come-${i}`);
    assert.deepEqual(mine.map((m) => m.t), ['missing-key'], `p-come-${i}: one report while its frames failed`);
  }
  assert.deepEqual([...rep.failing.keys()], [STAY], 'the reports of those who left are still held');
  rep.decoded(STAY);
  assert.deepEqual(posted.at(-1), { t: 'key-ok', pid: STAY, at: clock.now() });
  assert.equal(rep.failing.size, 0);
  rep.forget('p-never'); // forgetting a sender never reported changes nothing
  assert.equal(rep.failing.size, 0);
});

// The worker itself, loaded as a browser loads it (harness.mjs), fed through the
// transform that RTCRtpScriptTransform gives it.
const posted = await loadMediaWorker();

test('worker: a member who resumes (its keys forgotten) and whose frames fail again is reported at once', async (t) => {
  // The worker's reports are timed on the monotonic clock (key-requests.js systemClock,
  // performance.now). It stands still here: the resumed member's failure comes within
  // the second of its first report however slow the machine, so a worker that kept the
  // old report would hold the new one back, which is what this test must see. (On the
  // real clock a machine that took a second to get there passed that worker too.)
  const at = performance.now();
  t.mock.method(performance, 'now', () => at);
  const RES = 'p-resumes';
  self.onmessage({ data: { t: 'self', pid: 'p-watcher' } });
  const key = async (index) => {
    const raw = crypto.getRandomValues(new Uint8Array(32));
    const rings = new MediaRings();
    rings.setSelf(RES);
    await rings.setOwn(index, raw);
    return { raw, index, frame: (n) => rings.encrypt(Uint8Array.from([0x31, n, 2, 3, 4, 5, 6, 7]).buffer, VP8, CAMERA) };
  };
  let feed;
  const readable = new ReadableStream({ start: (c) => { feed = c; } });
  const out = [];
  const writable = new WritableStream({ write: () => { out.push(1); } });
  self.onrtctransform({ transformer: { readable, writable, options: { dir: 'recv', kind: 'video', slot: 1, id: 'r1' } } });
  self.onmessage({ data: { t: 'route', slot: 1, pid: RES, source: 'camera' } });
  const reports = () => posted.filter((m) => m.pid === RES && m.t === 'missing-key').length;

  // Its first session's frames fail before its key came: reported.
  const first = await key(4);
  feed.enqueue({ data: await first.frame(1), type: 'delta' });
  await eventually(() => reports() === 1, 'the first report');

  // It resumes: the page forgets its keys, and its frames under the new key fail until
  // the new key comes. That is a new failure, reported at once, not a second after the
  // report of its old session's frames.
  self.onmessage({ data: { t: 'forget', pid: RES } });
  const second = await key(0);
  feed.enqueue({ data: await second.frame(2), type: 'delta' });
  await tick(0);
  self.onmessage({ data: { t: 'key', pid: RES, index: second.index, raw: second.raw } });
  // Frames on one receiver are handled in order: once one under the new key is out, the
  // failed one before it was handled.
  await eventually(async () => {
    feed.enqueue({ data: await second.frame(3), type: 'delta' });
    await tick(5);
    return out.length > 0;
  }, 'a frame under the new key');
  assert.ok(reports() >= 2, `the resumed member's failing frames were not reported (reports: ${reports()})`);
});
