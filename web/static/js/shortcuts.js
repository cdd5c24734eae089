// Keyboard shortcuts of the meeting and the dialog that lists them (opened with "?" or
// the button in the devices panel). Typing in a field never triggers a shortcut.
// meeting-bindings.js keeps Ctrl+D / Ctrl+E and Escape; push-to-talk.js has the space bar.
//
// "?" and Space held to talk are shortcuts of one character key (WCAG 2.1.4): speech
// input that types a word, or a stray key, would trigger them. The dialog's switch
// turns both off (singleKeysOn); the shortcuts with Ctrl and Escape stay. The choice
// is a preference of this device, remembered for the next meeting (storage.js): on by
// default, and only "off" is kept. Someone whose speech input types "?" should not
// have to find the switch again in every meeting.
//
// Test hooks: "?" (or #btn-shortcuts) opens #shortcuts-dialog (open attribute),
// #shortcuts-close closes it; #shortcuts-single (switch, checked = "?" and Space on).

import { $ } from './dom.js';
import { devicePreference, setDevicePreference } from './storage.js';

// Read once per page; held here too, so that the switch works for this page where the
// browser keeps nothing (storage disabled).
let singleKeys = devicePreference('singleKeys') !== 'off';

/** singleKeysOn tells whether the shortcuts of one character key ("?", Space held) are on. */
export function singleKeysOn() {
  return singleKeys;
}

/** setSingleKeys turns the shortcuts of one character key on or off, remembered on this device. */
export function setSingleKeys(on) {
  singleKeys = !!on;
  setDevicePreference('singleKeys', singleKeys ? null : 'off');
}

/** typing tells whether a key event belongs to a text field (or other editable element). */
export function typing(event) {
  const target = event.target;
  if (!target || !(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  const tag = target.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag !== 'INPUT') return false;
  // Checkboxes, radios and buttons take no text.
  return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(target.type);
}

export class Shortcuts {
  /** @param {{active: () => boolean}} opts  active: the meeting is on (state "joined") */
  constructor({ active }) {
    this.active = active;
    this.dialog = $('#shortcuts-dialog');
    $('#shortcuts-close').addEventListener('click', () => this.close());
    const single = $('#shortcuts-single');
    if (single) {
      single.checked = singleKeysOn();
      single.addEventListener('change', () => setSingleKeys(single.checked));
    }
    // However it closes (its button, Escape), the focus goes back where it was.
    this.dialog.addEventListener('close', () => {
      const back = this.returnFocus;
      this.returnFocus = null;
      if (back && back.isConnected && typeof back.focus === 'function') back.focus();
    });
    document.addEventListener('keydown', (event) => {
      if (event.key !== '?' || event.ctrlKey || event.metaKey || event.altKey) return;
      if (!singleKeysOn() || !this.active() || typing(event) || this.dialog.open) return;
      // Another dialog (e.g. a confirmation) keeps the focus it has.
      if (document.querySelector('dialog[open]')) return;
      event.preventDefault();
      this.open();
    });
  }

  open() {
    if (this.dialog.open) return;
    this.returnFocus = document.activeElement;
    this.dialog.showModal();
    $('#shortcuts-close').focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }
}
