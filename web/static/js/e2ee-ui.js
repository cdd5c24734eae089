// The end-to-end encryption indicator of the meeting's top bar and its panel: a
// lock chip "End-to-end encrypted" (or a clear "Not end-to-end encrypted", or an
// error), and on click the room's safety code to compare aloud, with a note about
// participants whose key did not verify.
//
// Test hooks: #e2ee-status[data-state="on"|"off"|"error"] (the chip), #e2ee-panel,
// #safety-code (the ten words as textContent, separated by single spaces, kept current
// while the panel is closed; shown as two lines of five words, .safety-code-line).

import { $ } from './dom.js';
import { setIcon } from './icons.js';
import { setAttr, setText } from './i18n.js';

// Keys of the texts, by state.

const TEXT = {
  on: {
    icon: 'lock',
    chip: 'e2ee.on.title',
    label: 'e2ee.on.label',
    title: 'e2ee.on.title',
    body: 'e2ee.on.body',
  },
  off: {
    icon: 'lock-open',
    chip: 'e2ee.off.chip',
    label: 'e2ee.off.label',
    title: 'e2ee.off.chip',
    body: 'e2ee.off.body',
  },
  error: {
    icon: 'alert',
    chip: 'e2ee.error.chip',
    label: 'e2ee.error.label',
    title: 'e2ee.error.title',
    body: 'e2ee.error.body',
  },
};

export class E2EEStatus {
  constructor() {
    this.chip = $('#e2ee-status');
    this.panel = $('#e2ee-panel');
    this.state = null;
    this.chip.addEventListener('click', () => this.toggle());
    $('#e2ee-panel-close').addEventListener('click', () => {
      this.toggle(false);
      this.chip.focus();
    });
    this.panel.addEventListener('keydown', (event) => {
      if (event.key !== 'Escape') return;
      event.stopPropagation();
      this.toggle(false);
      this.chip.focus();
    });
  }

  /** toggle opens or closes the panel (open: undefined flips it). */
  toggle(open) {
    const show = open === undefined ? this.panel.hidden : open;
    this.panel.hidden = !show || !this.state;
    this.chip.setAttribute('aria-expanded', String(!this.panel.hidden));
  }

  /**
   * render shows the session's encryption state: info is Session.e2eeInfo() of a
   * joined session ({state, safetyCode, unverified, …}), or null (not in a meeting).
   */
  render(info) {
    const state = info && info.state ? info.state : null;
    this.state = state;
    this.chip.hidden = !state;
    if (!state) {
      this.toggle(false);
      $('#safety-code').textContent = '';
      return;
    }
    const t = TEXT[state];
    this.chip.dataset.state = state;
    this.panel.dataset.state = state;
    setIcon($('#e2ee-status-icon'), t.icon);
    setIcon($('#e2ee-panel-icon'), t.icon);
    setText($('#e2ee-status-text'), t.chip);
    setAttr(this.chip, 'aria-label', t.label);
    setAttr(this.chip, 'title', t.chip);
    setText($('#e2ee-panel-title'), t.title);
    setText($('#e2ee-panel-text'), t.body);

    const code = state === 'on' ? info.safetyCode || '' : '';
    const codeEl = $('#safety-code');
    if (codeEl.textContent !== code) showCode(codeEl, code);
    $('#safety-code-box').hidden = state !== 'on';

    const n = state === 'on' ? info.unverified.length : 0;
    const note = $('#e2ee-unverified-note');
    note.hidden = n === 0;
    setText(note, 'e2ee.unverified-note', { count: n });
  }
}

/**
 * showCode writes the code as two lines of five words, so that people read it in
 * two short breaths and do not stop after the first line. The text nodes keep
 * single spaces between all ten words: the element's textContent is the code.
 */
function showCode(el, code) {
  const words = code ? code.split(' ') : [];
  const half = Math.ceil(words.length / 2);
  const lines = [words.slice(0, half), words.slice(half)].filter((l) => l.length > 0).map((l) => {
    const line = document.createElement('span');
    line.className = 'safety-code-line';
    line.textContent = l.join(' ');
    return line;
  });
  el.replaceChildren(...lines.flatMap((line, i) => (i === 0 ? [line] : [document.createTextNode(' '), line])));
}
