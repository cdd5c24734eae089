// The E2EE media worker (a module worker): it encrypts every outgoing encoded
// frame with the own current media key, bound to the own participant id, and
// decrypts every incoming one with the key ring of the participant its receiver
// is routed to, under that participant's id and the track's source (e2ee/FORMAT.md,
// "Frame format").
// There is no trying of other senders' keys: a frame the server forwards under
// another participant's track fails authentication, and a frame on a receiver
// whose route is not known yet is dropped. The key state is media-rings.js. One
// worker serves both insertable-stream APIs:
//
//   - RTCRtpScriptTransform (Firefox): the page sets `transform` on each sender and
//     receiver; the streams arrive here as `rtctransform` events with the options
//     the page gave ({dir, kind, source, slot, id}).
//   - legacy createEncodedStreams() (Chromium): the page transfers {readable,
//     writable} with a {t: 'stream', …} message carrying the same options.
//
// A frame that cannot be encrypted (no own id or key yet) or decrypted (no route or
// keys, unknown key, failed authentication, too short) is dropped, never passed on
// (a video frame that failed for want of a key is held a moment first, in case the key
// comes: held-frames.js):
// with this worker gone or stuck, senders are silent. Keys arrive by postMessage and
// never leave this worker.
// There is no test mode here: the browser tests wrap this module in a test-only
// worker that the server serves only when built for tests (web.Options.TestHooks).
//
// Messages from the page:
//   {t: 'self', pid}               the own participant id (from welcome), sent first
//   {t: 'own', index, raw}         the own current media key (raw: 32 bytes)
//   {t: 'key', pid, index, raw, counter}  a key of another participant (from its envelope)
//   {t: 'forget', pid}             drop a participant's keys and its missing-key report
//                                  (they left, or resumed with new keys)
//   {t: 'route', slot, pid, source} receiver `slot` now carries participant pid's track
//                                  of source (pid null: nobody's; its frames are dropped)
//   {t: 'stream', readable, writable, options}   legacy streams of one sender/receiver
// Messages to the page:
//   {t: 'ready'}                   the module has loaded
//   {t: 'stats', encrypted, decrypted, decryptFailed}   when changed, and every second
//   {t: 'pipe-error', id, dir}     a stream pipe broke (the page re-attaches or fails)
//   {t: 'missing-key', pid}        frames of pid fail for want of a key (unknown key, or
//                                  authentication after the ratchet guess): at most once
//                                  a second per sender while they do (key-requests.js)
//   {t: 'key-ok', pid}             frames of pid decode again after a 'missing-key'
//
// Nothing is ever logged.

import { VP8, OPUS } from './frame.js';
import { MediaRings } from './media-rings.js';
import { MissingReports } from './key-requests.js';
import { HeldRun } from './held-frames.js';

const STATS_MS = 500;

const keys = new MediaRings();
const stats = { encrypted: 0, decrypted: 0, decryptFailed: 0 };
let statsSent = '';
const reports = new MissingReports((msg) => self.postMessage(msg));

function kindOf(options) {
  return options.kind === 'audio' ? OPUS : VP8;
}

function sender(options) {
  const kind = kindOf(options);
  return async (frame, controller) => {
    try {
      if (!keys.canEncrypt()) return; // no id or key yet: drop
      // An empty frame is Opus's discontinuous transmission in silence (a muted
      // microphone): without a transform the browser sends nothing for it, and
      // encrypted it would be fifty packets a second of a key index and a tag.
      if (frame.data.byteLength === 0) return;
      frame.data = await keys.encrypt(frame.data, kind, options.source);
      stats.encrypted++;
      controller.enqueue(frame);
    } catch {
      // Dropped: nothing unencrypted ever goes out.
    }
  };
}

function receiver(options) {
  const kind = kindOf(options);
  // Video frames that failed for want of a key, from a keyframe on (held-frames.js).
  const held = kind === VP8 ? new HeldRun() : null;
  return async (frame, controller) => {
    // Before this frame: the held run, if its key has come meanwhile (in order).
    if (held && held.size) await flush(options.slot, held, keys.senderOf(options.slot), controller);
    const pid = keys.senderOf(options.slot);
    try {
      frame.data = await keys.decrypt(options.slot, frame.data, kind);
      stats.decrypted++;
      controller.enqueue(frame);
      reports.decoded(pid);
      if (held && held.size) held.clear(); // the sender's frames decrypt: no held run can be needed
    } catch (err) {
      stats.decryptFailed++;
      // For want of a key: the page asks the sender. Junk (too short, malformed) is not.
      if (pid !== undefined && err && (err.code === 'unknown-key' || err.code === 'auth')) reports.failed(pid);
      if (held && pid !== undefined && err && err.code === 'unknown-key') {
        held.failed(frame, isKeyframe(frame), pid, performance.now()); // monotonic: a run's age
      }
    }
  };
}

// isKeyframe reads the encoded frame's type, or where a browser does not say, the VP8
// header's key bit (left clear by the format).
function isKeyframe(frame) {
  if (frame.type === 'key' || frame.type === 'delta') return frame.type === 'key';
  return frame.data.byteLength > 0 && (new Uint8Array(frame.data, 0, 1)[0] & 1) === 0;
}

// flush decrypts a held run for pid and passes on its keyframe and the frames after it
// that decrypt, up to the first that does not (a gap the decoder could not bridge). A
// run whose keyframe still has no key is kept for the next frame; otherwise the run is
// let go.
async function flush(slot, held, pid, controller) {
  if (!held.usable(pid, performance.now())) {
    held.clear();
    return;
  }
  const run = held.frames;
  for (let i = 0; i < run.length; i++) {
    let data;
    try {
      data = await keys.decrypt(slot, run[i].data, VP8);
    } catch (err) {
      if (i > 0 || !err || err.code !== 'unknown-key') held.clear();
      return;
    }
    run[i].data = data;
    stats.decrypted++;
    controller.enqueue(run[i]);
    if (i === 0) reports.decoded(pid);
  }
  held.clear();
}

function attach(readable, writable, options) {
  const transform = options.dir === 'send' ? sender(options) : receiver(options);
  readable
    .pipeThrough(new TransformStream({ transform }))
    .pipeTo(writable)
    .catch(() => self.postMessage({ t: 'pipe-error', id: options.id, dir: options.dir }));
}

// RTCRtpScriptTransform (Firefox; Chromium too, but the page uses the legacy API there).
self.onrtctransform = (event) => {
  const t = event.transformer;
  attach(t.readable, t.writable, t.options || {});
};

async function handle(msg) {
  switch (msg.t) {
    case 'self':
      keys.setSelf(msg.pid);
      break;
    case 'own':
      await keys.setOwn(msg.index, msg.raw);
      break;
    case 'key':
      await keys.setPeer(msg.pid, msg.index, msg.raw, msg.counter);
      break;
    case 'forget':
      keys.forget(msg.pid);
      reports.forget(msg.pid);
      break;
    case 'route':
      keys.route(msg.slot, msg.pid, msg.source);
      break;
    case 'stream':
      attach(msg.readable, msg.writable, msg.options || {});
      break;
    default:
  }
}

// Key messages are applied in order: a later key must not be overtaken by an earlier one.
let queue = Promise.resolve();
self.onmessage = (event) => {
  const msg = event.data || {};
  if (msg.t === 'stream') {
    // Attach at once: a stream waiting behind key work would stall its sender.
    handle(msg);
    return;
  }
  queue = queue.then(() => handle(msg)).catch(() => {});
};

// The counters when they changed, and at least once a second as a heartbeat (the page
// treats a silent worker as failed).
let quiet = 0;
setInterval(() => {
  const s = JSON.stringify(stats);
  if (s === statsSent && ++quiet < 2) return;
  quiet = 0;
  statsSent = s;
  self.postMessage({ t: 'stats', ...stats });
}, STATS_MS);

self.postMessage({ t: 'ready' });
