// The end-to-end encryption indicator of the meeting's top bar and its panel: a
// lock chip "End-to-end encrypted" (or a clear "Not end-to-end encrypted", or an
// error), and on click the room's safety code to compare aloud, with a note about
// participants whose key did not verify.
//
// Test hooks: #e2ee-status[data-state="on"|"off"|"error"] (the chip), #e2ee-panel,
// #safety-code (the four words as textContent, kept current while the panel is closed).

import { $ } from './dom.js';
import { setIcon } from './icons.js';

const TEXT = {
  on: {
    icon: 'lock',
    chip: 'End-to-end encrypted',
    label: 'End-to-end encrypted: show the safety code',
    title: 'End-to-end encrypted',
    body: 'Audio, video, screen shares, chat and names are encrypted in the browsers of the people in this meeting. The server passes them on but cannot read them.',
  },
  off: {
    icon: 'lock-open',
    chip: 'Not end-to-end encrypted',
    label: 'Not end-to-end encrypted: show details',
    title: 'Not end-to-end encrypted',
    body: 'The host turned end-to-end encryption off for this meeting. Audio, video and chat are encrypted on their way to the server, but the server can see and hear them.',
  },
  error: {
    icon: 'alert',
    chip: 'Encryption failed',
    label: 'End-to-end encryption failed: show details',
    title: 'End-to-end encryption failed',
    body: 'Encryption stopped working in this browser, so your camera, microphone and screen are not being sent. Leave and rejoin to try again.',
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
    $('#e2ee-status-text').textContent = t.chip;
    this.chip.setAttribute('aria-label', t.label);
    this.chip.title = t.chip;
    $('#e2ee-panel-title').textContent = t.title;
    $('#e2ee-panel-text').textContent = t.body;

    const code = state === 'on' ? info.safetyCode || '' : '';
    const codeEl = $('#safety-code');
    if (codeEl.textContent !== code) codeEl.textContent = code;
    $('#safety-code-box').hidden = state !== 'on';

    const n = state === 'on' ? info.unverified.length : 0;
    const note = $('#e2ee-unverified-note');
    note.hidden = n === 0;
    note.textContent = n === 1
      ? "1 participant could not be verified: their link has the wrong key or the server is interfering. They get no key, so they cannot see, hear or read you."
      : `${n} participants could not be verified: their links have the wrong key or the server is interfering. They get no key, so they cannot see, hear or read you.`;
  }
}
