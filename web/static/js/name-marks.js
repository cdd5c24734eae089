// Names that look alike, told apart. Anyone with a link chooses their own name, and in an
// encrypted meeting the server never sees it (a lying one sends any name it likes), so
// nobody can stop a late joiner calling itself "Dr. Weber" beside the real Dr. Weber, or
// "Moderator" beside the badge of that role. The page cannot tell who is who either, but
// it can show that two entries carry the same name: every member whose name collides
// with another's, with the page's own person's, or with a word the page itself shows
// beside names (a role's badge, "Guest", "{name} (you)"), gets a number after its name,
// "Dr. Weber (1)" and "Dr. Weber (2)", on its tile, in the list, on its chat lines and in
// every sentence that names it. Nothing new is sent and nothing new is said: the number
// is part of the name as shown, and a screen reader reads it with the name.
//
// Same means same to the eye (nameKey): after Unicode compatibility normalisation (NFKC:
// full-width and mathematical letters are letters), case folded, spaces collapsed, the
// characters that draw nothing dropped (name-text.js plainName's, and the joiners,
// direction marks and variation selectors it keeps), a trailing "(n)" like the marks this
// page adds dropped (else "Dr. Weber (1)" passed for the first of two), and the common
// Cyrillic and Greek letters drawn like Latin ones (LOOKALIKES) read as those; and a
// small l is read as an i, since most sans-serif fonts draw it as a capital I, which
// folds to i ("AIice" is Alice). This is a fold for
// comparing, never shown, and deliberately small: Unicode's full confusables table is
// thousands of entries, these are the letters a keyboard's other layout gives.
//
// A number, once given, stays with its member for as long as its name stays the same
// (also when the one it collided with left), and numbers follow the order the page
// learnt of the members (those already in when it joined, then itself, then the later
// ones); each new one is the next of that name, never one given before. The numbers are
// this page's own, but the server lists a welcome's members in the order they joined
// (signaling/joinorder.go), so a page that came later numbers the same people as one that
// saw them come; they part once a numbered member left or was renamed.

import { plainName } from './name-text.js';

// Cyrillic and Greek capitals and small letters that are drawn as a Latin letter in
// common fonts, each with that letter (pairs of "look-alike, Latin").
const LOOKALIKES = new Map([
  // Cyrillic capitals: А В Е К М Н О Р С Т У Х Ѕ І Ј Ү Һ Ӏ Ԛ Ԝ
  '\u0410A', '\u0412B', '\u0415E', '\u041aK', '\u041cM', '\u041dH', '\u041eO', '\u0420P',
  '\u0421C', '\u0422T', '\u0423Y', '\u0425X', '\u0405S', '\u0406I', '\u0408J', '\u04aeY',
  '\u04baH', '\u04c0I', '\u051aQ', '\u051cW',
  // Cyrillic small letters: а е о р с у х ѕ і ј ү һ ӏ ԛ ԝ
  '\u0430a', '\u0435e', '\u043eo', '\u0440p', '\u0441c', '\u0443y', '\u0445x', '\u0455s',
  '\u0456i', '\u0458j', '\u04afy', '\u04bbh', '\u04cfl', '\u051bq', '\u051dw',
  // Greek capitals: Α Β Ε Ζ Η Ι Κ Μ Ν Ο Ρ Τ Υ Χ
  '\u0391A', '\u0392B', '\u0395E', '\u0396Z', '\u0397H', '\u0399I', '\u039aK', '\u039cM',
  '\u039dN', '\u039fO', '\u03a1P', '\u03a4T', '\u03a5Y', '\u03a7X',
  // Greek small letters: α ι κ ν ο ρ υ χ
  '\u03b1a', '\u03b9i', '\u03bak', '\u03bdv', '\u03bfo', '\u03c1p', '\u03c5u', '\u03c7x',
].map((pair) => [pair[0], pair[1]]));

const LOOKALIKE = new RegExp(`[${[...LOOKALIKES.keys()].join('')}]`, 'gu');
// What plainName keeps but draws nothing by itself: joiners, direction marks, the
// Mongolian vowel separator, the combining grapheme joiner, variation selectors.
const DRAWS_NOTHING = /[\u034f\u061c\u180e\u200c-\u200f\ufe00-\ufe0f]/gu;
// Marks as this page adds them ("Anna (2)"), one or more at the name's end.
const TRAILING_MARKS = /(\s*\(\p{Nd}+\))+$/u;

/** nameKey is what name looks like, for comparing: '' for a name that is none. */
export function nameKey(name) {
  const folded = plainName(name)
    .normalize('NFKC')
    .replace(DRAWS_NOTHING, '')
    .replace(LOOKALIKE, (c) => LOOKALIKES.get(c))
    .toUpperCase()
    .toLowerCase()
    .replace(/l/gu, 'i') // a capital I looks like a small l, and is an i folded
    .replace(/\s+/gu, ' ')
    .trim();
  return folded.replace(TRAILING_MARKS, '').trim() || folded; // "(2)" is a name of its own
}

/** markedName is name as shown with its mark n ("Anna (2)"); name itself without one. */
export function markedName(name, n) {
  return n ? `${name} (${n})` : name;
}

/** MAX_MARKED_NAMES bounds the names NameMarks keeps a count for (a server making up names gets no more). */
export const MAX_MARKED_NAMES = 2000;

/** NameMarks gives the members of one meeting their marks and keeps them stable. */
export class NameMarks {
  constructor() {
    this.given = new Map(); // id -> {key, n}: the mark a member has for the name of key
    this.last = new Map(); // key -> the highest number given for it
    // name -> nameKey(name): the members are looked at again at every change of anyone's
    // media, and each of a welcome's hundreds as it is listed.
    this.keys = new Map();
  }

  /** keyOf is nameKey(name), remembered. */
  keyOf(name) {
    let key = this.keys.get(name);
    if (key === undefined) {
      if (this.keys.size >= 2 * MAX_MARKED_NAMES) this.keys.clear();
      key = nameKey(name);
      this.keys.set(name, key);
    }
    return key;
  }

  /**
   * marks is Map id -> number for the members of people ([{id, name}], in the order the
   * page learnt of them; name '' for one without a name or with a placeholder) that are
   * marked: those whose name's key another member's has too, or one of reserved (a Set
   * of keys: words the page shows beside names), or that had a mark for that key before.
   */
  marks(people, reserved) {
    const groups = new Map(); // key -> ids with a name of that key, in order
    for (const { id, name } of people) {
      const key = this.keyOf(name);
      if (!key) continue;
      const ids = groups.get(key);
      if (ids) ids.push(id);
      else groups.set(key, [id]);
    }
    const out = new Map();
    for (const [key, ids] of groups) {
      const collides = ids.length > 1 || reserved.has(key) || ids.some((id) => this.given.get(id)?.key === key);
      if (!collides) continue;
      for (const id of ids) {
        let mark = this.given.get(id);
        if (!mark || mark.key !== key) {
          mark = { key, n: (this.last.get(key) || 0) + 1 };
          this.last.set(key, mark.n);
          this.given.set(id, mark);
        }
        out.set(id, mark.n);
      }
    }
    if (this.last.size > MAX_MARKED_NAMES) {
      // Only the counts of names nobody has now go: those in use keep counting on.
      for (const key of this.last.keys()) if (!groups.has(key)) this.last.delete(key);
    }
    return out;
  }

  /** forget: id left (it never comes back). */
  forget(id) {
    this.given.delete(id);
  }
}
