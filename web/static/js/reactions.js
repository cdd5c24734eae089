// Reactions: a small fixed set, sent to everyone through the server (which limits how
// often one person may send them) and shown for a few seconds on the sender's camera
// tile, fading out. Nothing is kept.
//
// Test hooks: #btn-reactions opens #reaction-bar with .reaction-btn[data-emoji]; a
// reaction shows as .tile-reaction[data-emoji] inside the sender's camera tile.

import { $, el, toast } from './dom.js';
import { t } from './i18n.js';

/** REACTIONS must match the server's set (signaling/hands.go). */
export const REACTIONS = ['👍', '👏', '😂', '😮', '❤️', '🎉'];
const LABELS = {
  '👍': 'modctl.reactions.thumbsUp', '👏': 'modctl.reactions.clap', '😂': 'modctl.reactions.laugh',
  '😮': 'modctl.reactions.surprised', '❤️': 'modctl.reactions.love', '🎉': 'modctl.reactions.party',
};
const SHOW_MS = 4000; // the fade is CSS (.tile-reaction), its end removes the element
const MAX_ON_TILE = 3;

export class Reactions {
  /** @param {{send: (type, payload) => void}} deps */
  constructor(deps) {
    this.deps = deps;
    this.bar = el('div', { id: 'reaction-bar', class: 'reaction-bar', role: 'group', i18nAttr: { 'aria-label': 'modctl.reactions.bar' }, hidden: true },
      ...REACTIONS.map((emoji) => {
        const b = el('button', {
          type: 'button', class: 'reaction-btn', dataset: { emoji },
          i18nAttr: { 'aria-label': LABELS[emoji], title: LABELS[emoji] },
        }, emoji);
        b.addEventListener('click', () => this.deps.send('reaction', { emoji }));
        return b;
      }));
    this.button = el('button', {
      id: 'btn-reactions', type: 'button', class: 'ctrl ctrl-neutral ctrl-emoji', 'aria-expanded': 'false', 'aria-controls': 'reaction-bar',
      i18nAttr: { 'aria-label': 'modctl.reactions.open', title: 'modctl.reactions.open' },
    }, el('span', { 'aria-hidden': 'true', text: '😊' }));
    this.button.addEventListener('click', () => this.setOpen(this.bar.hidden));
    this.bar.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      event.stopPropagation();
      this.setOpen(false);
      this.button.focus();
    });
    // The bar after its button: what a disclosure opens comes next in the tab order
    // (WCAG 2.4.3). Before it, Tab from the open button went on to Leave, and the
    // reactions were reached backwards (the bar is drawn above the button either way).
    const wrap = el('div', { class: 'reaction-wrap' }, this.button, this.bar);
    $('#btn-leave').before(wrap);
  }

  setOpen(open) {
    this.bar.hidden = !open;
    this.button.setAttribute('aria-expanded', String(open));
    this.button.classList.toggle('active', open);
  }

  /** show puts a received reaction on the sender's camera tile for a few seconds. */
  show(p) {
    const emoji = p && p.emoji;
    if (!REACTIONS.includes(emoji) || typeof p.from !== 'string') return;
    const tile = document.querySelector(`#grid .tile[data-source="camera"][data-participant-id="${CSS.escape(p.from)}"]`);
    if (!tile) return;
    const shown = tile.querySelectorAll(':scope > .tile-reaction');
    for (let i = 0; i <= shown.length - MAX_ON_TILE; i++) shown[i].remove();
    const badge = el('span', { class: 'tile-reaction', role: 'img', dataset: { emoji }, i18nAttr: { 'aria-label': LABELS[emoji] } }, emoji);
    tile.append(badge);
    setTimeout(() => badge.remove(), SHOW_MS);
  }

  /** refused explains a refused reaction. */
  refused(code) {
    if (code === 'rate_limited') toast(t('modctl.reactions.tooFast'));
  }
}
