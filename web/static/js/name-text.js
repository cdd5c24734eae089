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
// to-left name may need them, and they reorder nothing beyond their neighbours.

const BIDI_CONTROLS = /[\u202a-\u202e\u2066-\u2069]/gu;
const CONTROLS = /[\u0000-\u001f\u007f-\u009f]/gu;

/** plainName is name without bidi embeddings, overrides, isolates and control characters, trimmed. */
export function plainName(name) {
  return String(name ?? '').replace(BIDI_CONTROLS, '').replace(CONTROLS, ' ').trim();
}
