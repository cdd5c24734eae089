// The roster the server announced, as the key schedule sees it (e2ee/FORMAT.md,
// "Identity per session"): the ids in `welcome`, plus `participant_joined`, minus
// `participant_left`. Key messages are taken only from ids in it, keys go only to
// ids in it, and an id that left is dead for the rest of the session: a later join
// announced for it is refused like an identity from someone never announced.
//
// What was refused is kept as a count per kind (never an id, a key or a message),
// so the page can tell the person that the server may be tampering with the meeting.

/**
 * MAX_DEAD_IDS bounds the dead ids a roster remembers (and the page's own list of those
 * who left, Session.departed, which uses the same bound). A dead id is never forgotten:
 * one that was could be announced and verified again. So once the roster holds this
 * many, it fails closed: no id it does not hold live is taken any more (a join, a
 * welcome's entry, its key messages: a warning each), and one that leaves then, which
 * it cannot remember as dead, can never come back. No honest meeting gets near it: a
 * webinar of 200 whose every listener drops out and comes back under a new id every
 * ten minutes for eight hours leaves 9,600 ids; a lying server that invents joins and
 * leaves to fill it only refuses service. 20,000 ids of at most 64 bytes each (keys.js,
 * MAX_ID_BYTES: a longer one is never taken) are a few MB at most.
 */
export const MAX_DEAD_IDS = 20000;

/** The kinds of refused key messages and announcements. */
export const WARNING_KINDS = Object.freeze({
  UNKNOWN: 'unknown-sender', // a key message from an id the server never announced
  DEAD: 'departed-sender', // a key message from an id that left this session
  REJOIN: 'departed-rejoin', // a join (or resume, or a resumed welcome's entry) announced for an id that left
  SECOND: 'second-identity', // a different identity for an id already verified, outside a resume
  REPLAYED: 'replayed-identity', // after a resume, an identity the id had before it
  INVALID: 'invalid-id', // an announced id that is not a participant id (keys.js, validId)
  CONFLICT: 'conflicting-key', // a key envelope with another key at its sender's newest counter (seen-keys.js, judgeKey)
  FULL: 'memory-full', // a new id (or identity) once the page's memory of this stay is full: MAX_DEAD_IDS, seen-keys.js MAX_IDENTITIES
});

export class Roster {
  /**
   * left is the ids that left this stay in the meeting before this session: the page's
   * earlier sessions of the same membership, before its own resume (SessionKeys, `left`).
   * They are dead from the start (at most MAX_DEAD_IDS of them: those sessions' rosters
   * held no more). warned is what those sessions refused, {kind: number}
   * (their warnings' kinds): counted here from the start too, so that a server cannot
   * wipe a warning by dropping the page's connection; carried says how many that was,
   * carriedKinds how many of each kind.
   */
  constructor(left = [], warned = {}) {
    this.live = new Set();
    this.dead = new Set();
    for (const id of left) {
      if (this.full()) break;
      this.dead.add(id);
    }
    this.counts = new Map(); // kind -> number
    this.carried = 0;
    this.carriedKinds = {};
    const kinds = new Set(Object.values(WARNING_KINDS));
    for (const [kind, n] of Object.entries(warned || {})) {
      if (!kinds.has(kind) || !Number.isSafeInteger(n) || n <= 0) continue;
      this.counts.set(kind, n);
      this.carried += n;
      this.carriedKinds[kind] = n;
    }
  }

  /**
   * full tells whether the roster holds MAX_DEAD_IDS dead ids: it takes no new id then,
   * since it could not remember it as dead once it left.
   */
  full() {
    return this.dead.size >= MAX_DEAD_IDS;
  }

  /** announce takes the members listed in `welcome` (a new one once full: a warning). */
  announce(ids) {
    for (const id of ids) {
      if (this.dead.has(id) || this.live.has(id)) continue;
      if (this.full()) this.warn(WARNING_KINDS.FULL);
      else this.live.add(id);
    }
  }

  /** join takes a `participant_joined`; false (and a warning) for an id that left, or a new one once full. */
  join(id) {
    if (this.dead.has(id)) {
      this.warn(WARNING_KINDS.REJOIN);
      return false;
    }
    if (this.full() && !this.live.has(id)) {
      this.warn(WARNING_KINDS.FULL);
      return false;
    }
    this.live.add(id);
    return true;
  }

  /**
   * leave takes a `participant_left`: the id is dead for the rest of the session. Once
   * full it is not remembered, but it is no longer live, and nothing new is taken.
   */
  leave(id) {
    this.live.delete(id);
    if (!this.full()) this.dead.add(id);
  }

  /** admits tells whether key messages from (and keys to) id are allowed. */
  admits(id) {
    return this.live.has(id) && !this.dead.has(id);
  }

  /** refuse records a key message from an id that is not admitted, by why. */
  refuse(id) {
    this.warn(this.dead.has(id) ? WARNING_KINDS.DEAD : this.full() ? WARNING_KINDS.FULL : WARNING_KINDS.UNKNOWN);
  }

  warn(kind) {
    this.counts.set(kind, (this.counts.get(kind) || 0) + 1);
  }

  /** warnings returns {count, kinds: {kind: number}}: what was refused, no ids or keys. */
  warnings() {
    let count = 0;
    const kinds = {};
    for (const [kind, n] of this.counts) {
      kinds[kind] = n;
      count += n;
    }
    return { count, kinds };
  }
}
