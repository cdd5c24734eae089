// What a member presented this session, as the receiving side judges its key envelopes
// (e2ee/FORMAT.md, "The newest key"): a record per member id, kept across its resumes
// and dropped when it leaves (SessionKeys.seen), of the identity keys that verified, its
// current media key and its earlier ones (those of its current identity: keysResumed),
// all hex. judgeKey says what an envelope is
// (the member's newest key, its newest sent again, a past key for chat only, a replay,
// a conflict, or too old to use); newKey and pastKey remember what was taken, for as
// long as it can change a verdict (keysKept).

import { MAX_RATCHET } from './keys.js';

/**
 * MAX_IDENTITIES bounds the identity keys a session remembers for the members it holds
 * (their current ones and those from before their resumes, SessionKeys.seen), with those
 * a page's own resume carries over (SessionKeys, `identities`). An identity a member had
 * before its resume must be refused for the rest of the stay ("Resumed members"), so one
 * is never forgotten while its id is live: once this many are held, a session fails
 * closed and verifies no identity it does not hold (a warning). No honest meeting gets
 * near it: 200 members each back from 50 drops of its connection are 10,200 identities,
 * and one that leaves takes its own with it. A lying server that drops members' links
 * to fill it only refuses service. 20,000 are 64 characters of hex each, a few MB.
 */
export const MAX_IDENTITIES = 20000;

/**
 * newSeen is the empty record of a member (SessionKeys._seen makes it at first use):
 * pubs its identities (hex), current its newest media key (hex, '' for none) and counter
 * that key's counter (-1 for none), past its earlier keys, hex -> counter (keysKept).
 */
export function newSeen() {
  return { pubs: new Set(), current: '', counter: -1, past: new Map() };
}

/**
 * judgeKey says what an unwrapped key envelope of a member is (FORMAT.md, "The newest
 * key"; the Go reference is e2ee.JudgeKey, with the same vectors): `newest` is the
 * counter of the newest key this page holds from the member's verified identity (-1:
 * none yet; a resume starts it again), seen the member's record, key {counter, past, raw}.
 *
 *   'again'    the newest key sent again (an answer to a key request): not marked past,
 *              at the newest counter; nothing changes but its name.
 *   'replay'   any other key seen holds (the member's keys since its last resume,
 *              keysResumed, down to MAX_RATCHET below the newest, keysKept; the
 *              replay of one forgotten for its age is 'stale'): the server replays
 *              it. Dropped.
 *   'conflict' another key at the newest counter: a member makes one key per counter,
 *              so this is refused and counted as a warning.
 *   'newest'   not marked past and a counter above the newest: the member's newest key,
 *              for frames and chat, where ratchet guesses start.
 *   'past'     marked past, a counter 1 to MAX_RATCHET below the newest: it opens chat
 *              texts at its index, never frames, never a start for ratchet guesses.
 *   'stale'    anything else: dropped. Not marked past and below the newest: an envelope
 *              the server held back until after a later one (a member sends its keys
 *              in the order of their counters); or a past key too old, or with no newer
 *              key held.
 *
 * The counter is what the server cannot change: it is inside the envelope, which only
 * the member can make for this page. So an envelope held back past a later one (a
 * rotation for someone who left) never becomes the newest again.
 */
export function judgeKey(seen, newest, { counter, past, raw }) {
  const k = hex(raw);
  if (seen.current === k || seen.past.has(k)) {
    return seen.current === k && newest >= 0 && counter === newest && !past ? 'again' : 'replay';
  }
  if (newest >= 0 && counter === newest) return 'conflict';
  if (!past && counter > newest) return 'newest';
  if (past && newest >= 0 && counter < newest && newest - counter <= MAX_RATCHET) return 'past';
  return 'stale';
}

/**
 * newKey remembers a member's newest key (judgeKey said 'newest'), at its counter, in
 * seen: the one before joins its earlier ones, so that no envelope of it is taken again
 * (keysKept says for how long).
 */
export function newKey(seen, raw, counter) {
  const k = hex(raw);
  if (seen.current && seen.current !== k) seen.past.set(seen.current, seen.counter);
  seen.current = k;
  seen.counter = counter;
  keysKept(seen);
}

/** pastKey remembers a past key (judgeKey said 'past') at its counter: sent again, it is a replay. */
export function pastKey(seen, raw, counter) {
  seen.past.set(hex(raw), counter);
  keysKept(seen);
}

/**
 * keysKept forgets the earlier keys of seen whose counter is more than MAX_RATCHET below
 * the newest one's: judgeKey drops every envelope at such a counter, as a replay if its
 * key is remembered and as stale if not (not marked past: below the newest; marked past:
 * too old), and the newest only grows (judgeKey takes a newest key only above it), so
 * such a key never matters again.
 * A member makes each key at one counter (a ratchet or a rotation makes a new key at the
 * next), and only the member can make an envelope for this page: the server replays a
 * forgotten key at its own counter, and it is dropped as stale instead of as a replay.
 * So an honest member's record holds at most MAX_RATCHET earlier keys, however long the day
 * (every leave makes every sending member rotate): kept whole, a ten-hour meeting that
 * 300 people came and went through held hundreds of 64-character keys per member.
 */
export function keysKept(seen) {
  for (const [k, c] of seen.past) if (seen.counter - c > MAX_RATCHET) seen.past.delete(k);
}

/**
 * keysResumed forgets the media keys of a member whose connection the server says is
 * back (SessionKeys.peerResumed), and keeps its identities, which stay refused. After
 * the resume only its new identity's envelopes open here (the old one is refused for
 * the rest of the stay: FORMAT.md, "Resumed members"), only the resumed page makes
 * them, and that page has no key of the old one: so no envelope can bring an old key
 * again. Its counter starts again too, so the old keys, kept, would sit above the new
 * newest and never be forgotten (keysKept): a member back from fifty drops of its link
 * left fifty pages' keys in every other member's record.
 */
export function keysResumed(seen) {
  seen.current = '';
  seen.counter = -1;
  seen.past.clear();
}

/** hex is bytes in hexadecimal. */
export function hex(bytes) {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}
