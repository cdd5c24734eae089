// Clickable links in chat text, made safely. A message is split into plain text and
// web addresses; only http: and https: addresses become links (never javascript:,
// data:, file: and the like, however they are spelled), and each link is built as an
// <a> element whose text goes in through textContent: a message can never become
// markup, and is laid out left to right whatever the text around it says. Links open
// in a new tab with no opener and no referrer, so the page opened learns neither this
// meeting's address nor gets a handle on this tab.
//
// linkify is pure (no DOM) so the Node tests in web/jstest check it directly.

// A candidate starts at the http or https scheme and its two slashes (any case) at a word boundary and runs
// to the next white space or a character that cannot be part of an address in prose: among them every
// bidi control (marks, embeddings, overrides, isolates: U+061C, U+200E–U+200F, U+202A–U+202E,
// U+2066–U+2069), which would make the address shown differ from where the link goes.
const CANDIDATE = /\bhttps?:\/\/[^\s<>"'`\u00a0\u061c\u2000-\u200f\u2028-\u202f\u2066-\u2069\ufeff]+/giu;
// Punctuation that ends a sentence rather than the address (the full stop after a link).
const TRAILING = '.,;:!?…\'"»›)]}';
const OPENERS = { ')': '(', ']': '[', '}': '{' };
const MAX_HREF = 2048;
// A message makes at most this many links; addresses after them stay text. (A message
// of 2000 characters full of addresses made about 150 elements on every screen.)
export const MAX_LINKS = 20;
const SAFE_PROTOCOLS = new Set(['http:', 'https:']);

/** trimAddress drops trailing sentence punctuation, keeping a closing bracket whose opening one is in the address. */
function trimAddress(raw) {
  let s = raw;
  while (s.length > 0) {
    const last = s[s.length - 1];
    if (!TRAILING.includes(last)) break;
    const open = OPENERS[last];
    if (open && count(s, open) >= count(s, last)) break; // e.g. …/Foo_(bar)
    s = s.slice(0, -1);
  }
  return s;
}

function count(s, ch) {
  let n = 0;
  for (const c of s) if (c === ch) n++;
  return n;
}

/**
 * safeHref returns the normalised address if text is an http(s) address a link may
 * point to, else null.
 */
export function safeHref(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return null;
  }
  if (!SAFE_PROTOCOLS.has(url.protocol) || !url.hostname) return null;
  const href = url.href;
  return href.length <= MAX_HREF ? href : null;
}

/**
 * linkify splits text into segments, in order: {text} for plain text and
 * {text, href} for a link (text as written, href normalised), at most MAX_LINKS
 * links. Joined, the texts give back the input unchanged.
 */
export function linkify(text) {
  const s = String(text ?? '');
  const out = [];
  let at = 0;
  const push = (seg) => {
    const prev = out[out.length - 1];
    if (!seg.href && prev && !prev.href) prev.text += seg.text;
    else if (seg.text) out.push(seg);
  };
  let links = 0;
  for (const m of s.matchAll(CANDIDATE)) {
    if (links === MAX_LINKS) break;
    const written = trimAddress(m[0]);
    const href = safeHref(written);
    if (!href) continue;
    if (m.index > at) push({ text: s.slice(at, m.index) });
    push({ text: written, href });
    links++;
    at = m.index + written.length;
  }
  if (at < s.length) push({ text: s.slice(at) });
  return out;
}

/** linkNodes returns the DOM nodes for text: text nodes and safe <a> elements. */
export function linkNodes(text) {
  return linkify(text).map((seg) => {
    if (!seg.href) return document.createTextNode(seg.text);
    const a = document.createElement('a');
    a.className = 'chat-link';
    a.href = seg.href;
    a.textContent = seg.text;
    // Laid out left to right on its own (dir isolates it): an override before it in the
    // message (U+202E) would otherwise show it backwards, and an address to x.example
    // whose path is a bank's address written backwards would be seen as the bank's.
    a.setAttribute('dir', 'ltr');
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    a.referrerPolicy = 'no-referrer';
    return a;
  });
}
