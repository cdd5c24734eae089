// The sending side of the past keys (e2ee/FORMAT.md, "Chat (version 3)"): which own
// keys the own chat texts went under lately, and which of them a member verified late
// gets after its first key from us (SessionKeys._pastKeys), so that a text written
// before we verified it, whose key a join's ratchet then moved on, opens there too.
// The receiving side is seen-keys.js (pastKey). No globals: the clock is injected.

import { RING_SIZE, MAX_RATCHET } from './keys.js';
import { CHAT_WAIT_MS } from './chat-keys.js';

/**
 * How many earlier own keys a member gets when it is verified, besides the current one
 * (SessionKeys._pastKeys): a receiver keeps the keys of a sender's last RING_SIZE installs.
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

export class PastKeys {
  constructor(clock) {
    this.clock = clock;
    // The own keys chat texts went under in the last CHAT_WAIT_MS, {seq, index, raw, at},
    // oldest first, only those the current key follows from by ratchets alone (chainSeq:
    // the seq of the last key made fresh): a member verified after such a text was
    // written gets them too (toSend).
    this.chatUsed = [];
    this.chainSeq = 0;
    this.pastAllowance = { tokens: -1, at: 0 }; // allow: -1 until first used (full)
  }

  /** newChain: own key seq was made fresh (the start), not by a ratchet. */
  newChain(seq) {
    this.chainSeq = seq;
  }

  /** rotated: own key seq was made fresh for a leave; nobody gets the keys before it any more. */
  rotated(seq) {
    this.chainSeq = seq;
    this.chatUsed = [];
  }

  /** usedForChat notes that a chat text goes under own key `key` (see chatUsed). */
  usedForChat(key) {
    const now = this.clock.now();
    this.chatUsed = this.chatUsed.filter((k) => k.seq !== key.seq && now - k.at <= CHAT_WAIT_MS).slice(-MAX_PAST_KEYS);
    this.chatUsed.push({ seq: key.seq, index: key.index, raw: key.raw, at: now });
  }

  /**
   * toSend is the earlier own keys a member gets after the first key it gets from us
   * (own, the current one), newest first, at most MAX_PAST_KEYS: only keys made after
   * we heard of it (heard: never one from before it was announced, which the ratchet is
   * there to keep from it), used for chat in the last CHAT_WAIT_MS (a text waits no
   * longer for its key), and only those the current key follows from by 1 to
   * MAX_RATCHET ratchet steps alone: the receiver takes such a key, coming after the
   * current one, as a past key (pastKey), never as our newest; and one from before a
   * rotation, which it could not tell from a newer key, would be its newest if the
   * server delivered it late, with ratchet guesses the one who left can follow: not
   * sent. Each one sent takes one from the allowance (allow).
   */
  toSend(heard, own) {
    const now = this.clock.now();
    const past = this.chatUsed.filter((k) => k.seq > heard && k.seq >= this.chainSeq && k.seq < own.seq && own.seq - k.seq <= MAX_RATCHET && now - k.at <= CHAT_WAIT_MS);
    return past.slice(-MAX_PAST_KEYS).reverse();
  }

  /** allow takes one key message from the allowance for earlier keys in a meeting of n (pastKeyBurst). */
  allow(n) {
    const now = this.clock.now();
    const a = this.pastAllowance;
    a.tokens = a.tokens < 0 ? pastKeyBurst(n) : Math.min(pastKeyBurst(n), a.tokens + ((now - a.at) / 1000) * pastKeyRate(n));
    a.at = now;
    if (a.tokens < 1) return false;
    a.tokens -= 1;
    return true;
  }

  close() {
    this.chatUsed = [];
  }
}
