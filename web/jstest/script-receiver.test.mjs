// Firefox's receivers (e2ee-hooks.js, the RTCRtpScriptTransform API): a receiver
// without a transform plays what the server sends (an unattached script transform fails
// open), so a receiver must never be taken as attached when its transform is not there.
// Subscriber attaches each receiver twice: on `track` (during setRemoteDescription; an
// exception there is lost in the event dispatch) and before the answer (an exception
// there refuses the answer). If the first attach failed, the second must attach or
// throw, never go on quietly with a receiver that has no transform.
import { test } from 'node:test';
import assert from 'node:assert/strict';

class FakeWorker {
  constructor() { this.posted = []; }
  postMessage(msg) { this.posted.push(msg); }
  terminate() {}
}
globalThis.Worker = FakeWorker;

let failures = 0; // how many of the next transforms fail to construct
globalThis.RTCRtpScriptTransform = class {
  constructor(worker, options) {
    if (failures > 0) {
      failures--;
      throw new Error('the transform could not be made');
    }
    this.worker = worker;
    this.options = options;
  }
};

const { MediaCrypto } = await import('../static/js/e2ee-hooks.js');

test('script API: a receiver whose first transform failed is not skipped by the next attach', (t) => {
  const mc = new MediaCrypto({ api: 'script', selfId: 'p-fay' });
  t.after(() => mc.close());
  const receiver = { track: { kind: 'video' }, transform: null };
  const info = { participantId: 'p-ann', source: 'camera', kind: 'video' };

  failures = 1;
  assert.throws(() => mc.attachReceiver(receiver, info), /could not be made/, 'on `track`');

  // Before the answer: attached now, or refused (an exception keeps the answer back).
  let threw = false;
  try {
    mc.attachReceiver(receiver, info);
  } catch {
    threw = true;
  }
  assert.ok(threw || receiver.transform instanceof RTCRtpScriptTransform,
    'the receiver goes on without a transform: Firefox would play the ciphertext the server sends');
  if (!threw) {
    assert.equal(receiver.transform.options.dir, 'recv');
    // Its route names the slot the transform carries.
    const routes = mc.worker.posted.filter((m) => m.t === 'route');
    assert.equal(routes.at(-1).slot, receiver.transform.options.slot);
    assert.equal(routes.at(-1).pid, 'p-ann');
  }
});

test('script API: a sender whose transform failed is attached by the next prepare, and checkSenders refuses until then', (t) => {
  const mc = new MediaCrypto({ api: 'script', selfId: 'p-fay' });
  t.after(() => mc.close());
  const sender = { track: { kind: 'video' }, transform: null };
  const pc = { getSenders: () => [sender] };
  failures = 1;
  assert.throws(() => mc.attachSender(sender, 'screen'));
  assert.throws(() => mc.checkSenders(pc), /no encrypting transform/);
  mc.attachSender(sender, 'screen');
  assert.ok(sender.transform instanceof RTCRtpScriptTransform);
  assert.equal(sender.transform.options.source, 'screen');
  mc.checkSenders(pc);
});
