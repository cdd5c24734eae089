// ============================================================================
// E2EE ATTACH POINT
//
// Every RTCPeerConnection, RTCRtpSender and RTCRtpReceiver of the client passes
// through this module; publisher.js and subscriber.js are the only places that
// create senders and receivers, and they call:
//
//   peerConnectionConfig(extra)  when creating each RTCPeerConnection (adds
//                                `encodedInsertableStreams: true` for the legacy API)
//   prepareSender(sender, source) for EVERY sender, in the task of addTransceiver
//                                and before EVERY setLocalDescription of the
//                                publish connection (microphone, camera and screen,
//                                also when the sender has no track yet)
//   prepareReceiver(receiver, info) for every receiver, on `track` and after each
//                                subscribe offer is applied (attached once; the
//                                participant it carries is updated every time)
//   checkSenders(pc)             right before each setLocalDescription: throws
//                                unless every sender is encrypting (fail closed)
//
// A Session installs a MediaCrypto with useMediaCrypto() after `welcome` and before
// it creates either connection. The API is chosen per browser so that a transform
// that failed to attach can never send plaintext (TESTING.md): Chromium gets the
// legacy createEncodedStreams() (a sender whose streams are never piped is silent);
// Firefox has only RTCRtpScriptTransform, which is set in the same task as
// addTransceiver and re-asserted before every setLocalDescription. `transform` is
// never set to null. One module worker (e2ee/worker.js) serves both.
// ============================================================================

import { scriptURL } from './script-urls.js';
import { monotonicNow } from './monotonic.js';

const WORKER_URL = '/static/js/e2ee/worker.js';
// The worker's modules load over the network (a slow line, a busy server, a starved
// machine): nothing is sent while it starts, so waiting long costs only a late start.
const READY_TIMEOUT_MS = 30000;
// The worker reports at least every second; this long without a word, it is dead or stuck.
const SILENT_WORKER_MS = 10000;
// How often the watchdog looks. Only time in which this page itself ran counts towards
// the limits above: after a stall of the page (a starved machine, a long task such as a
// slow blur frame) the worker's messages may still wait in the queue behind the
// watchdog's tick, so a late tick counts as at most one and a half intervals.
const WATCHDOG_MS = 2000;

let current = null; // the MediaCrypto of the live session, or null
let required = false; // the live session must encrypt: refuse to send without `current`
// A worker started before the join (prewarmMediaWorker), for the next MediaCrypto:
// {worker, ready, failed}. Loading the worker's modules took 0.1–0.35 s of a join on
// a busy machine, and nothing is published before it runs (bench/README.md); the
// person spends that time on the pre-join screen anyway. It holds no key and no id
// until a MediaCrypto takes it.
let warm = null;

/**
 * prewarmMediaWorker starts the E2EE worker ahead of the join (the link has the
 * meeting's key and this browser can encrypt); the session's MediaCrypto takes it.
 */
export function prewarmMediaWorker() {
  if (warm || typeof Worker === 'undefined') return;
  let worker;
  try {
    worker = new Worker(scriptURL(WORKER_URL), { type: 'module', name: 'conclave-e2ee' });
  } catch {
    return; // the MediaCrypto tries again and fails closed there
  }
  const w = { worker, ready: false, failed: false };
  worker.onmessage = (event) => {
    if (event.data && event.data.t === 'ready') w.ready = true;
  };
  worker.onerror = (event) => {
    if (event && event.preventDefault) event.preventDefault();
    w.failed = true;
  };
  worker.onmessageerror = () => { w.failed = true; };
  warm = w;
}

/**
 * discardWarmWorker ends a prewarmed worker no session took (the meeting is not
 * encrypted); it reports whether there was one.
 */
export function discardWarmWorker() {
  const had = warm !== null;
  if (warm) warm.worker.terminate();
  warm = null;
  return had;
}

/** takeWarmWorker hands the prewarmed worker over once, or null (none, or it failed). */
function takeWarmWorker() {
  const w = warm;
  warm = null;
  if (w && w.failed) {
    w.worker.terminate();
    return null;
  }
  return w;
}

/**
 * e2eeAPI tells which insertable-streams API this browser offers: 'legacy'
 * (Chromium's createEncodedStreams, which fails closed), 'script'
 * (RTCRtpScriptTransform, Firefox), or null (this browser cannot encrypt).
 */
export function e2eeAPI() {
  if (typeof RTCRtpSender === 'undefined' || typeof Worker === 'undefined') return null;
  if (typeof RTCRtpSender.prototype.createEncodedStreams === 'function' &&
      typeof RTCRtpReceiver !== 'undefined' && typeof RTCRtpReceiver.prototype.createEncodedStreams === 'function') {
    return 'legacy';
  }
  if (typeof RTCRtpScriptTransform === 'function') return 'script';
  return null;
}

/**
 * useMediaCrypto makes mc the context for the connections created from now on;
 * mustEncrypt says that no sender may go out without it (E2EE meeting).
 */
export function useMediaCrypto(mc, { mustEncrypt = false } = {}) {
  current = mc;
  required = mustEncrypt;
}

/**
 * mediaCryptoReady says whether connections may be made: not in an encrypted meeting
 * whose MediaCrypto is not there (it failed, or has not been installed yet).
 */
export function mediaCryptoReady() {
  return current !== null || !required;
}

/**
 * peerConnectionConfig returns the RTCConfiguration for a new connection; it throws in
 * an encrypted meeting without a MediaCrypto: in Chromium a connection made without
 * `encodedInsertableStreams` can never get a transform, and decodes what comes as it
 * comes.
 */
export function peerConnectionConfig({ iceServers = [] } = {}) {
  if (!mediaCryptoReady()) throw new Error('e2ee: no encryption for this connection');
  const config = { iceServers };
  if (current && current.api === 'legacy') config.encodedInsertableStreams = true;
  return config;
}

/** prepareSender attaches the encrypting transform to a sender (once; re-asserted). */
export function prepareSender(sender, source) {
  if (current) current.attachSender(sender, source);
}

/**
 * prepareReceiver attaches the decrypting transform once and routes it to its
 * participant; it throws in an encrypted meeting without a MediaCrypto (a receiver
 * without a transform plays what the server sends).
 */
export function prepareReceiver(receiver, info) {
  if (current) current.attachReceiver(receiver, info);
  else if (required) throw new Error('e2ee: no decryption for this receiver');
}

/** checkSenders is called right before each setLocalDescription; it throws to refuse sending. */
export function checkSenders(pc) {
  if (!current) {
    if (required) throw new Error('e2ee: no encryption for this connection');
    return;
  }
  current.checkSenders(pc);
}

const SOURCE_KIND = { microphone: 'audio', camera: 'video', screen: 'video' };

/**
 * MediaCrypto owns the E2EE worker of one session and the transforms attached
 * to its senders and receivers.
 */
export class MediaCrypto {
  /**
   * @param {{api: 'legacy'|'script', selfId: string, onError?: (reason: string) => void,
   *          onStats?: (stats) => void, onMissingKey?: (pid: string) => void,
   *          onKeyOk?: (pid: string) => void}} opts
   * selfId is the own participant id from `welcome`: every outgoing frame is bound to it.
   * onMissingKey: frames of pid fail for want of a key (at most once a second while
   * they do); onKeyOk: they decode again (e2ee/key-requests.js).
   */
  constructor({ api, selfId, onError = () => {}, onStats = () => {}, onMissingKey = () => {}, onKeyOk = () => {} }) {
    this.api = api;
    this.onError = onError;
    this.onStats = onStats;
    this.onMissingKey = onMissingKey;
    this.onKeyOk = onKeyOk;
    this.failed = null; // the reason, once the worker failed
    this.closed = false;
    this.stats = { encrypted: 0, decrypted: 0, decryptFailed: 0 };
    this.piped = new WeakSet(); // legacy: senders and receivers whose streams went to the worker
    this.senders = new Map(); // id -> {sender, options} (script API: for re-attaching)
    this.receiverSlots = new WeakMap(); // receiver -> slot
    this.routes = new Map(); // slot -> "participant id\0source" last sent to the worker
    this.nextId = 1;

    const warmed = takeWarmWorker();
    this.worker = warmed ? warmed.worker : new Worker(scriptURL(WORKER_URL), { type: 'module', name: 'conclave-e2ee' });
    this.ready = new Promise((resolve, reject) => {
      this._readyResolve = resolve;
      this._readyReject = reject;
    });
    this.ready.catch(() => {});
    this.isReady = false;
    this._silentMs = 0; // page-running time since the worker last spoke
    let waitedMs = 0; // page-running time since the worker was made
    // Counted on the monotonic clock (monotonic.js), each step capped: a tick held back
    // (a throttled tab, a machine that slept where the clock counts the sleep) counts as
    // one, not as the whole wait. On Date.now(), a wall clock set back an hour took the
    // hour off the silence, and a stopped worker went unnoticed for that long.
    let lastTick = monotonicNow();
    this._watchdog = setInterval(() => {
      const now = monotonicNow();
      const step = Math.max(0, Math.min(now - lastTick, WATCHDOG_MS * 1.5));
      lastTick = now;
      this._silentMs += step;
      waitedMs += step;
      if (!this.isReady && waitedMs > READY_TIMEOUT_MS) this._fail('the encryption worker did not start');
      // Silence counts once it runs: its modules may take up to READY_TIMEOUT_MS.
      else if (this.isReady && this._silentMs > SILENT_WORKER_MS) this._fail('the encryption worker stopped');
    }, WATCHDOG_MS);
    this.worker.onmessage = (event) => this._message(event.data || {});
    this.worker.onerror = (event) => {
      if (event && event.preventDefault) event.preventDefault();
      this._fail('the encryption worker failed');
    };
    this.worker.onmessageerror = () => this._fail('the encryption worker failed');
    // First of all messages: without it the worker encrypts nothing.
    this._post({ t: 'self', pid: selfId });
    // A prewarmed worker may have said it is ready before this took it (a 'ready'
    // still queued comes to _message above).
    if (warmed && warmed.ready) this._message({ t: 'ready' });
  }

  /** setOwnKey makes (index, raw) the key every outgoing frame is encrypted with. */
  setOwnKey(index, raw) {
    this._post({ t: 'own', index, raw: raw.slice() });
  }

  /** setPeerKey installs a key of another participant (counter: its envelope's) for decrypting its frames. */
  setPeerKey(pid, index, raw, counter) {
    this._post({ t: 'key', pid, index, raw: raw.slice(), counter });
  }

  /** forget drops a participant's keys, and the worker's missing-key report of it (worker.js). */
  forget(pid) {
    this._post({ t: 'forget', pid });
  }

  attachSender(sender, source) {
    if (this.closed) return;
    const kind = (sender.track && sender.track.kind) || SOURCE_KIND[source] || 'video';
    if (this.api === 'legacy') {
      if (this.piped.has(sender)) return;
      const id = this.nextId++;
      let streams;
      try {
        streams = sender.createEncodedStreams();
      } catch {
        // The sender stays silent (its streams are never piped); say so.
        this._fail('a media sender could not be encrypted');
        return;
      }
      this.piped.add(sender);
      this._postStream(streams, { dir: 'send', kind, source, id });
      return;
    }
    // RTCRtpScriptTransform: re-assert (never null).
    if (sender.transform) return;
    const id = this.nextId++;
    const options = { dir: 'send', kind, source, id };
    sender.transform = new RTCRtpScriptTransform(this.worker, options);
    this.senders.set(id, { sender, options });
  }

  attachReceiver(receiver, info) {
    if (this.closed) return;
    let slot = this.receiverSlots.get(receiver);
    if (slot === undefined) {
      slot = this.nextId++;
      const kind = (receiver.track && receiver.track.kind) || (info && info.kind) || 'video';
      const options = { dir: 'recv', kind, slot, id: slot };
      if (this.api === 'legacy') {
        try {
          this._postStream(receiver.createEncodedStreams(), options);
          this.piped.add(receiver);
        } catch {
          // Already piped elsewhere: a connection made with encodedInsertableStreams
          // (peerConnectionConfig) decodes nothing from a receiver not piped.
        }
      } else if (!receiver.transform) {
        // A transform that could not be made throws before the receiver counts as
        // attached: the next attach (before the answer) tries again or refuses, never
        // goes on with a receiver that plays what the server sends (Firefox).
        receiver.transform = new RTCRtpScriptTransform(this.worker, options);
      }
      this.receiverSlots.set(receiver, slot);
    }
    // A receiver the last offer does not name carries nobody: its frames are dropped
    // until it is named again, never decrypted as whoever it carried before.
    // The route names the track's source too: a frame decrypts only as the source its
    // sender sent it as (e2ee/FORMAT.md, "Frame format").
    const pid = (info && info.participantId) || undefined;
    const source = pid ? info.source : undefined;
    const route = pid ? `${pid}\0${source}` : undefined;
    if (this.routes.get(slot) !== route) {
      if (route) this.routes.set(slot, route);
      else this.routes.delete(slot);
      this._post({ t: 'route', slot, pid: pid || null, source: source || null });
    }
  }

  checkSenders(pc) {
    if (this.failed) throw new Error(`e2ee: ${this.failed}`);
    for (const sender of pc.getSenders()) {
      const ok = this.api === 'legacy' ? this.piped.has(sender) : !!sender.transform;
      if (!ok) throw new Error('e2ee: a sender has no encrypting transform');
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this._watchdog);
    this.worker.onmessage = null;
    this.worker.onerror = null;
    this.worker.terminate();
    if (current === this) current = null;
  }

  _postStream({ readable, writable }, options) {
    this.worker.postMessage({ t: 'stream', readable, writable, options }, [readable, writable]);
  }

  _post(msg) {
    if (this.closed) return;
    this.worker.postMessage(msg);
  }

  _message(msg) {
    if (this.closed) return;
    this._silentMs = 0;
    switch (msg.t) {
      case 'ready':
        this.isReady = true;
        this._readyResolve();
        // A spare for the next session of this page (a resume after a drop), loaded
        // while the network is good: a resume on a path that died without a close
        // found the browser's pooled connections dead too, and the new worker's modules
        // (revalidated: Cache-Control no-cache) never came; the member stayed in the
        // meeting sending and receiving nothing.
        prewarmMediaWorker();
        break;
      case 'stats':
        this.stats = { encrypted: msg.encrypted, decrypted: msg.decrypted, decryptFailed: msg.decryptFailed };
        this.onStats(this.stats);
        break;
      case 'pipe-error':
        this._pipeError(msg);
        break;
      case 'missing-key':
        if (typeof msg.pid === 'string') this.onMissingKey(msg.pid);
        break;
      case 'key-ok':
        if (typeof msg.pid === 'string') this.onKeyOk(msg.pid);
        break;
      default:
    }
  }

  _pipeError({ id, dir }) {
    if (dir !== 'send') return; // a receiver that broke decodes nothing more: no leak
    const entry = this.senders.get(id);
    if (this.api === 'script' && entry) {
      // A fresh transform in place of the broken one (never null, TESTING.md).
      this.senders.delete(id);
      const nid = this.nextId++;
      const options = { ...entry.options, id: nid };
      try {
        entry.sender.transform = new RTCRtpScriptTransform(this.worker, options);
        this.senders.set(nid, { sender: entry.sender, options });
        return;
      } catch {
        // fall through
      }
    }
    // Legacy streams cannot be made again: the sender stays silent.
    this._fail('a media sender stopped encrypting');
  }

  _fail(reason) {
    if (this.failed || this.closed) return;
    this.failed = reason;
    clearInterval(this._watchdog);
    this._readyReject(new Error(reason));
    // A dead worker keeps every sender silent (both APIs fail closed without it).
    this.worker.terminate();
    this.onError(reason);
  }
}
