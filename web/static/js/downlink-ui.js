// The page's side of `downlink` (downlink.js holds the state): a polite hint over the
// meeting while the connection is too slow for all video, "Video paused: connection
// too slow" on each tile that gets no video for that reason, and a small badge with a
// title on a tile shown in lower quality. Text, not colour, says it; classes only (CSP).
//
// Test hooks: #downlink-hint .downlink-hint-text[data-hint] (the key shown);
// .downlink-paused[data-participant-id] and .downlink-reduced[data-participant-id] on
// tiles, whose node carries data-downlink="paused" | "reduced".

import { el } from './dom.js';
import { icon } from './icons.js';
import { setText } from './i18n.js';
import { DownlinkView } from './downlink.js';

/** PAUSED_TEXT and REDUCED_TEXT (keys) are what a marked tile says. */
export const PAUSED_TEXT = 'downlink15.tile.paused';
export const REDUCED_TEXT = 'downlink15.tile.reduced';

/**
 * domPainter draws into live, the page's polite live region for the hint (it stays in
 * the page, empty while there is no hint, so that filling it is announced).
 */
export function domPainter(live) {
  let line = null; // the hint's paragraph while shown
  return {
    hint(key) {
      if (!live) return;
      if (!key) {
        if (line) line.remove();
        line = null;
        return;
      }
      if (!line) {
        line = el('p', { class: 'downlink-hint-text' }, icon('alert'), el('span'));
        live.append(line);
      }
      line.dataset.hint = key;
      setText(line.lastChild, key);
    },
    markTile(tile, state) {
      if (!tile || !tile.node) return;
      const node = tile.node;
      for (const old of node.querySelectorAll(':scope > .downlink-paused, :scope > .downlink-reduced')) old.remove();
      node.classList.toggle('downlink-paused-tile', state === 'paused');
      if (!state) {
        delete node.dataset.downlink;
        return;
      }
      node.dataset.downlink = state;
      const dataset = { participantId: tile.participantId, source: tile.source };
      if (state === 'paused') {
        node.append(el('div', { class: 'downlink-paused', dataset }, icon('alert'), el('span', { i18n: PAUSED_TEXT })));
      } else {
        node.append(el('span', { class: 'downlink-reduced', role: 'img', dataset, i18nAttr: { 'aria-label': REDUCED_TEXT, title: REDUCED_TEXT } }, icon('sliders')));
      }
    },
  };
}

/** downlinkView wires the grid and the hint region to the state (session-join.js makes one per session, at its welcome). */
export function downlinkView(grid, live) {
  return new DownlinkView(grid, domPainter(live));
}
