// Frame encryption of Conclave's E2EE (e2ee/FORMAT.md) and a per-sender key
// ring. No DOM and no top-level await, so an insertable-streams worker can
// import it (as a module worker).
//
//   frame = clear || AES-GCM(KF, iv, rest, aad) || iv || 0x0c || keyIndex
//   aad   = "conclave/v3 frame" || 0x00 || senderId || 0x00 || kind || 0x00 || source || 0x00 || keyIndex || clear
//
// The sender's id in the aad binds every frame to its sender: a frame the server
// forwards under another participant's track fails authentication there, even
// where that participant's ring holds the same key at the same index. The source
// (microphone, camera, screen) binds it to the sender's track: the server cannot show
// someone's camera as their screen share, or the reverse.
import { E2EEError } from './errors.js';
import { concat, toBytes } from './b64.js';
import { IV_SIZE, KEY_INDEX_COUNT, MAX_RATCHET, RING_SIZE, frameKey, newMediaKey, nextIndex, randomBytes, ratchet, subtle, validId } from './keys.js';

export const VP8 = 'vp8';
export const OPUS = 'opus';

// The sources a frame is bound to (the signaling's track sources).
export const MICROPHONE = 'microphone';
export const CAMERA = 'camera';
export const SCREEN = 'screen';
const SOURCES = new Set([MICROPHONE, CAMERA, SCREEN]);

/** validSource reports whether source is one a frame can be bound to. */
export function validSource(source) {
  return SOURCES.has(source);
}

function checkSource(source) {
  if (!validSource(source)) throw new E2EEError('bad-input', `unknown source ${source}`);
}

const TRAILER = IV_SIZE + 2;
const MIN_FRAME = TRAILER + 16; // an encrypted empty frame

/** clearBytes: how many leading bytes stay clear for a frame of this kind starting with `first`. */
export function clearBytes(kind, first) {
  if (kind === VP8) return (first & 1) === 0 ? 10 : 3; // bit 0 clear: keyframe
  if (kind === OPUS) return 1;
  throw new E2EEError('bad-input', `unknown frame kind ${kind}`);
}

const utf8 = new TextEncoder();
const FRAME_LABEL = utf8.encode('conclave/v3 frame');

// The aad's prefix (label, sender id, kind, source) is the same for every frame of a
// sender's track: it is encoded once, not on every frame of the media path. A page
// meets few ids; the cache is dropped if it ever grows past that.
const aadPrefixes = new Map(); // senderId \0 kind \0 source -> bytes
const MAX_AAD_PREFIXES = 512;

function frameAad(senderId, kind, source, keyIndex, clear) {
  const key = `${senderId}\0${kind}\0${source}`;
  let prefix = aadPrefixes.get(key);
  if (!prefix) {
    if (aadPrefixes.size >= MAX_AAD_PREFIXES) aadPrefixes.clear();
    const zero = Uint8Array.of(0);
    prefix = concat(FRAME_LABEL, zero, utf8.encode(senderId), zero, utf8.encode(kind), zero, utf8.encode(source), zero);
    aadPrefixes.set(key, prefix);
  }
  return concat(prefix, Uint8Array.of(keyIndex), clear);
}

function checkSender(senderId) {
  if (!validId(senderId)) throw new E2EEError('bad-id', 'invalid sender id');
}

/**
 * encryptFrame encrypts an encoded frame (ArrayBuffer or view) of participant senderId's
 * track of source under key (a CryptoKey from frameKey) and returns an ArrayBuffer.
 */
export async function encryptFrame(key, senderId, keyIndex, frame, kind, source, iv = randomBytes(IV_SIZE)) {
  checkSender(senderId);
  checkSource(source);
  if (!Number.isInteger(keyIndex) || keyIndex < 0 || keyIndex >= KEY_INDEX_COUNT) {
    throw new E2EEError('bad-input', 'key index must be 0-255');
  }
  const f = toBytes(frame);
  const nonce = toBytes(iv);
  if (nonce.length !== IV_SIZE) throw new E2EEError('bad-input', 'iv must be 12 bytes');
  const c = f.length === 0 ? 0 : Math.min(clearBytes(kind, f[0]), f.length);
  const clear = f.subarray(0, c);
  const additionalData = frameAad(senderId, kind, source, keyIndex, clear);
  const sealed = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData }, key, f.subarray(c));
  return concat(clear, sealed, nonce, Uint8Array.of(IV_SIZE, keyIndex)).buffer;
}

/** frameKeyIndex returns a frame's key index, or -1 if it is too short to have one. */
export function frameKeyIndex(frame) {
  const f = toBytes(frame);
  return f.length < MIN_FRAME ? -1 : f[f.length - 1];
}

/**
 * decryptFrame opens a frame as participant senderId's track of source; lookup(index)
 * returns that sender's CryptoKey for a key index (or a promise of it), or
 * null/undefined. It returns an ArrayBuffer and throws E2EEError 'bad-id', 'too-short',
 * 'malformed', 'unknown-key' or 'auth' (also for another sender's frame, or one of
 * another of its sources), in that order of checks.
 */
export async function decryptFrame(lookup, senderId, frame, kind, source) {
  clearBytes(kind, 0); // refuse an unknown kind first
  checkSource(source);
  checkSender(senderId);
  const f = toBytes(frame);
  const n = f.length;
  if (n < MIN_FRAME) throw new E2EEError('too-short', 'frame too short');
  if (f[n - 2] !== IV_SIZE) throw new E2EEError('malformed', 'bad iv length');
  const index = f[n - 1];
  const key = await lookup(index);
  if (!key) throw new E2EEError('unknown-key', `no key for index ${index}`);
  const c = Math.min(clearBytes(kind, f[0]), n - MIN_FRAME);
  const clear = f.subarray(0, c);
  let plain;
  try {
    const iv = f.subarray(n - TRAILER, n - 2);
    const additionalData = frameAad(senderId, kind, source, index, clear);
    plain = await subtle().decrypt({ name: 'AES-GCM', iv, additionalData }, key, f.subarray(c, n - TRAILER));
  } catch {
    throw new E2EEError('auth', 'frame failed authentication');
  }
  return concat(clear, plain).buffer;
}

/**
 * KeyRing holds one sender's keys: the last RING_SIZE (16) key indexes installed,
 * each with the raw key R and its frame key. Key indexes are a full byte and wrap
 * after 255, so the ring keeps the newest installs, not a window of index values
 * (FORMAT.md, "Media keys and the ratchet"; the Go reference is e2ee.Ring). encrypt
 * and decrypt take that sender's id, which every frame is bound to (the own id when
 * sending, the route's when receiving). Setting a new key keeps the others, so frames
 * still in flight under the previous key decrypt while the switch propagates.
 *
 * Sender side: set() or rotate() a key, ratchet() on a join (and give the
 * result to the newcomer), encrypt() with the current key.
 * Receiver side: set() what unwrapKey gives, decrypt(); a frame whose index is
 * up to maxRatchet (16) steps past the current one is tried under the ratcheted key,
 * which is kept only if the frame authenticates. What still fails for want of a key
 * ('unknown-key', 'auth') is the cue to ask the sender for its key (key-requests.js).
 */
export class KeyRing {
  #slots = new Map(); // index -> {raw, key}, oldest install first
  #current = -1;
  #candidates = new Map(); // index -> promise of {raw, key}, derived from the current slot
  #sets = 0; // keys set (and clears): a guess derived across one is not installed (decrypt)

  constructor({ maxRatchet = MAX_RATCHET } = {}) {
    this.maxRatchet = maxRatchet;
  }

  /** currentIndex is the key index encrypt() uses and ratchets start from, or -1. */
  get currentIndex() {
    return this.#current;
  }

  /** has reports whether a slot holds a key. */
  has(index) {
    return this.#slots.has(index);
  }

  /** size is the number of keys installed (at most RING_SIZE). */
  get size() {
    return this.#slots.size;
  }

  /**
   * set installs raw key R at index; with current (the default) it becomes the current key.
   * counter, when given, is the key's counter from its sender's envelope (FORMAT.md, "The
   * newest key"): a key set current with one drops every key held for a higher counter,
   * which only the ratchet guesses installed (its sender's envelopes go up): a guess ahead
   * of the sender's own word is either re-derived from it when its frames come, or a
   * ratchet of an older key that someone who left followed while this key was held back.
   */
  async set(index, raw, { current = true, counter } = {}) {
    if (!Number.isInteger(index) || index < 0 || index >= KEY_INDEX_COUNT) {
      throw new E2EEError('bad-input', 'key index must be 0-255');
    }
    const c = Number.isSafeInteger(counter) && counter >= 0 ? counter : undefined;
    const r = toBytes(raw).slice();
    const slot = { raw: r, key: await frameKey(r), counter: c };
    this.#sets++;
    if (current && c !== undefined) {
      for (const [i, s] of this.#slots) if (i !== index && s.counter !== undefined && s.counter > c) this.#slots.delete(i);
    }
    this.#install(index, slot);
    if (current) this.use(index);
  }

  /** #install puts a slot in as the newest install; the oldest beyond RING_SIZE (never the current) goes. */
  #install(index, slot) {
    this.#slots.delete(index); // re-inserted last: an index reused after a wrap counts as new
    this.#slots.set(index, slot);
    for (const old of this.#slots.keys()) {
      if (this.#slots.size <= RING_SIZE) break;
      if (old !== this.#current && old !== index) this.#slots.delete(old);
    }
  }

  /** use makes an installed key the current one. */
  use(index) {
    if (!this.has(index)) throw new E2EEError('unknown-key', `no key for index ${index}`);
    this.#current = index;
    this.#candidates.clear();
  }

  /** ratchet moves to (i+1, R') and returns {index, raw} to give a newcomer. */
  async ratchet() {
    const cur = this.#require();
    const next = { index: nextIndex(this.#current), raw: await ratchet(cur.raw) };
    await this.set(next.index, next.raw);
    return next;
  }

  /** rotate installs a fresh random key at i+1 (current unless told otherwise) and returns {index, raw}. */
  async rotate({ current = true } = {}) {
    const next = { index: this.#current < 0 ? 0 : nextIndex(this.#current), raw: newMediaKey() };
    await this.set(next.index, next.raw, { current });
    return next;
  }

  /** encrypt encrypts a frame of senderId's track of source under the current key. */
  async encrypt(senderId, frame, kind, source, iv) {
    return encryptFrame(this.#require().key, senderId, this.#current, frame, kind, source, iv);
  }

  /** decrypt opens a frame as senderId's track of source, ratcheting forward if needed (see the class comment). */
  async decrypt(senderId, frame, kind, source) {
    try {
      return await decryptFrame((i) => this.#slots.get(i)?.key, senderId, frame, kind, source);
    } catch (err) {
      if (!(err instanceof E2EEError) || (err.code !== 'unknown-key' && err.code !== 'auth')) throw err;
      const index = frameKeyIndex(frame);
      const steps = (index - this.#current + KEY_INDEX_COUNT) % KEY_INDEX_COUNT;
      if (this.#current < 0 || index >= KEY_INDEX_COUNT || steps === 0 || steps > this.maxRatchet) throw err;
      const sets = this.#sets;
      const candidate = await this.#candidate(index, steps);
      let plain;
      try {
        plain = await decryptFrame(() => candidate.key, senderId, frame, kind, source);
      } catch {
        throw err; // not a ratchet (e.g. a rotation whose key has not arrived yet)
      }
      // A key set meanwhile (the sender's newest, which drops the guesses above it):
      // the guess was made from what was current before it, and is not kept. The frame,
      // which came before that key, opens.
      if (this.#sets !== sets) return plain;
      this.#install(index, candidate);
      this.use(index);
      return plain;
    }
  }

  /** clear forgets every key. */
  clear() {
    this.#sets++;
    this.#slots.clear();
    this.#current = -1;
    this.#candidates.clear();
  }

  #require() {
    const cur = this.#slots.get(this.#current);
    if (!cur) throw new E2EEError('unknown-key', 'no current key');
    return cur;
  }

  #candidate(index, steps) {
    let p = this.#candidates.get(index);
    if (!p) {
      const cur = this.#slots.get(this.#current);
      const base = cur.raw;
      const counter = cur.counter === undefined ? undefined : cur.counter + steps;
      p = (async () => {
        let raw = base;
        for (let i = 0; i < steps; i++) raw = await ratchet(raw);
        return { raw, key: await frameKey(raw), counter };
      })();
      this.#candidates.set(index, p);
    }
    return p;
  }
}
