// The meeting's top bar and what floats below it. Where one row does not hold the top
// bar's chips (a phone; app.css lets the bar wrap), the bar takes a second row, and the
// cards, banners and hints that float below it (the knock card, the safety-code panel,
// the own link's warning, the network hints) would cover that row at a fixed top. The
// bar's height is kept in --topbar-height on the page's root, which app.css places them
// by; without it (no ResizeObserver) they keep the one-row bar's place.
//
// banner is the one below it that says what the meeting is doing (#banner).
//
// Test hooks: document.documentElement.style's --topbar-height is the bar's height in px.

import { $, announce, announceAlert } from './dom.js';
import { setText, t } from './i18n.js';

/** followTopbarHeight keeps --topbar-height on root equal to topbar's height. */
export function followTopbarHeight(topbar, root = document.documentElement) {
  if (!topbar || typeof ResizeObserver !== 'function') return null;
  const observer = new ResizeObserver(() => {
    const height = topbar.getBoundingClientRect().height;
    // A hidden meeting (pre-join, lobby) has a bar of no height: keep the last one.
    if (height > 0) root.style.setProperty('--topbar-height', `${Math.ceil(height)}px`);
  });
  observer.observe(topbar);
  return observer;
}

/**
 * banner shows the text of key (null hides it), and says it when it comes: the banner is
 * shown with its text at once, and a live region that appears with its text already in
 * it is not read out by every screen reader, so it is none. An error (end-to-end
 * encryption failed, the media connection lost for good: nothing is sent any more) is
 * said at once; the rest after what waits. The same banner shown again is no news.
 */
export function banner(key, kind = 'info') {
  const b = $('#banner');
  if (!key) {
    b.hidden = true;
    return;
  }
  const news = b.hidden || b.dataset.i18n !== key;
  setText(b, key);
  b.dataset.kind = kind;
  b.hidden = false;
  if (!news) return;
  if (kind === 'error') announceAlert(t(key));
  else announce(t(key));
}
