// A name as a sentence on a toast or a card shows it. The page lets a person type 64
// characters, the server allows 400 (signaling MaxNameChars): three such names made a
// joins toast of ~29 lines on a 360 px screen, over the stage, and one made the knock
// card a column of text. Where a sentence names someone, the name is shown clipped to
// SHOWN_NAME_CHARS with "…", so the sentence keeps its few lines and its verb whatever
// the names; a screen reader is given the whole text (dom.js writeClipped).

/** SHOWN_NAME_CHARS: the characters (code points) of a name a sentence shows, "…" included. */
export const SHOWN_NAME_CHARS = 32;

const graphemes = typeof Intl === 'object' && typeof Intl.Segmenter === 'function'
  ? new Intl.Segmenter(undefined, { granularity: 'grapheme' })
  : null;

/**
 * clipName is name as a sentence shows it: the whole of it up to max characters, else
 * its start and "…", max in all. Counted in code points, as the server and the name
 * field count, so that a letter carrying hundreds of combining marks counts for what it
 * draws; cut between graphemes where it can be (a letter keeps its accent, an emoji its
 * parts).
 */
export function clipName(name, max = SHOWN_NAME_CHARS) {
  const text = String(name ?? '');
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  const room = Math.max(1, max - 1); // "…" takes one
  let kept = '';
  let count = 0;
  for (const { segment } of graphemes ? graphemes.segment(text) : []) {
    const size = Array.from(segment).length;
    if (count + size > room) break;
    kept += segment;
    count += size;
  }
  // Without a segmenter, or when the first grapheme alone is longer than the room.
  if (!kept) kept = chars.slice(0, room).join('');
  return `${kept.trimEnd()}…`;
}
