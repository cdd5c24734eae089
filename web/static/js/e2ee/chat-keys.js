// Chat texts of version 2 (e2ee/FORMAT.md, "Chat (version 2)"):
//   "e2." || base64url(keyIndex || iv || AES-GCM(KT, iv, utf8(text),
//                      aad = "conclave/v2 chat" 0x00 senderId 0x00 keyIndex))
// with KT = HKDF(R, "conclave/v2", "chat") from the sender's media key R at keyIndex.
// Only members the sender verified get R, so the link's secret opens no chat text.
//
//   encryptChat / decryptChatUnder / parseChat   the format (checked against the Go
//                reference's vectors, e2ee/testdata/chat.json)
//   ChatKeys     the page's copy of every sender's media keys (the last RING_SIZE
//                indexes, as the media worker keeps them), which opens a received text
//                with its sender's key at its index, following up to MAX_RATCHET
//                ratchet steps by itself, and lets a text whose key has not arrived
//                wait for it (bounded).
//
// No DOM and no globals: the clock is injected, so Node tests drive the waiting.
import { E2EEError } from './errors.js';
import { concat, decode, encode, toBytes } from './b64.js';
import { IV_SIZE, KEY_SIZE, MAX_RATCHET, RING_SIZE, hkdf, ratchet, randomBytes, subtle, validId } from './keys.js';
import { systemClock } from './key-requests.js';

export const CHAT_PREFIX = 'e2.';
const LABEL_V2 = 'conclave/v2';
const MIN_SIZE = 1 + IV_SIZE + 16; // keyIndex || iv || tag: an empty text
/** CHAT_WAIT_MS is how long a text waits for its sender's key before it is shown as unreadable. */
export const CHAT_WAIT_MS = 10000;
/** CHAT_ASK_MS is the shortest time between two key requests a waiting text makes to one sender. */
export const CHAT_ASK_MS = 2000;

const utf8 = new TextEncoder();
// fatal: refuse invalid UTF-8 like Go does; ignoreBOM: keep a leading U+FEFF as text.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** chatKeyBytes returns KT = HKDF(R, "conclave/v2", "chat"). */
export async function chatKeyBytes(raw) {
  const r = toBytes(raw);
  if (r.length !== KEY_SIZE) throw new E2EEError('bad-input', 'a raw media key must be 32 bytes');
  return hkdf(r, LABEL_V2, 'chat');
}

function aad(senderId, keyIndex) {
  if (!validId(senderId)) throw new E2EEError('bad-id', 'a chat text needs its sender id');
  return concat(utf8.encode(`${LABEL_V2} chat\0${senderId}\0`), new Uint8Array([keyIndex]));
}

async function importKT(kt) {
  return subtle().importKey('raw', toBytes(kt), { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/** encryptChat seals text as senderId's under its raw media key at keyIndex (0–255). */
export async function encryptChat(raw, keyIndex, senderId, text, iv = randomBytes(IV_SIZE)) {
  if (!Number.isInteger(keyIndex) || keyIndex < 0 || keyIndex > 255) throw new E2EEError('bad-input', 'key index must be 0–255');
  const additionalData = aad(senderId, keyIndex);
  if (typeof text !== 'string') throw new E2EEError('bad-input', 'text must be a string');
  const nonce = toBytes(iv);
  if (nonce.length !== IV_SIZE) throw new E2EEError('bad-input', 'iv must be 12 bytes');
  const key = await importKT(await chatKeyBytes(raw));
  const sealed = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData }, key, utf8.encode(text));
  return CHAT_PREFIX + encode(concat(new Uint8Array([keyIndex]), nonce, sealed));
}

/** parseChat returns {keyIndex, sealed} of an "e2." string, or throws 'malformed' / 'too-short'. */
export function parseChat(s) {
  if (typeof s !== 'string' || !s.startsWith(CHAT_PREFIX)) throw new E2EEError('malformed', 'not an e2. text');
  const b = decode(s.slice(CHAT_PREFIX.length));
  if (b.length < MIN_SIZE) throw new E2EEError('too-short', 'chat text too short');
  return { keyIndex: b[0], sealed: b.subarray(1) };
}

/** decryptChatUnder opens an "e2." string from senderId with the chat key KT (32 bytes). */
export async function decryptChatUnder(kt, senderId, s) {
  const { keyIndex, sealed } = parseChat(s);
  const additionalData = aad(senderId, keyIndex);
  let plain;
  try {
    plain = await subtle().decrypt({ name: 'AES-GCM', iv: sealed.subarray(0, IV_SIZE), additionalData },
      await importKT(kt), sealed.subarray(IV_SIZE));
  } catch {
    throw new E2EEError('auth', 'chat text failed authentication');
  }
  try {
    return strictUtf8.decode(plain);
  } catch {
    throw new E2EEError('malformed', 'chat text is not valid UTF-8');
  }
}

/** decryptChat opens an "e2." string from senderId with that sender's raw media key at its index. */
export async function decryptChat(raw, senderId, s) {
  return decryptChatUnder(await chatKeyBytes(raw), senderId, s);
}

/**
 * ChatKeys keeps, per sender, the raw media keys this page got (and its own), and
 * opens chat texts with them. A text whose key is not held waits for it.
 */
export class ChatKeys {
  /**
   * @param {{ask?: (pid: string) => void, clock?: object, waitMs?: number}} opts
   * ask(pid) sends pid a key request (the caller checks that pid may be asked).
   */
  constructor({ ask = () => {}, clock = systemClock, waitMs = CHAT_WAIT_MS } = {}) {
    this.ask = ask;
    this.clock = clock;
    this.waitMs = waitMs;
    this.senders = new Map(); // pid -> {keys: Map(index -> raw), order: [index…], newest}
    this.waiters = new Map(); // pid -> Set of functions to call when a key of pid arrives
    this.asked = new Map(); // pid -> when it was last asked
    this.closed = false;
  }

  /** setKey installs raw media key `raw` of pid at `index` (the newest of pid). */
  setKey(pid, index, raw) {
    if (this.closed || !validId(pid)) return;
    let s = this.senders.get(pid);
    if (!s) {
      s = { keys: new Map(), order: [], newest: -1 };
      this.senders.set(pid, s);
    }
    this._install(s, index, toBytes(raw).slice());
    s.newest = index;
    const waiting = this.waiters.get(pid);
    if (waiting) for (const wake of [...waiting]) wake();
  }

  /** forget drops pid's keys (it left, or resumed with a new identity). */
  forget(pid) {
    this.senders.delete(pid);
    this.asked.delete(pid);
    const waiting = this.waiters.get(pid);
    if (waiting) for (const wake of [...waiting]) wake();
  }

  close() {
    this.closed = true;
    this.senders.clear();
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
    this.waiters.clear();
  }

  _install(s, index, raw) {
    if (!s.keys.has(index)) s.order.push(index);
    s.keys.set(index, raw);
    while (s.order.length > RING_SIZE) s.keys.delete(s.order.shift());
  }

  /**
   * tryOpen opens s as pid's text with the keys held now: the key at its index, or a
   * ratchet of pid's newest key 1 to MAX_RATCHET steps on (installed once the text
   * authenticates under it). Throws 'unknown-key' when no held key can open it,
   * 'auth' when the key at its index does not open it (re-attributed or forged),
   * or the format's errors.
   */
  async tryOpen(pid, s) {
    const { keyIndex } = parseChat(s);
    const st = this.senders.get(pid);
    if (!st) throw new E2EEError('unknown-key', 'no key of this sender yet');
    const held = st.keys.get(keyIndex);
    if (held) return decryptChat(held, pid, s);
    const steps = (keyIndex - st.newest + 256) % 256;
    if (st.newest < 0 || steps < 1 || steps > MAX_RATCHET) throw new E2EEError('unknown-key', 'no key at this index');
    let raw = st.keys.get(st.newest);
    const from = st.newest;
    for (let i = 0; i < steps; i++) raw = await ratchet(raw);
    let text;
    try {
      text = await decryptChat(raw, pid, s);
    } catch (err) {
      // Not a ratchet: a rotation whose key has not arrived yet (or junk).
      throw err.code === 'auth' ? new E2EEError('unknown-key', 'no key at this index') : err;
    }
    if (this.senders.get(pid) === st && st.newest === from) {
      this._install(st, keyIndex, raw);
      st.newest = keyIndex;
    }
    return text;
  }

  /**
   * open opens s as pid's text. If no held key opens it, it asks pid for its key (at
   * most once per CHAT_ASK_MS) and waits for the next key of pid, up to waitMs in
   * all; then it throws. Never waits for a text that fails under the key at its own
   * index: that one was not sent by pid under that key.
   */
  async open(pid, s) {
    if (!validId(pid)) throw new E2EEError('bad-id', 'invalid sender id');
    const deadline = this.clock.now() + this.waitMs;
    for (;;) {
      try {
        return await this.tryOpen(pid, s);
      } catch (err) {
        if (err.code !== 'unknown-key' || this.closed) throw err;
        const left = deadline - this.clock.now();
        if (left <= 0) throw err;
        this._askLimited(pid);
        await this._nextKey(pid, left); // a key of pid, or CHAT_ASK_MS: try (and ask) again
        if (this.closed) throw err;
      }
    }
  }

  _askLimited(pid) {
    const now = this.clock.now();
    const last = this.asked.get(pid);
    if (last !== undefined && now - last < CHAT_ASK_MS) return;
    this.asked.set(pid, now);
    this.ask(pid);
  }

  /** _nextKey resolves when a key of pid arrives, pid is forgotten, or min(ms, CHAT_ASK_MS) passed. */
  _nextKey(pid, ms) {
    return new Promise((resolve) => {
      let set = this.waiters.get(pid);
      if (!set) {
        set = new Set();
        this.waiters.set(pid, set);
      }
      let timer = null;
      const wake = () => {
        set.delete(wake);
        if (set.size === 0 && this.waiters.get(pid) === set) this.waiters.delete(pid);
        if (timer !== null) this.clock.clearTimeout(timer);
        timer = null;
        resolve();
      };
      set.add(wake);
      timer = this.clock.setTimeout(wake, Math.min(ms, CHAT_ASK_MS));
    });
  }
}
