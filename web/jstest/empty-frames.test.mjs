// A muted microphone's encoder, with Opus's discontinuous transmission (the server's
// publish answer asks for it, sfu/sdpdtx.go), hands the sender's transform empty frames
// in silence, fifty a second. Without a transform the browser sends nothing for them;
// the media worker must not turn each into a packet of a key index and a tag. The
// worker runs here as a browser loads it, fed through the transform that
// RTCRtpScriptTransform gives it.
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { MediaRings } from '../static/js/e2ee/media-rings.js';
import { MICROPHONE, OPUS } from '../static/js/e2ee/frame.js';
import { eventually, loadMediaWorker, tick } from './harness.mjs';

// The worker, loaded as a browser loads it (harness.mjs).
await loadMediaWorker();

test('worker: an empty frame is not sent, an audio frame goes out encrypted', async () => {
  const raw = crypto.getRandomValues(new Uint8Array(32));
  self.onmessage({ data: { t: 'self', pid: 'p-ann' } });
  self.onmessage({ data: { t: 'own', index: 3, raw } });
  let feed;
  const readable = new ReadableStream({ start: (c) => { feed = c; } });
  const out = [];
  const writable = new WritableStream({ write: (frame) => { out.push(new Uint8Array(frame.data)); } });
  self.onrtctransform({ transformer: { readable, writable, options: { dir: 'send', kind: 'audio', source: 'microphone', id: 's1' } } });

  // The own key is applied through the worker's queue: frames before it are dropped.
  const opus = Uint8Array.from({ length: 40 }, (_, i) => (0x78 + i) & 0xff);
  await eventually(async () => {
    feed.enqueue({ data: opus.buffer.slice(0) });
    await tick(5);
    return out.length > 0;
  }, 'the own key installed');

  const before = out.length;
  for (let i = 0; i < 50; i++) feed.enqueue({ data: new ArrayBuffer(0) });
  feed.enqueue({ data: opus.buffer.slice(0) }); // a barrier: once it is out, so are the empty ones
  await eventually(() => out.length > before, 'the frame after the empty ones');
  assert.equal(out.length, before + 1, 'empty frames were passed on');

  // What goes out is the frame encrypted by Ann's key: the rings of a member holding it
  // open it, and it is not the plain frame.
  const last = out[out.length - 1];
  assert.notDeepEqual(last, opus);
  const member = new MediaRings();
  member.setSelf('p-bob');
  await member.setPeer('p-ann', 3, raw);
  member.route(7, 'p-ann', MICROPHONE);
  assert.deepEqual(new Uint8Array(await member.decrypt(7, last.buffer, OPUS)), opus);
});
