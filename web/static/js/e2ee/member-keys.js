// The keys between this page and each member of a session (e2ee/FORMAT.md, "Key
// messages", "Key requests", "Identity per session"), the part of SessionKeys
// (session-keys.js) that keeps a state per member:
//
//   the member's state ('pending', 'verified', 'unverified') with its timers: the
//   wait for its identity and the asks for it (_peer);
//   the key messages: our identity and our current key to it, with the earlier keys
//   of our recent chat texts (past-keys.js), as one batch to many; its identity
//   (verified under the link's key KI), its keys (a replay refused, an earlier one
//   taken for chat only: seen-keys.js), its key requests and ours (key-requests.js);
//   the safety code of the verified roster (safety-code.js).
//
// SessionKeys extends this class (through SessionChat and OwnKeys); the state is
// SessionKeys' (its constructor), and the own key schedule this class calls into is
// OwnKeys' (own-keys.js): _flush, before a newcomer gets our key (after the ratchet or
// rotation for its join).

import { encode, decode } from './b64.js';
import { identityTag, verifyIdentity, pairwiseKey, wrapKey, unwrapKey, validId } from './keys.js';
import { WARNING_KINDS } from './roster.js';
import { newSeen, judgeKey, newKey, pastKey, hex, MAX_IDENTITIES } from './seen-keys.js';

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
/** VERSION is the "v" of every key message (FORMAT.md, "Key messages"); others are ignored. */
export const VERSION = 3;

/** MemberKeys is the per-member half of SessionKeys (see above): methods only. */
export class MemberKeys {
  /** verified is the ids of the members whose identity checked out: they get our key. */
  verified() {
    return [...this.peers].filter(([, p]) => p.state === 'verified').map(([id]) => id);
  }

  /** unverified is the ids of the members with a wrong identity, or none in time. */
  unverified() {
    return [...this.peers].filter(([, p]) => p.state === 'unverified').map(([id]) => id);
  }

  /** stateOf is member id's state ('pending', 'verified', 'unverified'), null for no member. */
  stateOf(id) {
    if (!validId(id)) return 'unverified'; // announced by a lying server: never a member
    const p = this.peers.get(id);
    // Announced again after it left, or new once the roster is full (roster.js): never a member.
    if (!p && (this.roster.dead.has(id) || this.roster.full())) return 'unverified';
    return p ? p.state : null;
  }

  /** _seen is what id presented this session (this.seen), made at its first use. */
  _seen(id) {
    let h = this.seen.get(id);
    if (!h) {
      h = newSeen();
      this.seen.set(id, h);
    }
    return h;
  }

  /** _rememberIdentity adds an identity (hex) to what id presented, counted against MAX_IDENTITIES. */
  _rememberIdentity(id, pub) {
    const pubs = this._seen(id).pubs;
    if (pubs.has(pub)) return;
    pubs.add(pub);
    this.identityCount++;
  }

  /** _forgetSeen drops what a member that left presented (it is dead: nothing of it is taken again). */
  _forgetSeen(id) {
    const s = this.seen.get(id);
    if (!s) return;
    this.identityCount -= s.pubs.size;
    this.seen.delete(id);
  }

  /**
   * earlierIdentities is, per member id this session holds (not dead), the identities
   * that it refuses now: those that verified for the id before its resumes, not the
   * one it verified last and still holds, [[id, [hex public key, …]]]. The session the
   * page's own resume starts takes them (`identities`), so that the server cannot replay
   * there what a member used before its resume: FORMAT.md, "Resumed members". After
   * close, what they were at close. Ids and public keys only.
   */
  earlierIdentities() {
    if (this.closed) return this.earlierAtClose;
    const out = [];
    for (const [id, s] of this.seen) {
      if (this.roster.dead.has(id)) continue;
      const p = this.peers.get(id);
      const current = p && p.state === 'verified' && p.pub ? hex(p.pub) : '';
      const earlier = [...s.pubs].filter((k) => k !== current);
      if (earlier.length) out.push([id, earlier]);
    }
    return out;
  }

  /** _peer returns the state of a member the server announced, or null for any other id. */
  _peer(id) {
    let p = this.peers.get(id);
    if (!p && !this.roster.admits(id)) return null;
    if (!p) {
      // heard: how many own keys were made when we heard of it; none of those goes to it.
      // newest: the counter of the newest key it sent us (-1: none yet), for this
      // identity only (a resume makes a new state: its counter starts again).
      p = { state: 'pending', pub: null, kw: null, identitySent: false, timer: 0, askTimer: 0, replayed: '', sent: null, pastSent: false, heard: this.ownCount, newest: -1, name: undefined };
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
    if (ok && this.identityCount >= MAX_IDENTITIES && !this._seen(from).pubs.has(hex(pub))) {
      // The memory of identities is full (seen-keys.js): one verified now could not be
      // refused after the member's resume. Fails closed, one warning per identity.
      if (this.peers.get(from) !== p) return;
      if (p.replayed !== hex(pub)) {
        p.replayed = hex(pub);
        this.roster.warn(WARNING_KINDS.FULL);
      }
      p.state = 'unverified';
      this.clock.clearTimeout(p.timer);
      this._changed();
      return;
    }
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
    this._rememberIdentity(from, hex(pub));
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
      wrapped = decode(String(msg.wrapped)); // iv || AES-GCM output: unwrapKey refuses all but 69 to 269 bytes (WRAPPED_SIZE to MAX_WRAPPED_SIZE)
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
    // What the envelope is, by its counter (FORMAT.md, "The newest key"; seen-keys.js).
    const seen = this._seen(from);
    const verdict = judgeKey(seen, p.newest, key);
    if (verdict === 'conflict') {
      // Another key at the newest counter: the member makes one key per counter.
      this.roster.warn(WARNING_KINDS.CONFLICT);
      this.onChange();
      return;
    }
    if (verdict === 'past') {
      // An earlier key of from's, marked past (given for its chat texts): it opens
      // from's chat texts under it, but never becomes from's newest, where the ratchet
      // guesses start (nor goes to the media worker: frames use the newest).
      pastKey(seen, key.raw, key.counter); // sent again, it is refused (judgeKey)
      this.chatKeys.setKey(from, key.keyIndex, key.raw, { past: true, counter: key.counter });
      return;
    }
    // A replay, or stale: one the server held back until after a later one, or too old.
    if (verdict !== 'newest' && verdict !== 'again') return;
    if (verdict === 'newest') {
      newKey(seen, key.raw, key.counter);
      p.newest = key.counter;
    }
    // With its counter: the ratchet guesses either ring holds for a higher one go.
    this.media.setPeerKey(from, key.keyIndex, key.raw, key.counter);
    this.chatKeys.setKey(from, key.keyIndex, key.raw, { counter: key.counter });
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
    const wrapped = await wrapKey(p.kw, this.selfId, to, { counter: this.own.seq - 1, raw: this.own.raw }, this.name);
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
   * it was written. Which ones, newest first, and how many, is past-keys.js's rule
   * (PastKeys.toSend, PastKeys.allow).
   */
  async _pastKeys(to, p) {
    const out = [];
    for (const k of this.pastKeys.toSend(p.heard, this.own)) {
      if (!this.pastKeys.allow(this.peers.size + 1)) break;
      const wrapped = await wrapKey(p.kw, this.selfId, to, { counter: k.seq - 1, raw: k.raw, past: true }, this.name);
      out.push({ to, msg: { t: 'key', wrapped: encode(wrapped) } });
    }
    return out;
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
