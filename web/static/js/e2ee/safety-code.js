// The safety code, version 2 (e2ee/FORMAT.md, "Safety code"; Go reference
// e2ee/safetycode.go, shared vectors e2ee/testdata/safetycode.json):
//
//   D = SHA-256("conclave/v2 safety code" || 0x00 || id || 0x00 || pub || 0x00 …)
//       over the verified roster sorted by id (UTF-8 byte order), own entry included
//   C = PBKDF2-HMAC-SHA-256(password D, salt "conclave/v2 safety code", 2^17
//       iterations, 13 bytes); its first 100 bits pick ten words (words.js).
//
// Ten words and a slow hash together make two rosters with one code cost a link
// holder about 2^68 SHA-256 compressions. The price is tens of milliseconds per
// code in a browser, so SafetyCodes computes it only when the roster changes, one
// computation at a time.

import { E2EEError } from './errors.js';
import { concat, encode } from './b64.js';
import { subtle, validId } from './keys.js';
import { codeWords } from './words.js';

export const SAFETY_LABEL = 'conclave/v2 safety code';
export const SAFETY_ITERATIONS = 1 << 17;
export const SAFETY_WORDS = 10;
const CODE_BITS = 104; // 13 bytes; the last 4 bits are unused
const PUB_SIZE = 32;

const utf8 = new TextEncoder();

function compareBytes(x, y) {
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/**
 * rosterBytes returns the hashed input of D for [{id, pub}] in any order, or throws
 * E2EEError 'bad-id' (empty id or one with NUL) or 'bad-input' (no entries, a key
 * that is not 32 bytes, an id twice).
 */
export function rosterBytes(entries) {
  if (!Array.isArray(entries) || entries.length === 0) throw new E2EEError('bad-input', 'safety code: empty roster');
  const list = entries.map((e) => {
    if (!validId(e.id)) throw new E2EEError('bad-id', 'safety code: invalid participant id');
    const pub = e.pub instanceof Uint8Array ? e.pub : null;
    if (!pub || pub.length !== PUB_SIZE) throw new E2EEError('bad-input', 'safety code: public key must be 32 bytes');
    return { id: utf8.encode(e.id), pub };
  });
  // Byte order of the UTF-8 ids, not JavaScript's UTF-16 order (they differ above U+FFFF).
  list.sort((a, b) => compareBytes(a.id, b.id));
  const parts = [utf8.encode(SAFETY_LABEL), Uint8Array.of(0)];
  for (let i = 0; i < list.length; i++) {
    if (i > 0 && compareBytes(list[i - 1].id, list[i].id) === 0) throw new E2EEError('bad-input', 'safety code: an id twice');
    parts.push(list[i].id, Uint8Array.of(0), list[i].pub, Uint8Array.of(0));
  }
  return concat(...parts);
}

/** rosterDigest returns D (32 bytes) of a roster. */
export async function rosterDigest(entries) {
  return new Uint8Array(await subtle().digest('SHA-256', rosterBytes(entries)));
}

/** safetyCodeBytes returns C, the 13 PBKDF2 bytes of a roster. */
export async function safetyCodeBytes(entries) {
  const s = subtle();
  const key = await s.importKey('raw', await rosterDigest(entries), 'PBKDF2', false, ['deriveBits']);
  const salt = utf8.encode(SAFETY_LABEL);
  const bits = await s.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: SAFETY_ITERATIONS }, key, CODE_BITS);
  return new Uint8Array(bits);
}

/** safetyCodeWords returns the ten words of a roster's code, in reading order. */
export async function safetyCodeWords(entries) {
  return codeWords(await safetyCodeBytes(entries), SAFETY_WORDS);
}

/** safetyCode returns the code as one string: ten words separated by spaces. */
export async function safetyCode(entries) {
  return (await safetyCodeWords(entries)).join(' ');
}

/** rosterKey names a roster [{id, pub}] in any order (ids hold no NUL). */
function rosterKey(entries) {
  return entries.map((e) => `${e.id}\0${encode(e.pub)}`).sort().join('\0');
}

/**
 * SafetyCodes keeps the code of a changing roster current without wasting work:
 * nothing is computed for a roster it was last asked for, at most one computation
 * runs at a time, and one that a newer roster overtook is not shown but followed by
 * the newest roster's (a burst of joins costs two computations, not one each).
 */
export class SafetyCodes {
  /** onChange is called when code changes. */
  constructor(onChange) {
    this.onChange = onChange;
    this.code = ''; // the latest computed code
    this.of = ''; // the roster (rosterKey) code is of
    this.asked = ''; // the roster last asked for
    this.entries = null;
    this.seq = 0; // counts the rosters asked for
    this.busy = false;
    this.pending = Promise.resolve(); // settles when the newest roster's code is in
  }

  /** update asks for the code of the roster [{id, pub}] (own entry included). */
  update(entries) {
    const roster = rosterKey(entries);
    if (roster === this.asked) return;
    this.asked = roster;
    this.entries = entries;
    this.seq++;
    if (!this.busy) this.pending = this._run();
  }

  /** current returns the code if it is of this roster, else '' (still being computed). */
  current(entries) {
    return this.code && rosterKey(entries) === this.of ? this.code : '';
  }

  async _run() {
    this.busy = true;
    try {
      for (;;) {
        const { seq, asked, entries } = this;
        let code = '';
        try {
          code = await safetyCode(entries);
        } catch {
          code = ''; // a roster without a code (cannot happen: SessionKeys checks ids on entry)
        }
        if (seq !== this.seq) continue; // overtaken: compute the newest roster instead
        this.of = asked;
        if (code !== this.code) {
          this.code = code;
          this.onChange();
        }
        return;
      }
    } finally {
      this.busy = false;
    }
  }
}
