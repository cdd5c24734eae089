// What a member presented this session, as the receiving side judges its key envelopes
// (e2ee/FORMAT.md, "Key messages" and "Chat (version 3)"): a record per member id,
// kept across its resumes and dropped when it leaves (SessionKeys.seen), of the
// identity keys that verified, its current media key and its earlier ones, all hex.
// newKey refuses a replayed envelope; pastKey recognises one of the member's earlier
// keys sent after a later one (it opens chat, never becomes the member's newest).

import { ratchet, MAX_RATCHET } from './keys.js';

/** newSeen is the empty record of a member (SessionKeys._seen makes it at first use). */
export function newSeen() {
  return { pubs: new Set(), current: '', past: new Set() };
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
export function newKey(seen, raw) {
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
 * current one (SessionKeys._pastKeys, past-keys.js); the server may also hold one back.
 * One seen before is not a past key here (newKey decides: the current sent again, or a
 * replay).
 */
export async function pastKey(seen, raw) {
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
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
