// The publisher's simulcast layers (web/static/js/layers.js): the camera's encodings,
// the `encodings` payload, and pausing layers with setParameters (serialised, the
// latest wins, unknown RIDs ignored) against a fake RTCRtpSender.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { CAMERA_LAYERS, LayerSwitch, parseActive, sendEncodings } from '../static/js/layers.js';
import { eventually } from './harness.mjs';

test('the camera sends q, h and f at a quarter, half and full size', () => {
  assert.deepEqual(CAMERA_LAYERS.map((e) => [e.rid, e.scaleResolutionDownBy || 1]), [['q', 4], ['h', 2], ['f', 1]]);
  const copy = sendEncodings(CAMERA_LAYERS);
  copy[0].active = false;
  assert.equal(CAMERA_LAYERS[0].active, undefined, 'addTransceiver gets copies');
});

test('an encodings payload parses only in its own shape', () => {
  assert.deepEqual(parseActive({ source: 'camera', active: ['q', 'h', 'q'] }), { source: 'camera', active: ['q', 'h'] });
  assert.deepEqual(parseActive({ source: 'camera', active: [] }), { source: 'camera', active: [] });
  for (const bad of [null, 'x', {}, { source: 'camera' }, { source: 1, active: [] }, { source: 'camera', active: 'q' },
    { source: 'camera', active: [1] }, { source: 'camera', active: new Array(17).fill('q') }]) {
    assert.equal(parseActive(bad), null, JSON.stringify(bad));
  }
});

/** FakeSender: getParameters/setParameters like a browser's, with setParameters held until released. */
class FakeSender {
  constructor(rids) {
    this.encodings = rids.map((rid) => ({ rid, active: true }));
    this.calls = []; // active RIDs of each setParameters
    this.inFlight = 0;
    this.maxInFlight = 0;
    this.pending = [];
    this.fail = 0; // how many of the next calls reject
    this.hold = false;
  }
  getParameters() {
    return { transactionId: 't', encodings: this.encodings.map((e) => ({ ...e })) };
  }
  setParameters(p) {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const active = p.encodings.filter((e) => e.active).map((e) => e.rid);
    return new Promise((resolve, reject) => {
      const done = () => {
        this.inFlight--;
        if (this.fail > 0) {
          this.fail--;
          reject(new Error('InvalidStateError'));
          return;
        }
        this.encodings = p.encodings.map((e) => ({ ...e }));
        this.calls.push(active);
        resolve();
      };
      if (this.hold) this.pending.push(done);
      else queueMicrotask(done);
    });
  }
  release() {
    const p = this.pending;
    this.pending = [];
    for (const done of p) done();
  }
  active() {
    return this.encodings.filter((e) => e.active).map((e) => e.rid);
  }
}

test('exactly the listed layers are active; unknown RIDs are ignored', async () => {
  const sender = new FakeSender(['q', 'h', 'f']);
  const sw = new LayerSwitch(sender);
  await sw.set(['q', 'x', 'h']);
  assert.deepEqual(sender.active(), ['q', 'h']);
  await sw.set([]);
  assert.deepEqual(sender.active(), [], 'nobody shows the camera: nothing is sent');
  await sw.set(['f']);
  assert.deepEqual(sender.active(), ['f']);
  await sw.set(['f']);
  assert.equal(sender.calls.length, 3, 'no call when nothing changes');
});

test('changes are serialised and the latest wins', async () => {
  const sender = new FakeSender(['q', 'h', 'f']);
  sender.hold = true;
  const sw = new LayerSwitch(sender);
  const first = sw.set(['q']);
  sw.set(['q', 'h']);
  sw.set(['h']);
  const last = sw.set(['h', 'f']);
  await eventually(() => sender.pending.length === 1, 'the first setParameters');
  sender.release();
  await eventually(() => sender.pending.length === 1, 'the second setParameters');
  sender.release();
  await Promise.all([first, last]);
  assert.equal(sender.maxInFlight, 1, 'one setParameters at a time');
  assert.deepEqual(sender.calls, [['q'], ['h', 'f']], 'the wishes in between were overtaken');
  assert.deepEqual(sender.active(), ['h', 'f']);
});

test('a single-layer sender is left alone', async () => {
  const sender = new FakeSender(['q']);
  sender.encodings = [{ active: true }];
  const sw = new LayerSwitch(sender);
  await sw.set([]);
  assert.equal(sender.calls.length, 0);
  assert.deepEqual(sender.encodings, [{ active: true }]);
});

test('a refused change is applied again by retry, unless a newer one came', async () => {
  const sender = new FakeSender(['q', 'h', 'f']);
  const sw = new LayerSwitch(sender);
  sender.fail = 1;
  await sw.set(['q']);
  assert.deepEqual(sender.active(), ['q', 'h', 'f']);
  await sw.retry();
  assert.deepEqual(sender.active(), ['q']);
  await sw.retry();
  assert.equal(sender.calls.length, 1, 'nothing left to retry');

  sender.fail = 1;
  await sw.set(['h']);
  await sw.set(['f']);
  await sw.retry();
  assert.deepEqual(sender.active(), ['f']);
});

test('a closed switch changes nothing', async () => {
  const sender = new FakeSender(['q', 'h', 'f']);
  const sw = new LayerSwitch(sender);
  sw.close();
  await sw.set(['q']);
  assert.equal(sender.calls.length, 0);
});
