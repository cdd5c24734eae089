// The key schedule of one stay in an end-to-end encrypted meeting
// (e2ee/FORMAT.md, "Key messages"), on top of keys.js, frame.js and text.js:
//
//   MeetingCrypto  the keys derived from the link's secret (meeting-crypto.js).
//   SessionKeys    this session's X25519 identity, the peers' verified public keys
//                  and pairwise wrapping keys, the own media key with its ratchet
//                  (someone joined) and rotation (someone left), the key messages
//                  relayed by the server (`e2ee`), key requests (key-requests.js:
//                  asking a sender whose frames fail here, answering verified
//                  members), chat texts under the senders' media keys
//                  (chat-keys.js: the link's secret opens none), the members'
//                  display names inside their key envelopes, and the safety code.
//
// This file holds the session's state (the constructor) and its events (welcome,
// joins, resumes, leaves, relayed messages, failing frames); the chat texts are
// session-chat.js, the own key schedule own-keys.js, the state per member and the key
// messages member-keys.js (SessionKeys extends SessionChat, which extends OwnKeys,
// which extends MemberKeys), the rotations in flight rotations.js, the own keys of
// recent chat texts past-keys.js.
//
// Nothing here is logged or stored; every key lives in this page's memory (and
// the media keys also in the E2EE worker) until the session ends.

import { E2EEError } from './errors.js';
import { generateIdentity, newMediaKey, validId, fitName } from './keys.js';
import { safetyCode, SafetyCodes } from './safety-code.js';
import { Roster, WARNING_KINDS } from './roster.js';
import { KeyRequests, AnswerLimit, systemClock } from './key-requests.js';
import { ChatKeys } from './chat-keys.js';
import { VERSION } from './member-keys.js';
import { MAX_IDENTITIES, keysResumed } from './seen-keys.js';
import { PastKeys } from './past-keys.js';
import { Rotations } from './rotations.js';
import { SessionChat } from './session-chat.js';

export { MeetingCrypto, parseSecret, isCiphertext } from './meeting-crypto.js';

const MAX_MESSAGE = 4096;
/** HEX_KEY is an identity public key as earlierIdentities gives it: 32 bytes of hex. */
const HEX_KEY = /^[0-9a-f]{64}$/;
/** validCounter: a chat counter (FORMAT.md, "Chat (version 3)": 1 to 2^53 − 1). */
const validCounter = (c) => Number.isSafeInteger(c) && c >= 1;

/** safetyCode (safety-code.js) computes the room's ten-word code from [{id, pub}]. */
export { safetyCode };

/**
 * SessionKeys runs the key messages of one session. Peer states: 'pending' (no
 * valid identity yet), 'verified' (its tag checked out: it gets our key),
 * 'unverified' (a wrong tag, or none within VERIFY_TIMEOUT_MS: it never gets a key);
 * the state per member is member-keys.js's.
 */
export class SessionKeys extends SessionChat {
  /**
   * sendBatch sends one change's key messages to several members as one `e2ee_batch`
   * (the server hands each its own envelope); without it they go one by one.
   *
   * onWaiting(pid, waiting) says when a sender's tiles should say "Waiting for keys…"
   * (its frames fail here for want of a key for over a second) and when no longer.
   * clock ({now, setTimeout, clearTimeout, wall?}) times key requests and the wait for a
   * member's identity on now() (monotonic: the page's performance.now()), and its wall()
   * (milliseconds since 1970: the page's Date.now(); a clock without one, a test's, has
   * now() serve for both) is the own chat counter (FORMAT.md, "Chat (version 3)").
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
   *
   * left is the ids that left this stay in the meeting before this session, which the
   * page's own resume starts (Session, leftIds): dead from the start, as if this session
   * had seen them leave (FORMAT.md, "Identity per session"). Without them a server that
   * dropped the page's connection could list an id that left in the resumed welcome and
   * replay its identity, and the resumed page verified it and gave it its key.
   * warned is what those sessions refused (their warnings' kinds), counted from the
   * start: a drop of the page's connection does not wipe the warning.
   * identities is, per member id, the identities those sessions refused after the
   * member's resume, [[id, [hex public key, …]]] (earlierIdentities): refused here too,
   * so that the server cannot replay an identity a live member had before its own resume
   * once the page's resume started a session that never saw that resume. At most
   * MAX_IDENTITIES are taken (those sessions held no more); junk and dead ids are not.
   * chatCounters is, per member id (the own included), the last chat counter those
   * sessions took from it, [[id, counter]] (chatCounters()), and chatCounter the own last
   * one: a text taken there is refused here as sent before (FORMAT.md, "Chat (version 3)"),
   * which the server could otherwise show again after the page's resume, and the own
   * texts count on from the last (members keep it), also where the clock went back.
   */
  constructor({ meeting, media, send, sendBatch = null, onChange = () => {}, onWaiting = () => {}, name = '', onName = () => {}, clock = systemClock, sending = true, left = [], warned = {}, identities = [], chatCounters = [], chatCounter = 0 }) {
    super();
    this.meeting = meeting;
    this.name = fitName(name);
    this.onName = onName;
    this.media = media;
    this.sendRaw = send;
    this.sendBatchRaw = sendBatch;
    this.onChange = onChange;
    this.selfId = null;
    this.identity = null; // {privateKey, publicKey}
    this.own = null; // {index, raw, seq}: the newest own key (given to members), the seq-th made (its counter seq - 1)
    this.ownCount = 0;
    this.using = null; // the own key outgoing frames use (_useOwn; a rotation starts a little later)
    this.peers = new Map(); // id -> {state, pub, kw, identitySent, timer}
    // id -> what id presented this session, kept across its resumes (newKey,
    // _identity; keysResumed): {pubs: the identity keys that verified, current: its
    // current media key and counter, past: its earlier ones that can still matter, with their counters:
    // seen-keys.js keysKept}, keys in hex. Dropped when id leaves: it is dead then.
    this.seen = new Map();
    this.identityCount = 0; // the identity keys in seen, at most MAX_IDENTITIES
    this.earlierAtClose = []; // earlierIdentities as they were at close
    // The ids the server announced, and those that left (roster.js), also before a resume.
    this.roster = new Roster([...left].filter(validId), warned);
    this._takeIdentities(identities);
    this.pendingJoins = new Set();
    this.pendingLeave = false;
    // Media goes out under the own key: a leave rotates it at once. Until then a leave's
    // rotation waits for the key's next use (startSending, encryptChat): in a webinar
    // every listener would otherwise send a batch to every member at every leave.
    this.sending = sending;
    this.clock = clock;
    this.flushTimer = null;
    // The rotations waiting to be used (rotations.js): each when its own time comes,
    // unless a newer key is in use by then, and never after close.
    this.rotations = new Rotations((key) => {
      if (!this.closed && (!this.using || key.seq > this.using.seq)) this._useOwn(key);
    }, clock);
    this.codes = new SafetyCodes(() => {
      if (!this.closed) this.onChange();
    });
    this.requests = new KeyRequests({ ask: (pid) => this._askKey(pid), onWaiting, clock });
    this.answers = new AnswerLimit(clock);
    // A chat text whose key has not come asks its sender, like failing frames do.
    this.chatKeys = new ChatKeys({ ask: (pid) => this._askKey(pid), clock });
    // The own last chat counter: the next is the clock in ms, or one above (and above
    // the sessions' of this stay before a resume).
    this.chatCounter = validCounter(chatCounter) ? chatCounter : 0;
    this._takeCounters(chatCounters);
    // The own keys chat texts went under lately: a member verified after such a text
    // was written gets them too (past-keys.js, _pastKeys).
    this.pastKeys = new PastKeys(clock);
    // Settles (true: started) once start's step ran; texts that came before wait for it.
    this.startStep = null;
    this.heldChats = 0;
    this.closed = false;
    this.queue = Promise.resolve();
    this.ready = this._run(async () => {
      this.identity = await generateIdentity();
    });
  }

  /** _takeIdentities remembers the identities the sessions before a resume refused (constructor). */
  _takeIdentities(identities) {
    for (const entry of Array.isArray(identities) ? identities : []) {
      if (!Array.isArray(entry) || !validId(entry[0]) || this.roster.dead.has(entry[0]) || !Array.isArray(entry[1])) continue;
      for (const pub of entry[1]) {
        if (this.identityCount >= MAX_IDENTITIES) return;
        if (typeof pub === 'string' && HEX_KEY.test(pub)) this._rememberIdentity(entry[0], pub);
      }
    }
  }

  /** _takeCounters takes the chat counters of the sessions before a resume (constructor). */
  _takeCounters(counters) {
    let n = 0;
    for (const entry of Array.isArray(counters) ? counters : []) {
      if (n >= MAX_IDENTITIES) return; // at most one per identity those sessions held
      if (!Array.isArray(entry) || !validId(entry[0]) || this.roster.dead.has(entry[0]) || !validCounter(entry[1])) continue;
      if (entry[1] > (this.chatKeys.counters.get(entry[0]) || 0)) this.chatKeys.counters.set(entry[0], entry[1]);
      n++;
    }
  }

  /**
   * chatCounters is, per id not dead, the last chat counter this stay's sessions took
   * from it, [[id, counter]] (those given at the start included): what the session the
   * page's resume starts takes (chatCounters above). Ids and counters only.
   */
  chatCounters() {
    return [...this.chatKeys.counters].filter(([id]) => !this.roster.dead.has(id));
  }

  /** start runs after `welcome`: own key, identity broadcast, the members already there. */
  start(selfId, memberIds) {
    const step = this._run(async () => {
      await this.ready; // rethrows 'unsupported' when this browser has no X25519
      if (!validId(selfId)) throw new E2EEError('bad-id', 'invalid own id');
      this.selfId = selfId;
      // seq - 1 is the key's counter (FORMAT.md, "Media keys and the ratchet"): 0 here, one
      // more at each change, the index its value mod 256.
      this.own = { index: 0, raw: newMediaKey(), seq: ++this.ownCount };
      this._useOwn(this.own);
      for (const id of memberIds) if (!validId(id)) this.roster.warn(WARNING_KINDS.INVALID);
      // An id that left before the page's own resume, listed again: never a member.
      for (const id of new Set(memberIds)) if (this.roster.dead.has(id)) this.roster.warn(WARNING_KINDS.REJOIN);
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
      if (!p) {
        // Never a member here (nothing is kept for it), or it left: it stays dead, and
        // only a lying server resumes a dead id, a warning as a join announced for it.
        if (this.roster.dead.has(id)) {
          this.roster.warn(WARNING_KINDS.REJOIN);
          this.onChange();
        }
        return;
      }
      this._clearTimers(p);
      this.peers.delete(id);
      this.pendingJoins.delete(id);
      this.media.forget(id);
      this.chatKeys.forget(id);
      this.requests.forget(id);
      this.answers.forget(id);
      const seen = this.seen.get(id);
      if (seen) keysResumed(seen); // its identities stay, refused
      await this._joined(id); // in this step: see above
    });
  }

  /** peerLeft: someone left or was removed; we rotate and tell only those who remain. */
  peerLeft(id) {
    this._run(async () => {
      if (validId(id) && id !== this.selfId) this.roster.leave(id);
      this._forgetSeen(id); // dead: nothing of it is taken again anyway
      const p = this.peers.get(id);
      if (!p) return;
      this._clearTimers(p);
      this.peers.delete(id);
      this.pendingJoins.delete(id);
      this.media.forget(id);
      this.chatKeys.left(id); // its last chat counter too: it is dead
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

  /**
   * warnings: the key messages and announcements refused this session and, after the
   * page's own resume, the sessions of this stay before it, {count, kinds}.
   */
  warnings() {
    return this.roster.warnings();
  }

  /**
   * refuseInvalid counts an id the server sent outside the roster (a waiting list's
   * entry) that is not a participant id (keys.js, validId): a warning, as an announced
   * one is; the id itself is not kept. A waiting list longer than any waiting room
   * (session-roster.js MAX_WAITING) is one such warning too.
   */
  refuseInvalid() {
    this.roster.warn(WARNING_KINDS.INVALID);
    this.onChange();
  }

  /** carriedWarnings is how many of warnings() the sessions before a resume had (told there). */
  carriedWarnings() {
    return this.roster.carried;
  }

  /** carriedWarningKinds is carriedWarnings by kind, {kind: number}. */
  carriedWarningKinds() {
    return { ...this.roster.carriedKinds };
  }

  close() {
    if (this.closed) return;
    // What the session the page's resume starts takes (earlierIdentities): public keys only.
    this.earlierAtClose = this.earlierIdentities();
    this.closed = true;
    this.pastKeys.close();
    this.chatKeys.close();
    this.requests.close();
    this._clearFlush();
    this.rotations.clear();
    for (const p of this.peers.values()) this._clearTimers(p);
    this.peers.clear();
    // The ended Session stays on the page (for Rejoin): no key of the meeting stays with
    // it, neither the own one in use nor the members' keys remembered against replays.
    this.own = null;
    this.using = null;
    this.seen.clear();
    this.identityCount = 0;
    this.identity = null;
  }

  // ------------------------------------------------------------ internals

  _run(fn) {
    const p = this.queue.then(() => (this.closed ? undefined : fn()));
    this.queue = p.catch(() => {});
    return p;
  }
}
