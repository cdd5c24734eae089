// The key schedule of one stay in an end-to-end encrypted meeting
// (e2ee/FORMAT.md, "Key messages"), on top of keys.js, frame.js and text.js:
//
//   MeetingCrypto  the keys derived from the link's secret (identity key KI, chat
//                  key KC). KC opens only room titles ("e1.", rooms-keys.js) now:
//                  names travel inside the key envelopes (FORMAT.md, "Names").
//   SessionKeys    this session's X25519 identity, the peers' verified public keys
//                  and pairwise wrapping keys, the own media key with its ratchet
//                  (someone joined) and rotation (someone left), the key messages
//                  relayed by the server (`e2ee`), key requests (key-requests.js:
//                  asking a sender whose frames fail here, answering verified
//                  members), chat texts under the senders' media keys
//                  (chat-keys.js: the link's secret opens none), the members'
//                  display names inside their key envelopes, and the safety code.
//
// Nothing here is logged or stored; every key lives in this page's memory (and
// the media keys also in the E2EE worker) until the session ends.

import { E2EEError } from './errors.js';
import { encode, decode } from './b64.js';
import {
  meetingKeys, parseMeetingSecret, generateIdentity, identityTag, verifyIdentity, pairwiseKey,
  wrapKey, unwrapKey, newMediaKey, ratchet, nextIndex, validId, fitName, RING_SIZE, MAX_RATCHET,
} from './keys.js';
import { encryptText, NAME, PREFIX } from './text.js';
import { SafetyCodes, safetyCode } from './safety-code.js';
import { Roster, WARNING_KINDS } from './roster.js';
import { KeyRequests, AnswerLimit, systemClock } from './key-requests.js';
import { ChatKeys, encryptChat, CHAT_WAIT_MS } from './chat-keys.js';

/** UNREADABLE is shown in place of a name or chat text that does not decrypt. */
export const UNREADABLE = '(unreadable)';

/** How long a peer may stay without a valid identity before it is shown as unverified. */
const VERIFY_TIMEOUT_MS = 10000;
/**
 * How long a peer may stay without a verified identity before it is asked for one (a
 * key request: FORMAT.md, "Key requests"): the server drops key messages for a member
 * whose queue is long, and an identity that was dropped is never sent again unasked.
 * While it stays unverified it is asked again after twice the wait, up to
 * VERIFY_ASK_MAX_MS.
 */
const VERIFY_ASK_MS = VERIFY_TIMEOUT_MS / 2;
const VERIFY_ASK_MAX_MS = 60000;
/** How long a rotated key is announced before frames use it (receivers get it first). */
const ROTATE_DELAY_MS = 300;
/**
 * How many rotations may wait for their ROTATE_DELAY_MS at once. A receiver keeps the
 * keys of a sender's last RING_SIZE (16) installs and makes the newest current: the key
 * frames go under must stay among them, so with more waiting (leaves a few ms apart) the
 * oldest waiting one is used at once.
 */
const MAX_WAITING_ROTATIONS = 8;
/**
 * How many earlier own keys a member gets when it is verified, besides the current one
 * (_pastKeys): a receiver keeps the keys of a sender's last RING_SIZE installs.
 */
const MAX_PAST_KEYS = RING_SIZE - 1;
/**
 * The allowance for those earlier keys, in key messages: at most half the relay's
 * budget for a meeting of n (e2ee.RelayLimits in e2ee/relay.go: 20 + 4·n at once,
 * 10 + 2·n a second), so that they never use up what the current keys, a rotation's
 * batch and the answers to key requests need. Beyond it they are not sent (a text under
 * one shows as not readable at that member, as it did before they were sent at all).
 */
const pastKeyBurst = (n) => 10 + 2 * n;
const pastKeyRate = (n) => 5 + n;
/**
 * How many chat texts may arrive between the welcome and the end of its key schedule's
 * first step (the own id, the roster): they wait for it (decryptChat); more show as not
 * readable.
 */
const MAX_HELD_CHATS = 256;
const MAX_MESSAGE = 4096;
/** VERSION is the "v" of every key message (FORMAT.md, "Key messages"); others are ignored. */
const VERSION = 2;

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
  }

  /** encryptName seals an "e1." text under the chat key (room titles: rooms-keys.js). */
  encryptName(name) {
    return encryptText(this.chatKey, NAME, '', name);
  }
}

/** isCiphertext tells an "e1." string from plain text. */
export function isCiphertext(s) {
  return typeof s === 'string' && s.startsWith(PREFIX);
}

/** safetyCode (safety-code.js) computes the room's ten-word code from [{id, pub}]. */
export { safetyCode };

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
   * onWaiting(pid, waiting) says when a sender's tiles should say "Waiting for keys…"
   * (its frames fail here for want of a key for over a second) and when no longer.
   * clock ({now, setTimeout, clearTimeout}) times key requests and the wait for a
   * member's identity; tests pass a fake one.
   *
   * @param {{meeting: MeetingCrypto, media: MediaCrypto,
   *          send: (to: string|null, data: string) => void,
   *          sendBatch?: (envelopes: {to: string, data: string}[]) => void,
   *          onChange: () => void, onWaiting?: (pid: string, waiting: boolean) => void,
   *          name?: string, onName?: (pid: string, name: string) => void,
   *          clock?: object}} opts
   *
   * name is the own display name, sent inside every key envelope (FORMAT.md, "Names");
   * onName(pid, name) says that a verified member's envelope brought its name.
   *
   * sending false: no media goes out until startSending (a page without a publish
   * connection); the rotation for a leave then waits until the own key is next used.
   */
  constructor({ meeting, media, send, sendBatch = null, onChange = () => {}, onWaiting = () => {}, name = '', onName = () => {}, clock = systemClock, sending = true }) {
    this.meeting = meeting;
    this.name = fitName(name);
    this.onName = onName;
    this.media = media;
    this.sendRaw = send;
    this.sendBatchRaw = sendBatch;
    this.onChange = onChange;
    this.selfId = null;
    this.identity = null; // {privateKey, publicKey}
    this.own = null; // {index, raw, seq}: the newest own key (given to members), the seq-th made
    this.ownCount = 0;
    this.using = null; // the own key outgoing frames use (_useOwn; a rotation starts a little later)
    this.peers = new Map(); // id -> {state, pub, kw, identitySent, timer}
    // id -> what id presented this session, kept across its resumes (newKey,
    // _identity): {pubs: the identity keys that verified, current: its current media
    // key, past: its earlier ones}, all hex. Dropped when id leaves: it is dead then.
    this.seen = new Map();
    this.roster = new Roster(); // the ids the server announced, and those that left (roster.js)
    this.pendingJoins = new Set();
    this.pendingLeave = false;
    // Media goes out under the own key: a leave rotates it at once. Until then a leave's
    // rotation waits for the key's next use (startSending, encryptChat): in a webinar
    // every listener would otherwise send a batch to every member at every leave.
    this.sending = sending;
    this.flushTimer = 0;
    // The rotations waiting for their ROTATE_DELAY_MS, timer -> key, oldest first: each
    // is used when its own time comes, unless a newer key is in use by then (_flush).
    this.rotateTimers = new Map();
    this.codes = new SafetyCodes(() => {
      if (!this.closed) this.onChange();
    });
    this.clock = clock;
    this.requests = new KeyRequests({ ask: (pid) => this._askKey(pid), onWaiting, clock });
    this.answers = new AnswerLimit(clock);
    // A chat text whose key has not come asks its sender, like failing frames do.
    this.chatKeys = new ChatKeys({ ask: (pid) => this._askKey(pid), clock });
    this.chatCounter = 0; // the own last chat counter: the next is the clock in ms, or one above
    // The own keys chat texts went under in the last CHAT_WAIT_MS, {seq, index, raw, at},
    // oldest first, only those the current key follows from by ratchets alone (chainSeq:
    // the seq of the last key made fresh): a member verified after such a text was
    // written gets them too (_pastKeys).
    this.chatUsed = [];
    this.chainSeq = 0;
    this.pastAllowance = { tokens: -1, at: 0 }; // _allowPastKey: -1 until first used (full)
    // Settles (true: started) once start's step ran; texts that came before wait for it.
    this.startStep = null;
    this.heldChats = 0;
    this.closed = false;
    this.queue = Promise.resolve();
    this.ready = this._run(async () => {
      this.identity = await generateIdentity();
    });
  }

  /** start runs after `welcome`: own key, identity broadcast, the members already there. */
  start(selfId, memberIds) {
    const step = this._run(async () => {
      await this.ready; // rethrows 'unsupported' when this browser has no X25519
      if (!validId(selfId)) throw new E2EEError('bad-id', 'invalid own id');
      this.selfId = selfId;
      this.own = { index: 0, raw: newMediaKey(), seq: ++this.ownCount };
      this.chainSeq = this.own.seq;
      this._useOwn(this.own);
      for (const id of memberIds) if (!validId(id)) this.roster.warn(WARNING_KINDS.INVALID);
      this.roster.announce(memberIds.filter((id) => id !== selfId && validId(id)));
      for (const id of memberIds) {
        const p = this._peer(id);
        if (p) {
          p.identitySent = true;
          p.heard = 0; // there before us: every own key of this session is for it
        }
      }
      await this._sendIdentity(null);
      this._changed();
    });
    this.startStep = step.then(() => !!this.selfId, () => false);
    return step;
  }

  /** peerJoined: someone joined after us; they get our identity, and our ratcheted key once verified. */
  peerJoined(id) {
    this._run(() => this._joined(id));
  }

  /** _joined is a join's step (peerJoined), or the second half of a resume's (peerResumed). */
  async _joined(id) {
    if (id === this.selfId) return;
    if (!validId(id)) {
      // Only a lying server announces one (keys.js, validId): never a member, a warning.
      this.roster.warn(WARNING_KINDS.INVALID);
      this.onChange();
      return;
    }
    if (!this.roster.join(id)) {
      this.onChange(); // an id that left this session stays dead: a warning, never a member
      return;
    }
    const p = this._peer(id);
    if (!p.identitySent) {
      p.identitySent = true;
      await this._sendIdentity(id);
    }
    this.pendingJoins.add(id);
    this._scheduleFlush();
    this._changed();
  }

  /**
   * peerResumed: the server announced that member id, whose connection had dropped, is
   * back on a new connection (`participant_resumed`). The new connection has a new
   * identity key (a reload loses the old one), so the one identity per id this session
   * verified is forgotten and id is handled like a newcomer: its new identity must verify
   * under the link's key before it gets anything, and it gets our ratcheted key, never an
   * older one. Only a member we still hold can resume: an id that left (peerLeft) is
   * gone from the map and stays dead. FORMAT.md, "Resumed members".
   *
   * The join is handled in the same step as the forgetting, not queued behind it: the
   * messages that arrived after participant_resumed are already queued by then, and the
   * resumed page's identity among them would otherwise find the id forgotten but its
   * join not yet due, and be answered with the key from before the resume (which the
   * ratchet is there to keep from it); a participant_left among them would come before
   * the join, which then counted as a dead id's return (a false warning).
   */
  peerResumed(id) {
    if (id === this.selfId || !validId(id)) return;
    this._run(async () => {
      const p = this.peers.get(id);
      if (!p) return; // never a member here, or it left: it stays dead
      this._clearTimers(p);
      this.peers.delete(id);
      this.pendingJoins.delete(id);
      this.media.forget(id);
      this.chatKeys.forget(id);
      this.requests.forget(id);
      this.answers.forget(id);
      await this._joined(id); // in this step: see above
    });
  }

  /** peerLeft: someone left or was removed; we rotate and tell only those who remain. */
  peerLeft(id) {
    this._run(async () => {
      if (validId(id) && id !== this.selfId) this.roster.leave(id);
      this.seen.delete(id); // dead: nothing of it is taken again anyway
      const p = this.peers.get(id);
      if (!p) return;
      this._clearTimers(p);
      this.peers.delete(id);
      this.pendingJoins.delete(id);
      this.media.forget(id);
      this.chatKeys.forget(id);
      this.requests.forget(id);
      this.answers.forget(id);
      this.pendingLeave = true;
      if (this.sending) this._scheduleFlush();
      this._changed();
    });
  }

  /** receive handles one relayed key message (`e2ee` from the server). */
  receive(from, data) {
    this._run(async () => {
      if (this.closed || !this.selfId || from === this.selfId || !validId(from)) return;
      if (!this.roster.admits(from)) {
        // Not announced, or left: a replayed or injected key message (FORMAT.md, "Identity per session").
        this.roster.refuse(from);
        this.onChange();
        return;
      }
      if (typeof data !== 'string' || data.length > MAX_MESSAGE) return;
      let msg;
      try {
        msg = JSON.parse(data);
      } catch {
        return;
      }
      if (!msg || msg.v !== VERSION) return;
      if (msg.t === 'identity') await this._identity(from, msg);
      else if (msg.t === 'key') await this._key(from, msg);
      else if (msg.t === 'key-request') await this._keyRequest(from);
    });
  }

  /**
   * keyMissing: the media worker says frames of pid fail here for want of a key (at
   * most once a second while they do). pid is asked for its key within the limits of
   * key-requests.js, and its tiles say "Waiting for keys…" after a second.
   */
  keyMissing(pid) {
    // Only a member of the roster: no state is ever kept for an id that left or was never announced.
    if (this.closed || !validId(pid) || pid === this.selfId || !this.roster.admits(pid)) return;
    this.requests.missing(pid);
  }

  /** keyDecoded: frames of pid decode again (after keyMissing). */
  keyDecoded(pid) {
    if (this.closed) return;
    this.requests.decoded(pid);
  }

  /** waitingForKeys reports whether pid's tiles say "Waiting for keys…". */
  waitingForKeys(pid) {
    return this.requests.waiting(pid);
  }

  verified() {
    return [...this.peers].filter(([, p]) => p.state === 'verified').map(([id]) => id);
  }

  unverified() {
    return [...this.peers].filter(([, p]) => p.state === 'unverified').map(([id]) => id);
  }

  /** warnings: the key messages and announcements refused this session, {count, kinds}. */
  warnings() {
    return this.roster.warnings();
  }

  stateOf(id) {
    if (!validId(id)) return 'unverified'; // announced by a lying server: never a member
    const p = this.peers.get(id);
    if (!p && this.roster.dead.has(id)) return 'unverified'; // announced again after it left: never a member
    return p ? p.state : null;
  }

  /** keyIndex is the index of the key outgoing frames use, -1 before there is one. */
  get keyIndex() {
    return this.using ? this.using.index : -1;
  }

  /**
   * encryptChat seals a chat text under the own newest media key (after applying any
   * pending join or leave, so that a newcomer can read it and one who left cannot).
   * Every verified member got that key before this text: the key messages went first.
   */
  encryptChat(text) {
    return this._run(async () => {
      if (!this.own || !this.selfId) throw new E2EEError('unknown-key', 'no own key yet');
      await this._flush({ rotate: true });
      // The own echo opens with it even before frames switch to it (a rotation waits).
      this.chatKeys.setKey(this.selfId, this.own.index, this.own.raw);
      this._usedForChat(this.own);
      // Above every counter this id sent, also from the page before a reload (whose
      // last one the members keep): the clock in milliseconds, or one above the last.
      this.chatCounter = Math.max(this.chatCounter + 1, Date.now());
      return encryptChat(this.own.raw, this.own.index, this.selfId, text, this.chatCounter);
    });
  }

  /**
   * decryptChat opens a chat text the server says `from` sent (own ones included), with
   * from's media keys. A text whose key has not come waits for it (chat-keys.js, at most
   * CHAT_WAIT_MS from this call; onWait() says that it waits); UNREADABLE when it does
   * not open, never shown as someone else's, and when from's counter does not go up (a
   * text the server replays). Called in the order the texts came; a text that waits
   * holds back only its sender's later ones (ChatKeys.open).
   */
  decryptChat(from, cipher, onWait = () => {}) {
    if (this.closed || !validId(from)) return Promise.resolve(UNREADABLE);
    if (!this.selfId || this.heldChats > 0) {
      // Between the welcome (start) and the end of its step, which sets the own id and
      // the roster: a text that came in the same burst as the welcome waits for it, and
      // so do the texts after it while it waits (ChatKeys.open takes them in the order
      // of the calls). Before start, or beyond MAX_HELD_CHATS, it is not readable.
      if (!this.startStep || this.heldChats >= MAX_HELD_CHATS) return Promise.resolve(UNREADABLE);
      this.heldChats++;
      return this.startStep.then((started) => {
        this.heldChats--;
        return started ? this._openChat(from, cipher, onWait) : UNREADABLE;
      });
    }
    return this._openChat(from, cipher, onWait);
  }

  _openChat(from, cipher, onWait) {
    if (this.closed || !this.selfId) return Promise.resolve(UNREADABLE);
    if (from !== this.selfId && !this.roster.admits(from)) return Promise.resolve(UNREADABLE);
    return this.chatKeys.open(from, cipher, onWait).catch(() => UNREADABLE);
  }

  /** _usedForChat notes that a chat text goes under own key `key` (see chatUsed). */
  _usedForChat(key) {
    const now = this.clock.now();
    this.chatUsed = this.chatUsed.filter((k) => k.seq !== key.seq && now - k.at <= CHAT_WAIT_MS).slice(-MAX_PAST_KEYS);
    this.chatUsed.push({ seq: key.seq, index: key.index, raw: key.raw, at: now });
  }

  close() {
    this.closed = true;
    this.chatUsed = [];
    this.chatKeys.close();
    this.requests.close();
    clearTimeout(this.flushTimer);
    this._clearRotations();
    for (const p of this.peers.values()) this._clearTimers(p);
    this.peers.clear();
    // The ended Session stays on the page (for Rejoin): no key of the meeting stays with
    // it, neither the own one in use nor the members' keys remembered against replays.
    this.own = null;
    this.using = null;
    this.seen.clear();
    this.identity = null;
  }

  // ------------------------------------------------------------ internals

  _run(fn) {
    const p = this.queue.then(() => (this.closed ? undefined : fn()));
    this.queue = p.catch(() => {});
    return p;
  }

  /** _seen is what id presented this session (this.seen), made at its first use. */
  _seen(id) {
    let h = this.seen.get(id);
    if (!h) {
      h = { pubs: new Set(), current: '', past: new Set() };
      this.seen.set(id, h);
    }
    return h;
  }

  /** _peer returns the state of a member the server announced, or null for any other id. */
  _peer(id) {
    let p = this.peers.get(id);
    if (!p && !this.roster.admits(id)) return null;
    if (!p) {
      // heard: how many own keys were made when we heard of it; none of those goes to it.
      p = { state: 'pending', pub: null, kw: null, identitySent: false, timer: 0, askTimer: 0, replayed: '', sent: null, pastSent: false, heard: this.ownCount, name: undefined };
      p.timer = this.clock.setTimeout(() => {
        if (this.closed || this.peers.get(id) !== p || p.state !== 'pending') return;
        p.state = 'unverified';
        this._changed();
      }, VERIFY_TIMEOUT_MS);
      this._askIdentityLater(id, p, VERIFY_ASK_MS);
      this.peers.set(id, p);
    }
    return p;
  }

  /**
   * _askIdentityLater asks member id (its state p) for its identity in `wait` ms unless
   * it verified by then, and again after twice the wait while it does not: its identity
   * may have been dropped, so may the ask or the answer, and the server may have put a
   * wrongly tagged identity in its place. A member that sends no frames is never asked
   * for failing frames, so without this it would stay unverified for good.
   */
  _askIdentityLater(id, p, wait) {
    p.askTimer = this.clock.setTimeout(() => {
      if (this.closed || this.peers.get(id) !== p || p.state === 'verified') return;
      this._askKey(id);
      this._askIdentityLater(id, p, Math.min(wait * 2, VERIFY_ASK_MAX_MS));
    }, wait);
  }

  /** _clearTimers stops a member's timers: it left, resumed, or we closed. */
  _clearTimers(p) {
    this.clock.clearTimeout(p.timer);
    this.clock.clearTimeout(p.askTimer);
  }

  _send(to, msg) {
    if (this.closed) return;
    this.sendRaw(to, JSON.stringify({ v: VERSION, ...msg }));
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
    if (!p) return; // receive refused it already
    if (p.state === 'verified') {
      // One identity per session: the first verified one stays. A different one outside
      // a resume (peerResumed forgets the old one first) is a replay or an injection.
      if (!pub || !p.pub || encode(pub) !== encode(p.pub)) {
        this.roster.warn(WARNING_KINDS.SECOND);
        this.onChange();
      }
      return;
    }
    if (pub && this._seen(from).pubs.has(hex(pub))) {
      // Only after a resume (peerResumed forgot the verified one): every resumed page
      // makes a new identity, so one from before is the server's replay, which would
      // give back the old pairwise key, and with it the old key envelopes to replay.
      // One warning for one replayed identity: the asks (_askIdentityLater) go on, for
      // the new one, and may bring the same old one back.
      if (p.replayed === hex(pub)) return;
      p.replayed = hex(pub);
      this.roster.warn(WARNING_KINDS.REPLAYED);
      this.onChange();
      return;
    }
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
      // The asks go on (_askIdentityLater): the server may have put this one in the
      // place of one it dropped.
      p.state = 'unverified';
      this.clock.clearTimeout(p.timer);
      this._changed();
      return;
    }
    p.state = 'verified';
    p.pub = pub;
    p.kw = kw;
    this._seen(from).pubs.add(hex(pub));
    this._clearTimers(p);
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
      wrapped = decode(String(msg.wrapped)); // iv || AES-GCM output: unwrapKey refuses all but 61 to 261 bytes
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
    const seen = this._seen(from);
    if (await pastKey(seen, key.raw)) {
      // An earlier key of from's, after a later one (FORMAT.md, "Chat (version 3)"): it
      // opens from's chat texts under it, but never becomes from's newest, where the
      // ratchet guesses start (nor goes to the media worker: frames use the newest).
      if (this.peers.get(from) !== p) return;
      seen.past.add(hex(key.raw)); // sent again, it is refused (newKey)
      this.chatKeys.setKey(from, key.keyIndex, key.raw, { past: true });
      return;
    }
    if (!newKey(seen, key.raw)) return; // a replayed envelope: an old key made current again
    this.media.setPeerKey(from, key.keyIndex, key.raw);
    this.chatKeys.setKey(from, key.keyIndex, key.raw);
    if (p.name !== key.name) {
      // The name comes only this way: bound to its sender by the pairwise key.
      p.name = key.name;
      this.onName(from, key.name);
    }
  }

  /**
   * nameOf is the display name member id sent in its newest key envelope, or undefined
   * before one came. A member that is not verified (a wrong link, a replayed identity,
   * an id that left) never has one: nothing else carries names.
   */
  nameOf(id) {
    const p = this.peers.get(id);
    return p && p.state === 'verified' ? p.name : undefined;
  }

  /**
   * _askKey sends a key request to pid if it may be asked: a member of the roster,
   * verified or not (its identity may be what was dropped). Its answer is its identity
   * and, once it verified us, a `key` message.
   */
  _askKey(pid) {
    const p = this.peers.get(pid);
    if (this.closed || !this.selfId || !p || !this.roster.admits(pid)) return false;
    this._send(pid, { t: 'key-request' });
    return true;
  }

  /**
   * _keyRequest answers a member of the roster that lacks our identity or our key, at
   * most once a second: with our identity (public: every member got it in our
   * broadcast, and the requester's may have been dropped on its way), and if this
   * session verified the requester, with the current (newest) own key, even if it was
   * given that key before.
   */
  async _keyRequest(from) {
    const p = this.peers.get(from);
    if (!p || !this.identity || !this.roster.admits(from)) return;
    if (!this.answers.allow(from)) return;
    await this._sendIdentity(from);
    if (p.state !== 'verified' || !this.own) return;
    p.sent = null;
    await this._sendKey(from);
  }

  /**
   * _sendKey sends the own key to `to`, or adds it to `batch` (see _sendKeys); with the
   * first key `to` gets, the earlier keys of the own recent chat texts (_pastKeys), after
   * it (added to `after` when the current key goes in a batch): the current key is never
   * the one a relay's exhausted budget refuses because earlier keys went first, and the
   * receiver tells the earlier ones from it (each one's ratchets lead to it).
   */
  async _sendKey(to, batch = null, after = null) {
    const p = this.peers.get(to);
    if (!p || p.state !== 'verified' || !this.own || p.sent === this.own) return;
    if (!this.roster.admits(to)) return; // keys only to the announced roster, never to one who left
    p.sent = this.own;
    const wrapped = await wrapKey(p.kw, this.selfId, to, this.own.index, this.own.raw, this.name);
    if (batch) batch.push({ to, msg: { t: 'key', wrapped: encode(wrapped) } });
    else this._send(to, { t: 'key', wrapped: encode(wrapped) });
    if (p.pastSent) return;
    p.pastSent = true;
    const past = await this._pastKeys(to, p);
    if (after) after.push(...past);
    else for (const m of past) this._send(m.to, m.msg);
  }

  /**
   * _pastKeys are the key messages that give member `to` (its state p), after the first
   * key it gets from us, the earlier own keys chat texts went under since we heard of it
   * (FORMAT.md, "Chat (version 3)"): a text written before we verified it, whose key a
   * join's ratchet then moved on, opens there too, not only at the members verified when
   * it was written. Only keys made after we heard of it (p.heard: never one from before
   * it was announced, which the ratchet is there to keep from it), used for chat in the
   * last CHAT_WAIT_MS (a text waits no longer for its key), and only those the current
   * key follows from by 1 to MAX_RATCHET ratchet steps alone: the receiver takes such a
   * key, coming after the current one, as a past key (pastKey), never as our newest; and
   * one from before a rotation, which it could not tell from a newer key, would be its
   * newest if the server delivered it late, with ratchet guesses the one who left can
   * follow: not sent. Newest first, at most MAX_PAST_KEYS, within _allowPastKey.
   */
  async _pastKeys(to, p) {
    const now = this.clock.now();
    const own = this.own;
    const past = this.chatUsed.filter((k) => k.seq > p.heard && k.seq >= this.chainSeq && k.seq < own.seq && own.seq - k.seq <= MAX_RATCHET && now - k.at <= CHAT_WAIT_MS);
    const out = [];
    for (const k of past.slice(-MAX_PAST_KEYS).reverse()) {
      if (!this._allowPastKey()) break;
      const wrapped = await wrapKey(p.kw, this.selfId, to, k.index, k.raw, this.name);
      out.push({ to, msg: { t: 'key', wrapped: encode(wrapped) } });
    }
    return out;
  }

  /** _allowPastKey takes one key message from the allowance for earlier keys (pastKeyBurst). */
  _allowPastKey() {
    const n = this.peers.size + 1;
    const now = this.clock.now();
    const a = this.pastAllowance;
    a.tokens = a.tokens < 0 ? pastKeyBurst(n) : Math.min(pastKeyBurst(n), a.tokens + ((now - a.at) / 1000) * pastKeyRate(n));
    a.at = now;
    if (a.tokens < 1) return false;
    a.tokens -= 1;
    return true;
  }

  /**
   * _sendKeys gives the own key to each of ids that should have it, as ONE message
   * however many they are (e2ee/FORMAT.md, "Key messages"): a rotation in a large
   * meeting costs one message of the relay's budget, not one per member.
   */
  async _sendKeys(ids) {
    const batch = [];
    const after = []; // earlier keys for members that get their first key here (_sendKey)
    for (const id of ids) await this._sendKey(id, batch, after);
    if (this.closed) return;
    if (batch.length === 1 || (batch.length > 1 && !this.sendBatchRaw)) {
      for (const { to, msg } of batch) this._send(to, msg);
    } else if (batch.length > 1) {
      this.sendBatchRaw(batch.map(({ to, msg }) => ({ to, data: JSON.stringify({ v: VERSION, ...msg }) })));
    }
    for (const { to, msg } of after) this._send(to, msg);
  }

  _scheduleFlush() {
    if (this.flushTimer) return;
    // Joins and leaves that arrive together are handled together (one rotation).
    this.flushTimer = setTimeout(() => {
      this.flushTimer = 0;
      this._run(() => this._flush());
    }, 0);
  }

  /**
   * _flush applies the roster changes since the last flush to the own media key. A leave
   * rotates only with rotate (the key is about to be used, or media goes out); until then
   * joins ratchet a key one who left could follow, which nothing is sent under.
   */
  async _flush({ rotate = this.sending } = {}) {
    clearTimeout(this.flushTimer);
    this.flushTimer = 0;
    const left = this.pendingLeave && rotate;
    if (!this.own || (!left && this.pendingJoins.size === 0)) return;
    const joined = [...this.pendingJoins];
    this.pendingJoins.clear();
    if (left) {
      this.pendingLeave = false;
      // Rotation: a fresh key the one who left never sees, sent to every verified member.
      const next = { index: nextIndex(this.own.index), raw: newMediaKey(), seq: ++this.ownCount };
      this.own = next;
      this.chainSeq = next.seq;
      this.chatUsed = []; // before the rotation: nobody gets them any more (_pastKeys)
      await this._sendKeys(this.verified());
      if (this.closed) return; // close() cleared the timers already
      // Used once its receivers had ROTATE_DELAY_MS to get it. A later rotation does not
      // put this one off: leaves less than that apart (a meeting emptying) would keep
      // the frames under the key the first one left with for as long as they go on.
      const timer = setTimeout(() => {
        this.rotateTimers.delete(timer);
        if (!this.closed && (!this.using || next.seq > this.using.seq)) this._useOwn(next);
      }, ROTATE_DELAY_MS);
      this.rotateTimers.set(timer, next);
      for (const [t, key] of this.rotateTimers) {
        if (this.rotateTimers.size <= MAX_WAITING_ROTATIONS) break;
        clearTimeout(t);
        this.rotateTimers.delete(t);
        if (!this.using || key.seq > this.using.seq) this._useOwn(key);
      }
    } else {
      // Ratchet: members follow by themselves; newcomers get the new key once verified.
      const raw = await ratchet(this.own.raw);
      if (this.closed) return; // no own key after close
      const next = { index: nextIndex(this.own.index), raw, seq: ++this.ownCount };
      this.own = next;
      this._clearRotations(); // the newest key is in use from now on
      this._useOwn(next);
      await this._sendKeys(joined);
    }
    this._changed();
  }

  /**
   * startSending: media is about to go out for the first time (the page opens its publish
   * connection). The rotation that leaves since the start put off happens now, and this
   * resolves with the rotated key in use for outgoing frames, so that no frame goes out
   * under a key one who left holds or can ratchet to. It is used at once, not after
   * ROTATE_DELAY_MS: nothing is being sent that a receiver could miss a moment of, and its
   * key messages are on the websocket before the connection that will carry the first
   * frame is even offered (a receiver without it yet holds those frames: held-frames.js).
   */
  startSending() {
    this.sending = true;
    return this._run(async () => {
      await this._flush();
      if (this.closed || !this.own || this.using === this.own) return;
      this._clearRotations();
      this._useOwn(this.own);
    });
  }

  _clearRotations() {
    for (const timer of this.rotateTimers.keys()) clearTimeout(timer);
    this.rotateTimers.clear();
  }

  _useOwn(key) {
    this.using = key;
    this.media.setOwnKey(key.index, key.raw);
    this.chatKeys.setKey(this.selfId, key.index, key.raw);
    this.onChange();
  }

  _changed() {
    if (this.closed) return;
    this.onChange();
    this._updateCode();
  }

  _updateCode() {
    if (!this.selfId || !this.identity || this.closed) return;
    this.codes.update(this._codeEntries());
  }

  /** code is the latest safety code computed ('' before the first). */
  get code() {
    return this.codes.code;
  }

  /** codePending settles when the latest code computation has (tests wait for it). */
  get codePending() {
    return this.codes.pending;
  }

  /** currentCode is the code to show: '' while the code of a changed roster is computed. */
  currentCode() {
    if (!this.selfId || !this.identity) return '';
    return this.codes.current(this._codeEntries());
  }

  /** _codeEntries is the verified roster, own entry included. */
  _codeEntries() {
    const entries = [{ id: this.selfId, pub: this.identity.publicKey }];
    for (const [id, p] of this.peers) if (p.state === 'verified') entries.push({ id, pub: p.pub });
    return entries;
  }
}

/**
 * newKey says whether a member's key envelope may be installed: a key it has not sent
 * before, or its current one sent again (the answer to a key request); it remembers
 * the key in seen (the member's, SessionKeys.seen). The server relays the envelopes
 * and could replay an old one: installed, the old key would be the member's current
 * one again, and the ratchet guesses would start from a key that someone who left
 * holds. The key index cannot tell (a member that ratchets without sending comes round
 * to an index it used), the key itself can: a new one is random or a ratchet, never an
 * earlier one. Every earlier key is remembered for the whole session, across the
 * member's resumes: a window of the last ones would let the server replay the first
 * envelope once enough people had come and gone (a key a member rotates to is 32
 * bytes of hex, once a join or leave).
 */
function newKey(seen, raw) {
  const k = hex(raw);
  if (seen.current === k) return true;
  if (seen.past.has(k)) return false;
  if (seen.current) seen.past.add(seen.current);
  seen.current = k;
  return true;
}

/**
 * pastKey says whether a member's key envelope brings one of its earlier keys: one from
 * which a key it sent before (seen: its current or a past one) follows by 1 to
 * MAX_RATCHET ratchet steps. A key is random or a ratchet, so such a key was made before
 * that one: it can never be the member's newest. The sender sends such keys after its
 * current one (SessionKeys._pastKeys); the server may also hold one back. One seen
 * before is not a past key here (newKey decides: the current sent again, or a replay).
 */
async function pastKey(seen, raw) {
  const k = hex(raw);
  if (!seen.current || seen.current === k || seen.past.has(k)) return false;
  let r = raw;
  for (let i = 0; i < MAX_RATCHET; i++) {
    r = await ratchet(r);
    const h = hex(r);
    if (h === seen.current || seen.past.has(h)) return true;
  }
  return false;
}

/** hex is bytes in hexadecimal. */
function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
