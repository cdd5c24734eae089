// Tiny DOM helpers. Text always goes in through textContent / text nodes, never
// through innerHTML, so names and chat messages can never become markup.
import { setAttr, setText } from './i18n.js';
import { heardText } from './i18n-core.js';
import { Announcer, GAP_MS } from './announcer.js';

export const $ = (selector, root = document) => root.querySelector(selector);

/**
 * el creates an element. props: class, text, dataset, aria-* and other
 * attributes, on<event> listeners. Children may be nodes or strings (text).
 * Translated text (i18n.js): i18n: key (the text), i18nAttr: { attribute: key },
 * i18nParams: { placeholder: value } for both; these follow a language switch.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key === 'text') node.textContent = value;
    else if (key === 'dataset') Object.assign(node.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') node.addEventListener(key.slice(2), value);
    else if (key === 'style') throw new Error('inline styles are not allowed (CSP)');
    else if (key === 'i18n') setText(node, value, props.i18nParams);
    else if (key === 'i18nAttr') {
      for (const [name, k] of Object.entries(value)) setAttr(node, name, k, props.i18nParams);
    } else if (key === 'i18nParams') continue;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined && child !== false) node.append(child);
  }
  return node;
}

/** initials returns up to two letters for an avatar ("Ada Lovelace" → "AL"). */
export function initials(name) {
  // The first letter or digit of the first and last word ("(unreadable)" → "U").
  const lead = (word) => (word.match(/[\p{L}\p{N}]/u) || [''])[0];
  const words = String(name || '').trim().split(/\s+/).map(lead).filter(Boolean);
  if (words.length === 0) return '?';
  const last = words.length > 1 ? words[words.length - 1] : '';
  return (words[0] + last).toUpperCase();
}

/** hueFor maps an id to a stable hue for avatar colours. */
export function hueFor(id) {
  let h = 0;
  for (const ch of String(id)) h = (h * 31 + ch.codePointAt(0)) % 360;
  return h;
}

// The announcer of each live region (announcer.js), kept with the region it writes.
const announcers = new WeakMap();

/**
 * announce tells screen readers something not shown as a toast, through the polite live
 * region #live: after what was announced before has been read, together with what else
 * waits (announcer.js). kind, with many(count), says announcements of one kind that
 * wait together as one ("3 people raised their hand"); topic says only the latest of
 * the page's news of one thing (the microphone); own confirms a person's own action
 * first and soon; holds() leaves out what is no longer true when it is written.
 */
export function announce(text, options = {}) {
  const live = document.getElementById('live');
  if (!live) return;
  let announcer = announcers.get(live);
  if (!announcer) {
    announcer = new Announcer(live);
    announcers.set(live, announcer);
  }
  announcer.say(text, options);
}

// The text each assertive region is to be given (announceAlert), kept with the region.
const alerts = new WeakMap();

/**
 * announceAlert says text at once through the assertive live region #live-alert, over
 * what a screen reader is reading: news the person must hear now (the connection
 * dropped), which would otherwise wait its turn behind #live's. The region is emptied
 * and written GAP_MS later, so the same text again is read again; of two within that
 * moment the later is written.
 */
export function announceAlert(text) {
  const region = document.getElementById('live-alert');
  if (!region) return;
  alerts.set(region, heardText(text || '')); // only heard: no isolates (i18n-core.js)
  region.textContent = '';
  setTimeout(() => {
    const latest = alerts.get(region);
    if (latest === undefined) return;
    alerts.delete(region);
    region.textContent = latest;
  }, GAP_MS);
}

/**
 * clearAlert empties #live-alert and drops what announceAlert was about to write: the
 * news is over (the connection is back, or the person left), and its words, left in the
 * region, would be found there by a screen reader's cursor as if it were not.
 */
export function clearAlert() {
  const region = document.getElementById('live-alert');
  if (!region) return;
  alerts.delete(region);
  region.textContent = '';
}

/**
 * forgetAnnouncements drops what waits to be announced (Announcer.forget): the page's
 * session ended, and what was news in it is not said over the screen that follows.
 */
export function forgetAnnouncements() {
  const live = document.getElementById('live');
  const announcer = live && announcers.get(live);
  if (announcer) announcer.forget();
}

// Toasts each stack keeps at most: the oldest make way.
const MAX_TOASTS = 3;
/** TOAST_OUT_MS: a toast's fade (app.css .toast-out) before it is taken away. */
export const TOAST_OUT_MS = 300;

/**
 * toast shows a short notification at the bottom of the screen. A screen reader reads it
 * as it comes: #toasts holds one live region per politeness, #toasts-alert (assertive)
 * for an error and #toasts-polite for the rest, and the toast inside is plain (a role of
 * its own, status or alert, made a live region inside a live region, which some screen
 * readers read out twice). announce() it too and it is said twice: said: false puts it
 * in #toasts-quiet, for news an announcement already says in its own words. shown is
 * the text seen, where it clips a long name (clipped.js); a screen reader reads text.
 */
export function toast(text, { kind = 'info', timeout = 4000, shown = text, said = true } = {}) {
  const item = el('div', { class: `toast toast-${kind}` });
  writeClipped(item, text, shown);
  const stack = !said ? 'toasts-quiet' : kind === 'error' ? 'toasts-alert' : 'toasts-polite';
  if (!placeToast(item, stack)) return;
  setTimeout(() => {
    item.classList.add('toast-out');
    setTimeout(() => item.remove(), TOAST_OUT_MS);
  }, timeout);
}

/**
 * quietToast shows a toast that is not read out as it comes, and returns it (null on a
 * page without toasts); its caller takes it away. #toasts-quiet reads nothing out
 * (aria-live="off", which panel-cover.js also leaves readable behind a panel): a
 * toast changed in place (presence-toasts.js) would be read out again at each change,
 * so what it says is announced, in a few words, through #live (announce) instead.
 * shown: as toast's.
 */
export function quietToast(text, shown = text) {
  const item = el('div', { class: 'toast toast-info' });
  writeClipped(item, text, shown);
  return placeToast(item, 'toasts-quiet') ? item : null;
}

/**
 * writeClipped makes node's text full, seen as shown where they differ (a long name
 * clipped, clipped.js): shown is hidden from a screen reader, which reads full from a
 * span that is not seen (.sr-only). "…" in place of a name is no name to hear, and a
 * name clipped in the middle of a word is read as another word.
 */
export function writeClipped(node, full, shown = full) {
  full = String(full ?? '');
  shown = String(shown ?? '');
  if (shown === full) {
    node.textContent = full;
    return;
  }
  // The full text is only heard: without the isolates around names (i18n-core.js).
  node.replaceChildren(el('span', { 'aria-hidden': 'true' }, shown), el('span', { class: 'sr-only' }, heardText(full)));
}

/**
 * clearToasts takes every toast off the screen at once, out of its live region too: the
 * page's stay in the meeting stopped (meeting-end.js), and what its toasts said ("Anna
 * joined", "Password not saved: …", a hand lowered by a moderator) was of a meeting the
 * screen that follows ("The meeting has ended", the waiting room again) is no longer in,
 * stale or false over it, and still to be read out where a screen reader had not come to
 * it yet. A toast shown after it is the new screen's, and stays.
 */
export function clearToasts() {
  const box = document.getElementById('toasts');
  if (!box) return;
  for (const item of box.querySelectorAll('.toast')) item.remove();
}

/** placeToast puts item in the stack of that id (#toasts without it), the oldest beyond MAX_TOASTS making way. */
function placeToast(item, stackId) {
  const box = document.getElementById('toasts');
  if (!box) return false;
  const stack = document.getElementById(stackId) || box;
  stack.append(item);
  const items = stack.querySelectorAll('.toast:not(.toast-out)');
  for (let i = 0; i < items.length - MAX_TOASTS; i++) {
    items[i].classList.add('toast-out');
    setTimeout(() => items[i].remove(), TOAST_OUT_MS);
  }
  return true;
}

/** copyText copies to the clipboard, falling back to a selected input. */
export async function copyText(text, fallbackInput) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (fallbackInput) {
      fallbackInput.focus();
      fallbackInput.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  }
}

/** meetingIdPattern matches a meeting id: 1–64 base64url characters. */
export const meetingIdPattern = /^[A-Za-z0-9_-]{1,64}$/;

/** focusLost: the focus is nowhere (the page) or on a screen that is not shown. */
export function focusLost() {
  const active = document.activeElement;
  return !active || active === document.body || !!active.closest('.screen:not(#meeting)');
}
