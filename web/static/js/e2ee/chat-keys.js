// Chat texts of version 3 (e2ee/FORMAT.md, "Chat (version 3)"):
//   "e3." || base64url(keyIndex || iv || AES-GCM(KT, iv, counter || utf8(text),
//                      aad = "conclave/v3 chat" 0x00 senderId 0x00 keyIndex))
// with KT = HKDF(R, "conclave/v3", "chat") from the sender's media key R at keyIndex,
// and counter 8 bytes, big-endian, 1 to 2^53 − 1, going up with each text of the
// sender (its clock in milliseconds, or one above its last counter).
// Only members the sender verified get R, so the link's secret opens no chat text;
// a receiver takes from each sender only counters above the last it took, so a text
// the server replays (or moves behind a later one) is refused.
//
//   encryptChat / decryptChatUnder / parseChat   the format (checked against the Go
//                reference's vectors, e2ee/testdata/chat.json)
//   ChatKeys     the page's copy of every sender's media keys (the last RING_SIZE
//                indexes, as the media worker keeps them), which opens a received text
//                with its sender's key at its index, following up to MAX_RATCHET
//                ratchet steps by itself, and lets a text whose key has not arrived
//                wait for it (bounded, and behind it only its sender's later texts,
//                which are tried as they come all the same), and refuses a sender's
//                counter that does not go up (in the order the texts came).
//
// No DOM and no globals: the clock is injected, so Node tests drive the waiting.
import { E2EEError } from './errors.js';
import { concat, decode, encode, toBytes } from './b64.js';
import { IV_SIZE, KEY_SIZE, MAX_RATCHET, RING_SIZE, hkdf, ratchet, randomBytes, subtle, validId } from './keys.js';
import { systemClock } from './key-requests.js';

export const CHAT_PREFIX = 'e3.';
const LABEL_V3 = 'conclave/v3';
const COUNTER_SIZE = 8;
/** MAX_CHAT_COUNTER is the largest counter (Number.MAX_SAFE_INTEGER, 2^53 − 1). */
export const MAX_CHAT_COUNTER = Number.MAX_SAFE_INTEGER;
const MIN_SIZE = 1 + IV_SIZE + COUNTER_SIZE + 16; // keyIndex || iv || counter || tag: an empty text
/** CHAT_WAIT_MS is how long a text waits for its sender's key before it is shown as unreadable. */
export const CHAT_WAIT_MS = 10000;
/** CHAT_ASK_MS is the shortest time between two key requests a waiting text makes to one sender. */
export const CHAT_ASK_MS = 2000;
/**
 * MAX_TRYING is how many of one sender's texts are tried again at each of its keys: the
 * ones further back were tried on arrival and are tried again once they come this near
 * the head, so that a key costs a bounded number of tries however many texts wait.
 */
export const MAX_TRYING = 4;

const utf8 = new TextEncoder();
// fatal: refuse invalid UTF-8 like Go does; ignoreBOM: keep a leading U+FEFF as text.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** chatKeyBytes returns KT = HKDF(R, "conclave/v3", "chat"). */
export async function chatKeyBytes(raw) {
  const r = toBytes(raw);
  if (r.length !== KEY_SIZE) throw new E2EEError('bad-input', 'a raw media key must be 32 bytes');
  return hkdf(r, LABEL_V3, 'chat');
}

function aad(senderId, keyIndex) {
  if (!validId(senderId)) throw new E2EEError('bad-id', 'a chat text needs its sender id');
  return concat(utf8.encode(`${LABEL_V3} chat\0${senderId}\0`), new Uint8Array([keyIndex]));
}

async function importKT(kt) {
  return subtle().importKey('raw', toBytes(kt), { name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
}

/**
 * encryptChat seals text as senderId's under its raw media key at keyIndex (0–255),
 * with counter (1 to MAX_CHAT_COUNTER), above every counter of the sender's before.
 */
export async function encryptChat(raw, keyIndex, senderId, text, counter, iv = randomBytes(IV_SIZE)) {
  if (!Number.isInteger(keyIndex) || keyIndex < 0 || keyIndex > 255) throw new E2EEError('bad-input', 'key index must be 0–255');
  if (!Number.isSafeInteger(counter) || counter < 1) throw new E2EEError('bad-input', 'counter must be 1 to 2^53 − 1');
  const additionalData = aad(senderId, keyIndex);
  if (typeof text !== 'string') throw new E2EEError('bad-input', 'text must be a string');
  const nonce = toBytes(iv);
  if (nonce.length !== IV_SIZE) throw new E2EEError('bad-input', 'iv must be 12 bytes');
  const key = await importKT(await chatKeyBytes(raw));
  const head = new Uint8Array(COUNTER_SIZE);
  const view = new DataView(head.buffer);
  view.setUint32(0, Math.floor(counter / 2 ** 32));
  view.setUint32(4, counter % 2 ** 32);
  const plain = concat(head, utf8.encode(text));
  const sealed = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData }, key, plain);
  return CHAT_PREFIX + encode(concat(new Uint8Array([keyIndex]), nonce, sealed));
}

/** parseChat returns {keyIndex, sealed} of an "e3." string, or throws 'malformed' / 'too-short'. */
export function parseChat(s) {
  if (typeof s !== 'string' || !s.startsWith(CHAT_PREFIX)) throw new E2EEError('malformed', 'not an e3. text');
  const b = decode(s.slice(CHAT_PREFIX.length));
  if (b.length < MIN_SIZE) throw new E2EEError('too-short', 'chat text too short');
  return { keyIndex: b[0], sealed: b.subarray(1) };
}

/**
 * decryptChatUnder opens an "e3." string from senderId with the chat key KT (32 bytes):
 * {text, counter}.
 */
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
  const bytes = new Uint8Array(plain);
  const view = new DataView(bytes.buffer, bytes.byteOffset, COUNTER_SIZE);
  const high = view.getUint32(0);
  const counter = high * 2 ** 32 + view.getUint32(4);
  if (counter === 0 || high >= 2 ** 21) throw new E2EEError('malformed', 'chat text with a counter of 0 or above 2^53 − 1');
  try {
    return { text: strictUtf8.decode(bytes.subarray(COUNTER_SIZE)), counter };
  } catch {
    throw new E2EEError('malformed', 'chat text is not valid UTF-8');
  }
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** decryptChat opens an "e3." string from senderId with that sender's raw media key at its index: {text, counter}. */
export async function decryptChat(raw, senderId, s) {
  return decryptChatUnder(await chatKeyBytes(raw), senderId, s);
}

/**
 * ChatKeys keeps, per sender, the raw media keys this page got (and its own), and
 * opens chat texts with them. A text whose key is not held waits for it. Which keys it
 * holds is checked against the Go reference's ChatRing (e2ee/chatring.go) by the
 * vectors' keyDrops (e2ee/testdata/chat.json).
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
    this.counters = new Map(); // pid -> the last counter taken from pid
    this.queues = new Map(); // pid -> {tail, texts, left}: its texts being opened, in order (open); left: pid left meanwhile
    this.closed = false;
  }

  /**
   * setKey installs raw media key `raw` of pid at `index`: the newest of pid (ratchet
   * guesses start from it), or with past (a key of pid's from before its newest: FORMAT.md,
   * "Chat (version 3)") only a key that opens texts at its own index. The texts of pid
   * that wait are tried again, unless the key changes nothing (the newest sent again,
   * which the server can replay as often as it likes). counter, when given, is the key's
   * counter from pid's envelope: a newest key with one drops the keys held for a higher
   * counter, which only ratchet guesses installed (as the media worker's ring does:
   * frame.js, KeyRing.set).
   */
  setKey(pid, index, raw, { past = false, counter } = {}) {
    if (this.closed || !validId(pid)) return;
    let s = this.senders.get(pid);
    if (!s) {
      s = { keys: new Map(), order: [], newest: -1, counters: new Map() };
      this.senders.set(pid, s);
    }
    const r = toBytes(raw).slice();
    const held = s.keys.get(index);
    if (s.newest === index && (past || (held && sameBytes(held, r)))) return; // a past key never replaces the newest
    const c = Number.isSafeInteger(counter) && counter >= 0 ? counter : undefined;
    if (!past && c !== undefined) {
      for (const [i, hc] of [...s.counters]) {
        if (i !== index && hc > c) this._drop(s, i);
      }
    }
    this._install(s, index, r);
    if (c !== undefined) s.counters.set(index, c);
    else s.counters.delete(index);
    if (!past) s.newest = index;
    const waiting = this.waiters.get(pid);
    if (waiting) for (const wake of [...waiting]) wake();
  }

  /**
   * forget drops pid's keys (it left, or resumed with a new identity). Its last counter
   * stays: a resumed page counts on from its clock, and a resume the server made up
   * (then replaying the old identity, and the sender's current key got by a key
   * request) must not let it send the sender's texts again.
   */
  forget(pid) {
    this.senders.delete(pid);
    this.asked.delete(pid);
    const waiting = this.waiters.get(pid);
    if (waiting) for (const wake of [...waiting]) wake();
  }

  /**
   * left forgets pid for good (it left: its id is dead, and none of its texts is opened
   * again, SessionChat._openChat), its last counter too: kept, the counters of everyone
   * who came and went grew with the day, one per member that ever wrote.
   */
  left(pid) {
    this.forget(pid);
    // Not while texts of pid are still being taken (opened before it left): each of
    // them must still refuse a counter taken before it, or a text the server sent
    // twice would be given twice. The last one taken forgets it (open, done).
    const q = this.queues.get(pid);
    if (q) q.left = true;
    else this.counters.delete(pid);
  }

  close() {
    this.closed = true;
    this.senders.clear();
    for (const set of this.waiters.values()) for (const wake of [...set]) wake();
    this.waiters.clear();
  }

  /**
   * _install keeps the keys of the last RING_SIZE indexes installed, never dropping the
   * newest. A key at an index held already is a new install too (as in KeyRing): the
   * rotated key in place of a ratchet guess outlasts a past key that came before it.
   */
  _install(s, index, raw) {
    const at = s.order.indexOf(index);
    if (at >= 0) s.order.splice(at, 1);
    s.order.push(index);
    s.keys.set(index, raw);
    while (s.order.length > RING_SIZE) {
      const at = s.order[0] === s.newest ? 1 : 0;
      const gone = s.order.splice(at, 1)[0];
      s.keys.delete(gone);
      s.counters.delete(gone);
    }
  }

  /** _drop forgets the key held at index (a ratchet guess past the sender's newest word: setKey). */
  _drop(s, index) {
    s.keys.delete(index);
    s.counters.delete(index);
    const at = s.order.indexOf(index);
    if (at >= 0) s.order.splice(at, 1);
  }

  /**
   * tryOpen opens s as pid's text ({text, counter}) with the keys held now: the key at its index, or a
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
    const base = st.keys.get(st.newest);
    let raw = base;
    const from = st.newest;
    for (let i = 0; i < steps; i++) raw = await ratchet(raw);
    let opened;
    try {
      opened = await decryptChat(raw, pid, s);
    } catch (err) {
      // Not a ratchet: a rotation whose key has not arrived yet (or junk).
      throw err.code === 'auth' ? new E2EEError('unknown-key', 'no key at this index') : err;
    }
    // Kept only if the key it came from is still the newest: not if a key of pid's came
    // meanwhile, even at that index (the rotated key in place of a guess there).
    if (this.senders.get(pid) === st && st.newest === from && st.keys.get(from) === base) {
      const c = st.counters.get(from);
      this._install(st, keyIndex, raw);
      if (c !== undefined) st.counters.set(keyIndex, c + steps);
      else st.counters.delete(keyIndex);
      st.newest = keyIndex;
    }
    return opened;
  }

  /**
   * open opens s as pid's text and returns the text. If no held key opens it, it asks
   * pid for its key (at most once per CHAT_ASK_MS) and waits for the next key of pid,
   * up to waitMs from this call in all; then it throws. Never waits for a text that
   * fails under the key at its own index: that one was not sent by pid under that key.
   * A text whose counter is not above the last taken from pid is refused ('replay'):
   * the server sent it again, or after a later one.
   *
   * Each text is tried as it comes, with the keys held then, and again at each key of
   * pid that comes while it waits: one behind a text of its sender that waits (for a
   * key that may never come) is not left until its sender moved on (a rotation), when
   * the ratchet of a key held on its arrival is no longer followed. But the texts of one
   * sender are taken one after the other, in the order of the calls: the counter check,
   * and what the returned promise settles with, wait for the sender's earlier texts
   * (their counters go up in that order). Texts of different senders do not wait for
   * each other, so one that waits for its sender's key (a sender without the link's key
   * sends junk that never opens) holds back none of the others' texts. onWait() is
   * called, once, when this text waits: for its sender's key (CHAT_ASK_MS after the call
   * at the latest, if it has not opened), or behind a text of its sender that does, so
   * that a caller that shows texts in the order they came can show it as waiting and go
   * on with the next.
   */
  open(pid, s, onWait = () => {}) {
    if (!validId(pid)) return Promise.reject(new E2EEError('bad-id', 'invalid sender id'));
    const deadline = this.clock.now() + this.waitMs;
    let q = this.queues.get(pid);
    if (!q) {
      q = { tail: Promise.resolve(), texts: [] }; // texts: those being opened, oldest first
      this.queues.set(pid, q);
    }
    const text = { waits: false, onWait };
    const wait = () => {
      // It waits, and so do its sender's texts behind it.
      const at = q.texts.indexOf(text);
      if (at < 0) return; // taken already
      for (const x of q.texts.slice(at)) {
        if (!x.waits) {
          x.waits = true;
          x.onWait();
        }
      }
    };
    const behind = q.texts.length > 0;
    // Tried again only once the text MAX_TRYING places ahead was taken (see MAX_TRYING).
    const gate = q.texts.length >= MAX_TRYING ? q.texts[q.texts.length - MAX_TRYING].settled : null;
    q.texts.push(text);
    const askAt = this.clock.now() + CHAT_ASK_MS; // its first round ends then, however long it queued
    // Opened now, with what is held now (and at each key that comes while it waits) ...
    const opening = this._open(pid, s, deadline, askAt, wait, gate);
    opening.catch(() => {}); // settled by `run` below, maybe only after the earlier texts
    // ... and taken in the order the texts came.
    const take = (opened) => {
      if (opened.counter <= (this.counters.get(pid) || 0)) throw new E2EEError('replay', 'a chat text this sender sent before');
      // Also for a sender forgotten while the text was opened (a resume announced
      // meanwhile): its counter must stay, like every forgotten sender's (forget); and
      // for one that left meanwhile (left), until its last text in flight is taken.
      this.counters.set(pid, opened.counter);
      return opened.text;
    };
    const run = (behind ? q.tail.then(() => opening) : opening).then(take);
    const queues = this.queues;
    const done = () => {
      q.texts.splice(q.texts.indexOf(text), 1);
      if (q.texts.length === 0 && queues.get(pid) === q) {
        queues.delete(pid);
        if (q.left) this.counters.delete(pid); // it left: no text of it comes again
      }
    };
    q.tail = run.then(done, done);
    text.settled = q.tail;
    return run;
  }

  /** _open opens s as pid's text ({text, counter}), waiting for pid's keys until deadline. */
  async _open(pid, s, deadline, askAt, wait, gate = null) {
    for (;;) {
      try {
        return await this.tryOpen(pid, s);
      } catch (err) {
        if (err.code !== 'unknown-key' || this.closed) throw err;
        const now = this.clock.now();
        const left = deadline - now;
        if (left <= 0) throw err;
        // A text that comes just before its key (the usual order when a sender's key
        // changed) opens when the key does, a moment later: it is said to wait only
        // once CHAT_ASK_MS went by since it came (also when it queued behind its
        // sender's earlier texts meanwhile), so that a sender whose keys each come late
        // cannot hold the other senders' texts for longer.
        if (now >= askAt) wait();
        if (gate) {
          // Far back in its sender's queue: it waits its turn (the texts ahead settle by
          // their deadlines, which come before its own), not for every key.
          await gate;
          gate = null;
          if (this.closed) throw err;
          continue;
        }
        this._askLimited(pid);
        // A key of pid, or CHAT_ASK_MS (the first round: until askAt): try (and ask) again.
        await this._nextKey(pid, now < askAt ? askAt - now : left);
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
