// A name another page gave, made fit to stand in this page's text. A name is put into
// sentences (a toast, the knock card, a moderator's question, a button's label) and
// beside other text on a line (a chat message's time). An explicit bidi embedding,
// override or isolate in it (U+202A–U+202E, U+2066–U+2069) reorders what follows it up
// to the end of the paragraph: "Eve\u202E joined" showed "Eve denioj", a chat line's
// "10:42" after such a name showed "24:01", and a name could turn the words of a
// moderator's question after it into others. The server refuses control characters in a
// plain name, but a sealed name it never sees and a lying server sends what it likes, so
// the page drops those characters from every name of someone else it takes, and the C0
// and C1 controls with them. Marks (U+200E, U+200F, U+061C) and joiners stay: a right-
// to-left name may need them, and they reorder nothing beyond their neighbours. A
// sentence puts the name in an isolate of its own (i18n-core.js), which the name, without
// isolates, cannot close.
//
// Characters that draw nothing and join nothing go too: the zero-width space (U+200B),
// the word joiner and invisible operators (U+2060–U+2064), the deprecated format
// characters (U+206A–U+206F), U+FEFF and the soft hyphen (U+00AD).
// "An\u200Bna" looked like Anna to everyone and was another name to the page: the same
// person twice, or someone passing for a member already in. The zero-width joiner and
// non-joiner (U+200C, U+200D) stay: Persian and the Indic scripts write words with them
// and emoji are made of them; so does the Mongolian vowel separator, part of the word.
// The Hangul fillers (U+115F, U+1160, U+3164, U+FFA0) go as well: letters to Unicode,
// they draw nothing outside a syllable block a font composes, and a name made of them
// showed as an empty tile, an empty row of the list and a sentence with a hole in it.
// A name that is blank once cleaned (spaces, the braille blank U+2800) is no name: the
// page shows its "Guest" for it, as for a member without one.
//
// And a name is at most MAX_NAME_CHARS characters (code points), the most the server
// lets a person give (signaling MaxNameChars): a lying server's name of any length is
// clipped where a sentence shows it (clipped.js) but was read out whole by a screen
// reader, in every toast, label and announcement that names its person.

/** MAX_NAME_CHARS: the code points of a name kept, as the server counts them (signaling MaxNameChars). */
export const MAX_NAME_CHARS = 400;

const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/gu;
const INVISIBLE = /[\u00ad\u115f\u1160\u200b\u2060-\u2064\u206a-\u206f\u3164\ufeff\uffa0]/gu;
const BLANK = /^[\s\u2800]*$/u;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/gu;

/**
 * plainName is name without bidi embeddings, overrides, isolates, invisible characters
 * and control characters, trimmed, and cut to MAX_NAME_CHARS code points; '' when
 * nothing visible is left.
 */
export function plainName(name) {
  const text = String(name ?? '').replace(BIDI_CONTROLS, '').replace(INVISIBLE, '').replace(CONTROLS, ' ').trim();
  if (BLANK.test(text)) return '';
  const chars = Array.from(text);
  return chars.length <= MAX_NAME_CHARS ? text : chars.slice(0, MAX_NAME_CHARS).join('').trimEnd();
}
