// The key schedule of one stay in an end-to-end encrypted meeting
// (e2ee/FORMAT.md, "Key messages"), on top of keys.js, frame.js and text.js:
//
//   MeetingCrypto  the keys derived from the link's secret (identity key KI, chat
//                  key KC): display names and chat texts as "e1." strings, with a
//                  cache so that each name is decrypted once.
//   SessionKeys    this session's X25519 identity, the peers' verified public keys
//                  and pairwise wrapping keys, the own media key with its ratchet
//                  (someone joined) and rotation (someone left), the key messages
//                  relayed by the server (`e2ee`), and the safety code.
//
// Nothing here is logged or stored; every key lives in this page's memory (and
// the media keys also in the E2EE worker) until the session ends.

import { E2EEError } from './errors.js';
import { encode, decode, concat } from './b64.js';
import {
  meetingKeys, parseMeetingSecret, generateIdentity, identityTag, verifyIdentity, pairwiseKey,
  wrapKey, unwrapKey, newMediaKey, ratchet, nextIndex, validId, subtle,
} from './keys.js';
import { encryptText, decryptText, CHAT, NAME, PREFIX } from './text.js';
import { codeWords } from './words.js';

/** UNREADABLE is shown in place of a name or chat text that does not decrypt. */
export const UNREADABLE = '(unreadable)';

/** How long a peer may stay without a valid identity before it is shown as unverified. */
const VERIFY_TIMEOUT_MS = 10000;
/** How long a rotated key is announced before frames use it (receivers get it first). */
const ROTATE_DELAY_MS = 300;
const MAX_MESSAGE = 4096;

const utf8 = new TextEncoder();

/**
 * parseSecret decodes the `k` value of a link's fragment into the meeting secret
 * bytes, or throws (not canonical base64url, or shorter than 16 bytes).
 */
export function parseSecret(text) {
  return parseMeetingSecret(text);
}

/** MeetingCrypto holds what the link's secret gives: the identity and chat keys. */
export class MeetingCrypto {
  static async fromSecret(secret) {
    const { identityKey, chatKey } = await meetingKeys(secret);
    return new MeetingCrypto(identityKey, chatKey);
  }

  constructor(identityKey, chatKey) {
    this.identityKey = identityKey;
    this.chatKey = chatKey;
    this.names = new Map(); // ciphertext -> promise of the name (or UNREADABLE)
    this.known = new Map(); // ciphertext -> name, once resolved
  }

  encryptName(name) {
    return encryptText(this.chatKey, NAME, '', name);
  }

  /** nameNow returns the decrypted name if it is known, else undefined (see resolveName). */
  nameNow(cipher) {
    return this.known.get(cipher);
  }

  /** resolveName decrypts a name ("e1.…"); never rejects: UNREADABLE when it does not decrypt. */
  resolveName(cipher) {
    let p = this.names.get(cipher);
    if (!p) {
      p = decryptText(this.chatKey, NAME, '', cipher).catch(() => UNREADABLE).then((name) => {
        this.known.set(cipher, name);
        return name;
      });
      if (this.names.size > 2000) {
        this.names.clear();
        this.known.clear();
      }
      this.names.set(cipher, p);
    }
    return p;
  }

  encryptChat(senderId, text) {
    return encryptText(this.chatKey, CHAT, senderId, text);
  }

  /** decryptChat opens a chat text from `from`; UNREADABLE when it does not decrypt. */
  decryptChat(from, cipher) {
    if (!validId(from)) return Promise.resolve(UNREADABLE);
    return decryptText(this.chatKey, CHAT, from, cipher).catch(() => UNREADABLE);
  }
}

/** isCiphertext tells an "e1." string from plain text. */
export function isCiphertext(s) {
  return typeof s === 'string' && s.startsWith(PREFIX);
}

function compareUtf8(a, b) {
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * safetyCode computes the room's safety code from [{id, pub}] (own entry included):
 * SHA-256 over id || 0x00 || pub || 0x00 for each entry sorted by id (UTF-8 byte
 * order); the first 5 bytes pick 4 words (words.js).
 */
export async function safetyCode(entries) {
  const sorted = [...entries].sort((a, b) => compareUtf8(a.id, b.id));
  const parts = [];
  for (const e of sorted) parts.push(utf8.encode(e.id), Uint8Array.of(0), e.pub, Uint8Array.of(0));
  const digest = new Uint8Array(await subtle().digest('SHA-256', concat(...parts)));
  return codeWords(digest).join(' ');
}

/**
 * SessionKeys runs the key messages of one session. Peer states: 'pending' (no
 * valid identity yet), 'verified' (its tag checked out: it gets our key),
 * 'unverified' (a wrong tag, or none within VERIFY_TIMEOUT_MS: it never gets a key).
 */
export class SessionKeys {
  /**
   * sendBatch sends one change's key messages to several members as one `e2ee_batch`
   * (the server hands each its own envelope); without it they go one by one.
   *
   * @param {{meeting: MeetingCrypto, media: MediaCrypto,
   *          send: (to: string|null, data: string) => void,
   *          sendBatch?: (envelopes: {to: string, data: string}[]) => void,
   *          onChange: () => void}} opts
   */
  constructor({ meeting, media, send, sendBatch = null, onChange = () => {} }) {
    this.meeting = meeting;
    this.media = media;
    this.sendRaw = send;
    this.sendBatchRaw = sendBatch;
    this.onChange = onChange;
    this.selfId = null;
    this.identity = null; // {privateKey, publicKey}
    this.own = null; // {index, raw}: the newest own key (given to members)
    this.sendingIndex = -1; // the key index outgoing frames use (a rotation starts a little later)
    this.peers = new Map(); // id -> {state, pub, kw, identitySent, timer}
    this.pendingJoins = new Set();
    this.pendingLeave = false;
    this.flushTimer = 0;
    this.rotateTimer = 0;
    this.code = '';
    this.codeSeq = 0;
    this.closed = false;
    this.queue = Promise.resolve();
    this.ready = this._run(async () => {
      this.identity = await generateIdentity();
    });
  }

  /** start runs after `welcome`: own key, identity broadcast, the members already there. */
  start(selfId, memberIds) {
    return this._run(async () => {
      await this.ready; // rethrows 'unsupported' when this browser has no X25519
      if (!validId(selfId)) throw new E2EEError('bad-id', 'invalid own id');
      this.selfId = selfId;
      this.own = { index: 0, raw: newMediaKey() };
      this._useOwn(this.own);
      for (const id of memberIds) this._peer(id).identitySent = true;
      await this._sendIdentity(null);
      this._changed();
    });
  }

  /** peerJoined: someone joined after us; they get our identity, and our ratcheted key once verified. */
  peerJoined(id) {
    this._run(async () => {
      if (id === this.selfId || !validId(id)) return;
      const p = this._peer(id);
      if (!p.identitySent) {
        p.identitySent = true;
        await this._sendIdentity(id);
      }
      this.pendingJoins.add(id);
      this._scheduleFlush();
      this._changed();
    });
  }

  /**
   * peerResumed: the server announced that member id, whose connection had dropped, is
   * back on a new connection (`participant_resumed`). The new connection has a new
   * identity key (a reload loses the old one), so the one identity per id this session
   * verified is forgotten and id is handled like a newcomer: its new identity must verify
   * under the link's key before it gets anything, and it gets our ratcheted key, never an
   * older one. Only a member we still hold can resume: an id that left (peerLeft) is
   * gone from the map and stays dead. FORMAT.md, "Resumed members".
   */
  peerResumed(id) {
    if (id === this.selfId || !validId(id)) return;
    this._run(async () => {
      const p = this.peers.get(id);
      if (!p) return; // never a member here, or it left: it stays dead
      clearTimeout(p.timer);
      this.peers.delete(id);
      this.pendingJoins.delete(id);
      this.media.forget(id);
      this.peerJoined(id); // queued behind this step
    });
  }

  /** peerLeft: someone left or was removed; we rotate and tell only those who remain. */
  peerLeft(id) {
    this._run(async () => {
      const p = this.peers.get(id);
      if (!p) return;
      clearTimeout(p.timer);
      this.peers.delete(id);
      this.pendingJoins.delete(id);
      this.media.forget(id);
      this.pendingLeave = true;
      this._scheduleFlush();
      this._changed();
    });
  }

  /** receive handles one relayed key message (`e2ee` from the server). */
  receive(from, data) {
    this._run(async () => {
      if (this.closed || !this.selfId || from === this.selfId || !validId(from)) return;
      if (typeof data !== 'string' || data.length > MAX_MESSAGE) return;
      let msg;
      try {
        msg = JSON.parse(data);
      } catch {
        return;
      }
      if (!msg || msg.v !== 1) return;
      if (msg.t === 'identity') await this._identity(from, msg);
      else if (msg.t === 'key') await this._key(from, msg);
    });
  }

  verified() {
    return [...this.peers].filter(([, p]) => p.state === 'verified').map(([id]) => id);
  }

  unverified() {
    return [...this.peers].filter(([, p]) => p.state === 'unverified').map(([id]) => id);
  }

  stateOf(id) {
    const p = this.peers.get(id);
    return p ? p.state : null;
  }

  get keyIndex() {
    return this.sendingIndex;
  }

  close() {
    this.closed = true;
    clearTimeout(this.flushTimer);
    clearTimeout(this.rotateTimer);
    for (const p of this.peers.values()) clearTimeout(p.timer);
    this.peers.clear();
    this.own = null;
    this.identity = null;
  }

  // ------------------------------------------------------------ internals

  _run(fn) {
    const p = this.queue.then(() => (this.closed ? undefined : fn()));
    this.queue = p.catch(() => {});
    return p;
  }

  _peer(id) {
    let p = this.peers.get(id);
    if (!p) {
      p = { state: 'pending', pub: null, kw: null, identitySent: false, timer: 0, sent: null };
      p.timer = setTimeout(() => {
        if (this.closed || this.peers.get(id) !== p || p.state !== 'pending') return;
        p.state = 'unverified';
        this._changed();
      }, VERIFY_TIMEOUT_MS);
      this.peers.set(id, p);
    }
    return p;
  }

  _send(to, msg) {
    if (this.closed) return;
    this.sendRaw(to, JSON.stringify({ v: 1, ...msg }));
  }

  async _sendIdentity(to) {
    const pub = this.identity.publicKey;
    const tag = await identityTag(this.meeting.identityKey, this.selfId, pub);
    this._send(to, { t: 'identity', pub: encode(pub), tag: encode(tag) });
  }

  async _identity(from, msg) {
    let pub;
    let tag;
    try {
      pub = decode(String(msg.pub));
      tag = decode(String(msg.tag));
    } catch {
      pub = null;
    }
    const p = this._peer(from);
    if (p.state === 'verified') return; // one identity per session: the first verified one stays
    const ok = !!pub && await verifyIdentity(this.meeting.identityKey, from, pub, tag);
    let kw = null;
    if (ok) {
      try {
        kw = await pairwiseKey(this.identity.privateKey, pub, this.selfId, from);
      } catch {
        kw = null; // a low-order point: refused
      }
    }
    if (this.peers.get(from) !== p) return; // left meanwhile
    if (!kw) {
      p.state = 'unverified';
      clearTimeout(p.timer);
      this._changed();
      return;
    }
    p.state = 'verified';
    p.pub = pub;
    p.kw = kw;
    clearTimeout(p.timer);
    if (!p.identitySent) {
      p.identitySent = true;
      await this._sendIdentity(from);
    }
    // A newcomer gets the key only after our ratchet (or rotation) for its join.
    await this._flush();
    await this._sendKey(from);
    this._changed();
  }

  async _key(from, msg) {
    const p = this.peers.get(from);
    if (!p || p.state !== 'verified') return; // keys only from verified members
    let wrapped;
    try {
      wrapped = decode(String(msg.wrapped)); // iv || AES-GCM output: unwrapKey refuses all but 61 bytes
    } catch {
      return;
    }
    let key;
    try {
      key = await unwrapKey(p.kw, from, this.selfId, wrapped);
    } catch {
      return; // refused: wrong size, authentication, index
    }
    if (this.peers.get(from) !== p) return;
    this.media.setPeerKey(from, key.keyIndex, key.raw);
  }

  /** _sendKey sends the own key to `to`, or adds it to `batch` (see _sendKeys). */
  async _sendKey(to, batch = null) {
    const p = this.peers.get(to);
    if (!p || p.state !== 'verified' || !this.own || p.sent === this.own) return;
    p.sent = this.own;
    const wrapped = await wrapKey(p.kw, this.selfId, to, this.own.index, this.own.raw);
    if (batch) batch.push({ to, msg: { t: 'key', wrapped: encode(wrapped) } });
    else this._send(to, { t: 'key', wrapped: encode(wrapped) });
  }

  /**
   * _sendKeys gives the own key to each of ids that should have it, as ONE message
   * however many they are (e2ee/FORMAT.md, "Key messages"): a rotation in a large
   * meeting costs one message of the relay's budget, not one per member.
   */
  async _sendKeys(ids) {
    const batch = [];
    for (const id of ids) await this._sendKey(id, batch);
    if (this.closed || batch.length === 0) return;
    if (batch.length === 1 || !this.sendBatchRaw) {
      for (const { to, msg } of batch) this._send(to, msg);
      return;
    }
    this.sendBatchRaw(batch.map(({ to, msg }) => ({ to, data: JSON.stringify({ v: 1, ...msg }) })));
  }

  _scheduleFlush() {
    if (this.flushTimer) return;
    // Joins and leaves that arrive together are handled together (one rotation).
    this.flushTimer = setTimeout(() => {
      this.flushTimer = 0;
      this._run(() => this._flush());
    }, 0);
  }

  /** _flush applies the roster changes since the last flush to the own media key. */
  async _flush() {
    clearTimeout(this.flushTimer);
    this.flushTimer = 0;
    if (!this.own || (!this.pendingLeave && this.pendingJoins.size === 0)) return;
    const joined = [...this.pendingJoins];
    const left = this.pendingLeave;
    this.pendingJoins.clear();
    this.pendingLeave = false;
    if (left) {
      // Rotation: a fresh key the one who left never sees, sent to every verified member.
      const next = { index: nextIndex(this.own.index), raw: newMediaKey() };
      this.own = next;
      await this._sendKeys(this.verified());
      clearTimeout(this.rotateTimer);
      this.rotateTimer = setTimeout(() => {
        if (!this.closed && this.own === next) this._useOwn(next);
      }, ROTATE_DELAY_MS);
    } else {
      // Ratchet: members follow by themselves; newcomers get the new key once verified.
      const next = { index: nextIndex(this.own.index), raw: await ratchet(this.own.raw) };
      this.own = next;
      clearTimeout(this.rotateTimer);
      this._useOwn(next);
      await this._sendKeys(joined);
    }
    this._changed();
  }

  _useOwn(key) {
    this.media.setOwnKey(key.index, key.raw);
    this.sendingIndex = key.index;
    this.onChange();
  }

  _changed() {
    if (this.closed) return;
    this.onChange();
    this._updateCode();
  }

  async _updateCode() {
    if (!this.selfId || !this.identity) return;
    const seq = ++this.codeSeq;
    const entries = [{ id: this.selfId, pub: this.identity.publicKey }];
    for (const [id, p] of this.peers) if (p.state === 'verified') entries.push({ id, pub: p.pub });
    const code = await safetyCode(entries);
    if (seq !== this.codeSeq || this.closed || code === this.code) return;
    this.code = code;
    this.onChange();
  }
}
