// The sending side of the past keys (e2ee/FORMAT.md, "Chat (version 3)"): which own
// keys the own chat texts went under lately, and which of them a member verified late
// gets after its first key from us (SessionKeys._pastKeys), marked past in their
// envelopes, so that a text written before we verified it, whose key a join's ratchet
// or a leave's rotation then moved on, opens there too. The receiving side is
// seen-keys.js (judgeKey: a past key by its counter). No globals: the clock is injected.

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
    // oldest first: a member verified after such a text was written gets them too
    // (toSend), across rotations as well (each envelope carries its key's counter, so a
    // receiver never takes one for our newest).
    this.chatUsed = [];
    this.pastAllowance = { tokens: -1, at: 0 }; // allow: -1 until first used (full)
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
   * there to keep from it; such a member was in our roster when each of them was made,
   * so it would have got each had it verified in time), used for chat in the last
   * CHAT_WAIT_MS (a text waits no longer for its key), and at most MAX_RATCHET key
   * changes before the current one (a receiver takes no older one: judgeKey). Keys
   * from before a rotation too: each goes marked past with its counter, so a receiver
   * never takes one for our newest, wherever the server delivers it. Each one sent
   * takes one from the allowance (allow).
   */
  toSend(heard, own) {
    const now = this.clock.now();
    const past = this.chatUsed.filter((k) => k.seq > heard && k.seq < own.seq && own.seq - k.seq <= MAX_RATCHET && now - k.at <= CHAT_WAIT_MS);
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
