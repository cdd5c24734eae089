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

import { $ } from './dom.js';
import { setText } from './i18n.js';

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

/** banner shows the text of key (null hides it). */
export function banner(key, kind = 'info') {
  const b = $('#banner');
  if (!key) {
    b.hidden = true;
    return;
  }
  setText(b, key);
  b.dataset.kind = kind;
  b.hidden = false;
}
