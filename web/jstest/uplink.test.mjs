// The weak-uplink hint (uplink.js, uplink-ui.js): the server's transport-cc feedback
// makes the browser send less when the uplink cannot carry the camera or the screen
// share, and the browser says so in the sender's own outbound-rtp statistics
// (`qualityLimitationReason`). The page tells the person, as it tells them of a slow
// downlink: in a polite live region, once it has held for a while (the reason
// flickers), and takes it away only once it has cleared for a while. Firefox reports no
// reason: no hint there, never a wrong one.
//
// The real Publisher on a stand-in RTCPeerConnection whose senders' getStats return what
// the test says (Chromium's shape: one outbound-rtp per simulcast layer), the real
// painter on mini-dom.mjs, time on harness.mjs's FakeClock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';
import { FakeClock } from './harness.mjs';

const doc = installMiniDOM();

// --- peer connections whose senders report what `stats` holds for their source ---
class Sender {
  constructor(pc, track) {
    this.pc = pc;
    this.track = typeof track === 'string' ? null : track;
    this.statsCalls = 0;
  }
  replaceTrack(track) { this.track = track; return Promise.resolve(); }
  getParameters() { return { encodings: [] }; }
  setParameters() { return Promise.resolve(); }
  getStats() {
    this.statsCalls++;
    const entries = this.pc.stats[this.source] || [];
    return Promise.resolve(new Map(entries.map((s, i) => [`OT${this.source}${i}`, s])));
  }
}
globalThis.RTCRtpSender = Sender;
globalThis.RTCPeerConnection = class {
  constructor() { this.transceivers = []; this.signalingState = 'stable'; this.connectionState = 'new'; this.stats = {}; }
  addTransceiver(trackOrKind, init) {
    const t = { mid: String(this.transceivers.length), direction: init.direction, currentDirection: null, sender: new Sender(this, trackOrKind) };
    this.transceivers.push(t);
    return t;
  }
  getTransceivers() { return this.transceivers; }
  getSenders() { return this.transceivers.map((t) => t.sender); }
  async createOffer() { return { type: 'offer', sdp: 'v=0' }; }
  async setLocalDescription(d) { this.localDescription = d; }
  async setRemoteDescription() {}
  close() { this.closed = true; }
};

const { Publisher } = await import('../static/js/publisher.js');
const { UplinkHint, limitationOf, HINT_BANDWIDTH, HINT_CPU, POLL_MS, SHOW_MS, HIDE_MS, START_MS } = await import('../static/js/uplink.js');
const { uplinkHint, hintPainter } = await import('../static/js/uplink-ui.js');
const { t } = await import('../static/js/i18n.js');

const sig = { request: async () => ({ sdp: 'v=0' }), send() {} };
const track = (kind) => ({ kind, readyState: 'live' });

/** chromium is a camera's three layers as Chromium reports them, all limited by reason. */
const chromium = (reason, { inactive = [] } = {}) => ['q', 'h', 'f'].map((rid) => ({
  type: 'outbound-rtp', kind: 'video', rid, active: !inactive.includes(rid), qualityLimitationReason: reason,
}));
/** firefox is a camera's layers as Firefox reports them: no active, no qualityLimitationReason. */
const firefox = () => ['q', 'h', 'f'].map((rid) => ({ type: 'outbound-rtp', kind: 'video', rid, packetsSent: 100 }));
const microphone = () => [{ type: 'outbound-rtp', kind: 'audio', packetsSent: 50 }];

const flush = async () => { for (let i = 0; i < 20; i++) await Promise.resolve(); };

/** run moves clock on by ms, a reading at a time, letting each reading's stats resolve. */
async function run(clock, ms) {
  for (let done = 0; done < ms; done += POLL_MS) {
    clock.advance(Math.min(POLL_MS, ms - done));
    await flush();
  }
}

async function publishing() {
  const pub = new Publisher(sig);
  await pub.start({ mic: track('audio'), camera: track('video') });
  for (const [tr, source] of pub.sources) tr.sender.source = source; // what its stats say
  pub.pc.stats.microphone = microphone();
  return pub;
}

function region() {
  const live = doc.createElement('div');
  live.setAttribute('id', 'uplink-hint');
  live.setAttribute('role', 'status');
  live.setAttribute('aria-live', 'polite');
  doc.body.append(live);
  return live;
}

const shownKey = (live) => {
  const line = live.querySelector('.uplink-hint-text');
  return line ? line.dataset.hint : null;
};

test('a camera held back by the uplink: the hint shows once it held, in the polite region, said once', async () => {
  const clock = new FakeClock();
  const pub = await publishing();
  pub.pc.stats.camera = chromium('bandwidth', { inactive: ['f'] });
  const live = region();
  let appended = 0;
  const append = live.append.bind(live);
  live.append = (...nodes) => { appended++; return append(...nodes); };
  const hint = uplinkHint(pub, live, clock);

  await run(clock, START_MS + SHOW_MS - POLL_MS);
  assert.equal(shownKey(live), null, 'shown before it held for SHOW_MS past the start');
  assert.equal(live.textContent, '', 'the region is not empty before the hint');
  await run(clock, 2 * POLL_MS);
  assert.equal(shownKey(live), HINT_BANDWIDTH, 'no hint for a camera limited by bandwidth');
  assert.notEqual(t(HINT_BANDWIDTH), HINT_BANDWIDTH, 'the hint is not in the catalogue');
  assert.equal(live.textContent, t(HINT_BANDWIDTH));
  const line = live.querySelector('.uplink-hint-text');
  const text = line.querySelector('span');
  let rewrites = 0;
  Object.defineProperty(text, 'textContent', { get: () => t(HINT_BANDWIDTH), set: () => { rewrites++; } });

  // A minute more of readings, the reason clearing for a moment now and then: the text
  // stays as it is (a live region that is written anew is announced anew).
  for (let i = 0; i < 6; i++) {
    await run(clock, 8000);
    pub.pc.stats.camera = chromium('none');
    await run(clock, HIDE_MS - POLL_MS);
    pub.pc.stats.camera = chromium('bandwidth');
  }
  await run(clock, POLL_MS);
  assert.equal(shownKey(live), HINT_BANDWIDTH);
  assert.equal(live.querySelector('.uplink-hint-text'), line, 'the hint was made anew');
  assert.equal(appended, 1, 'the region was filled more than once');
  assert.equal(rewrites, 0, 'the hint\'s text was written anew while it stayed');

  // Cleared for HIDE_MS: gone, and the region stays, empty.
  pub.pc.stats.camera = chromium('none');
  await run(clock, HIDE_MS - POLL_MS);
  assert.equal(shownKey(live), HINT_BANDWIDTH, 'hidden before it cleared for HIDE_MS');
  await run(clock, 2 * POLL_MS);
  assert.equal(shownKey(live), null, 'still shown after it cleared for HIDE_MS');
  assert.equal(live.textContent, '');
  assert.equal(live.getAttribute('aria-live'), 'polite');

  hint.stop();
  pub.close();
  assert.equal(clock.timers.size, 0, 'a timer left behind');
});

test('a reason that flickers never shows; the device\'s limit has its own hint', async () => {
  const clock = new FakeClock();
  const pub = await publishing();
  const live = region();
  const hint = uplinkHint(pub, live, clock);
  for (let i = 0; i < 20; i++) {
    pub.pc.stats.camera = chromium(i % 3 === 2 ? 'none' : 'bandwidth');
    await run(clock, POLL_MS);
    assert.equal(shownKey(live), null, `shown at reading ${i}, though the reason never held for ${SHOW_MS} ms`);
  }
  pub.pc.stats.camera = chromium('cpu');
  await run(clock, SHOW_MS + POLL_MS);
  assert.equal(shownKey(live), HINT_CPU);
  assert.equal(live.textContent, t(HINT_CPU));
  // The uplink too, for as long: bandwidth is said, the one the person can act on.
  pub.pc.stats.camera = chromium('bandwidth');
  await run(clock, POLL_MS);
  assert.equal(shownKey(live), HINT_CPU, 'changed before the new reason held');
  await run(clock, SHOW_MS);
  assert.equal(shownKey(live), HINT_BANDWIDTH);
  hint.stop();
  assert.equal(shownKey(live), null, 'stop left the hint');
  pub.close();
});

test('Firefox reports no reason: no hint ever, and a shown hint goes at once with the video', async () => {
  const clock = new FakeClock();
  const pub = await publishing();
  pub.pc.stats.camera = firefox();
  const live = region();
  const hint = uplinkHint(pub, live, clock);
  await run(clock, 5 * 60000);
  assert.equal(shownKey(live), null, 'a hint where the browser said nothing');
  assert.ok(pub.transceivers.camera.sender.statsCalls >= 100, 'the camera\'s stats were not read');
  assert.equal(pub.transceivers.microphone.sender.statsCalls, 0, 'the microphone\'s stats were read');

  pub.pc.stats.camera = chromium('bandwidth');
  await run(clock, SHOW_MS + POLL_MS);
  assert.equal(shownKey(live), HINT_BANDWIDTH);
  await pub.replaceTrack('camera', null); // camera off: nothing of it is held back any more
  await run(clock, POLL_MS);
  assert.equal(shownKey(live), null, 'the hint stayed after the camera went off');
  hint.stop();
  pub.close();
});

test('limitationOf: active video layers only, bandwidth before cpu, nothing said is null', () => {
  assert.equal(limitationOf(new Map()), null);
  assert.equal(limitationOf(new Map([['a', ...microphone()]])), null);
  assert.equal(limitationOf(new Map(firefox().map((s, i) => [i, s]))), null);
  assert.equal(limitationOf(new Map(chromium('none').map((s, i) => [i, s]))), 'none');
  assert.equal(limitationOf(new Map(chromium('other').map((s, i) => [i, s]))), 'none');
  // Layers the server paused (nobody watches them) say nothing of the link.
  assert.equal(limitationOf(new Map(chromium('bandwidth', { inactive: ['q', 'h', 'f'] }).map((s, i) => [i, s]))), null);
  const cpu = new Map(chromium('cpu').map((s, i) => [i, s]));
  const screen = new Map([['s', { type: 'outbound-rtp', mediaType: 'video', qualityLimitationReason: 'bandwidth' }]]);
  assert.equal(limitationOf(cpu), 'cpu');
  assert.equal(limitationOf(cpu, screen), 'bandwidth');
  assert.equal(limitationOf(screen, cpu), 'bandwidth');
});

test('the hint\'s bounds and its start: nothing in the first climb of the congestion control', async () => {
  assert.ok(SHOW_MS >= 3 * POLL_MS && HIDE_MS >= 3 * POLL_MS, 'hysteresis of fewer than three readings');
  const clock = new FakeClock();
  const shown = [];
  let reason = 'bandwidth';
  const hint = new UplinkHint({ read: () => reason, show: (k) => shown.push([clock.now(), k]), clock });
  const t0 = clock.now();
  hint.start();
  await run(clock, START_MS + SHOW_MS + 2 * POLL_MS);
  assert.equal(shown.length, 1);
  assert.ok(shown[0][0] - t0 >= START_MS + SHOW_MS, `shown ${shown[0][0] - t0} ms after the start`);
  // A read that fails counts as nothing said.
  hint.read = () => Promise.reject(new Error('closed'));
  await run(clock, POLL_MS);
  assert.deepEqual(shown.at(-1)[1], null);
  reason = 'cpu';
  hint.read = () => reason;
  await run(clock, SHOW_MS + POLL_MS);
  assert.deepEqual(shown.map(([, k]) => k), [HINT_BANDWIDTH, null, HINT_CPU]);
  hint.stop();
  hint.stop();
  assert.deepEqual(shown.map(([, k]) => k), [HINT_BANDWIDTH, null, HINT_CPU, null]);
  assert.equal(clock.timers.size, 0);
  // The painter without a region does nothing (a page without it).
  hintPainter(null)(HINT_CPU);
});

test('a screen share started later, or the camera turned on later, ramps up without a hint', async () => {
  // A new video source starts low and climbs with the congestion control, reporting
  // 'bandwidth' meanwhile (a single-layer 720p publish took 10-19 s here, TESTING.md):
  // the START_MS grace holds from each start, not only from the join's.
  const clock = new FakeClock();
  const pub = await publishing();
  pub.pc.stats.camera = chromium('none');
  const live = region();
  const hint = uplinkHint(pub, live, clock);
  await run(clock, 60_000);
  pub.pc.stats.screen = [{ type: 'outbound-rtp', kind: 'video', qualityLimitationReason: 'bandwidth' }];
  await pub.startScreen(track('video'));
  for (const [tr, source] of pub.sources) tr.sender.source = source;
  await run(clock, START_MS - POLL_MS);
  assert.equal(shownKey(live), null, 'the screen share\'s first climb was taken for a slow uplink');
  pub.pc.stats.screen = [{ type: 'outbound-rtp', kind: 'video', qualityLimitationReason: 'none' }];
  await run(clock, 20_000);
  assert.equal(shownKey(live), null);

  // The camera, off, turned on later: the same.
  await pub.replaceTrack('camera', null);
  await run(clock, 20_000);
  pub.pc.stats.camera = chromium('bandwidth');
  await pub.replaceTrack('camera', track('video'));
  await run(clock, START_MS - POLL_MS);
  assert.equal(shownKey(live), null, 'the camera\'s first climb was taken for a slow uplink');
  // A limit that holds past the grace is still told.
  await run(clock, SHOW_MS + 2 * POLL_MS);
  assert.equal(shownKey(live), HINT_BANDWIDTH);

  hint.stop();
  pub.close();
  assert.equal(clock.timers.size, 0, 'a timer left behind');
});

test('an ICE restart of the publish connection climbs again without a hint', async () => {
  // A failed connection's ICE restart (reconnect.js) may put it on a new path, whose
  // congestion control starts low and climbs as at the join: the page told a person
  // whose Wi-Fi came back that their connection was slow.
  const clock = new FakeClock();
  const pub = await publishing();
  pub.pc.stats.camera = chromium('none');
  let restarts = 0;
  pub.pc.restartIce = () => { restarts++; };
  const live = region();
  const hint = uplinkHint(pub, live, clock);
  await run(clock, 60_000);
  assert.equal(pub.restartIce(), true);
  assert.equal(restarts, 1);
  pub.pc.stats.camera = chromium('bandwidth');
  await run(clock, START_MS - POLL_MS);
  assert.equal(shownKey(live), null, 'the new path\'s climb was taken for a slow uplink');
  await run(clock, SHOW_MS + 2 * POLL_MS);
  assert.equal(shownKey(live), HINT_BANDWIDTH, 'a limit that holds past the grace is still told');
  hint.stop();
  pub.close();
  assert.equal(pub.restartIce(), false, 'a closed connection is not restarted');
  assert.equal(restarts, 1);
});
