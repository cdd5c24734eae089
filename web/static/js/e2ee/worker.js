// The E2EE media worker (a module worker): it encrypts every outgoing encoded
// frame with the own current media key and decrypts every incoming one with its
// sender's key ring (e2ee/FORMAT.md, "Frame format"). One worker serves both
// insertable-stream APIs:
//
//   - RTCRtpScriptTransform (Firefox): the page sets `transform` on each sender and
//     receiver; the streams arrive here as `rtctransform` events with the options
//     the page gave ({dir, kind, source, slot, id}).
//   - legacy createEncodedStreams() (Chromium): the page transfers {readable,
//     writable} with a {t: 'stream', …} message carrying the same options.
//
// A frame that cannot be encrypted (no key yet) or decrypted (unknown key, failed
// authentication, too short) is dropped, never passed on: with this worker gone or
// stuck, senders are silent. Keys arrive by postMessage and never leave this worker.
// There is no test mode here: the browser tests wrap this module in a test-only
// worker that the server serves only when built for tests (web.Options.TestHooks).
//
// Messages from the page:
//   {t: 'own', index, raw}         the own current media key (raw: 32 bytes)
//   {t: 'key', pid, index, raw}    a key of another participant (from its envelope)
//   {t: 'forget', pid}             drop a participant's keys (they left)
//   {t: 'route', slot, pid}        receiver `slot` now carries participant pid's media
//   {t: 'stream', readable, writable, options}   legacy streams of one sender/receiver
// Messages to the page:
//   {t: 'ready'}                   the module has loaded
//   {t: 'stats', encrypted, decrypted, decryptFailed}   when changed, and every second
//   {t: 'pipe-error', id, dir}     a stream pipe broke (the page re-attaches or fails)
//
// Nothing is ever logged.

import { KeyRing, VP8, OPUS, frameKeyIndex } from './frame.js';

const STATS_MS = 500;

const own = new KeyRing();
const rings = new Map(); // pid -> KeyRing
const routes = new Map(); // receiver slot -> pid
const stats = { encrypted: 0, decrypted: 0, decryptFailed: 0 };
let statsSent = '';

function ringOf(pid) {
  let ring = rings.get(pid);
  if (!ring) {
    ring = new KeyRing();
    rings.set(pid, ring);
  }
  return ring;
}

function kindOf(options) {
  return options.kind === 'audio' ? OPUS : VP8;
}

function sender(options) {
  const kind = kindOf(options);
  return async (frame, controller) => {
    try {
      if (own.currentIndex < 0) return; // no key yet: drop
      frame.data = await own.encrypt(frame.data, kind);
      stats.encrypted++;
      controller.enqueue(frame);
    } catch {
      // Dropped: nothing unencrypted ever goes out.
    }
  };
}

async function decryptWithAny(data, kind, except) {
  const index = frameKeyIndex(data);
  if (index < 0 || index > 15) return null;
  for (const [pid, ring] of rings) {
    if (pid === except || !ring.has(index)) continue;
    try {
      return await ring.decrypt(data, kind);
    } catch {
      // not this sender's
    }
  }
  return null;
}

function receiver(options) {
  const kind = kindOf(options);
  return async (frame, controller) => {
    try {
      const data = frame.data;
      const pid = routes.get(options.slot);
      const ring = pid !== undefined ? rings.get(pid) : undefined;
      let plain = null;
      if (ring) {
        try {
          plain = await ring.decrypt(data, kind);
        } catch {
          plain = null;
        }
      }
      // The server may have moved this receiver to another participant before
      // the page heard of it: try the other senders' installed keys.
      if (!plain) plain = await decryptWithAny(data, kind, pid);
      if (!plain) {
        stats.decryptFailed++;
        return;
      }
      frame.data = plain;
      stats.decrypted++;
      controller.enqueue(frame);
    } catch {
      stats.decryptFailed++;
    }
  };
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
    case 'own':
      await own.set(msg.index, msg.raw);
      break;
    case 'key':
      await ringOf(msg.pid).set(msg.index, msg.raw);
      break;
    case 'forget': {
      // The keys go; the routes stay. A resumed member keeps its id, and the route of its
      // new receiver may already be here when the forget of its old keys arrives (the page
      // posts a route once per receiver and never again): dropping it would leave that
      // receiver with no sender, its frames tried only under exact key indexes of others,
      // and the member unreadable for good after the next ratchet. A route to an id
      // without keys decrypts nothing.
      const ring = rings.get(msg.pid);
      if (ring) ring.clear();
      rings.delete(msg.pid);
      break;
    }
    case 'route':
      routes.set(msg.slot, msg.pid);
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
