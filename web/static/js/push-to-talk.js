// Push-to-talk: while the microphone is muted, holding the space bar unmutes it and
// letting go mutes it again. Not while typing in a field, not while a control has the
// keyboard focus (Space presses a button and ticks a switch: a keyboard user has no other
// key for a switch), not when a moderator's mute forbids unmuting, and never when the
// microphone was already on (then the space bar does what it always does). Losing the
// window's focus counts as letting go.
//
// A control that took the focus from a click or a touch (the microphone button just
// clicked, or the one the page focuses after a click on Join) is no keyboard user's
// place: Space talks there, as before. Left to the button, Space held to talk did
// nothing while held and turned the microphone on for good when let go. Chromium
// reports :focus-visible for it once a key is down, so the page notes itself how the
// focus came (a pointer, or a key or nothing since the last pointer).
//
// Space is a key that types a character: the shortcuts dialog's switch of one-key
// shortcuts turns push-to-talk off too (shortcuts.js singleKeysOn, WCAG 2.1.4).
//
// Test hooks: holding Space (keydown … keyup on the page) turns #btn-mic on
// (aria-pressed="true") and body[data-push-to-talk="on"] while held.

import { announce } from './dom.js';
import { t } from './i18n.js';
import { singleKeysOn, typing } from './shortcuts.js';

// Roles whose element Space operates (a focused one keeps its space bar).
const SPACE_ROLES = new Set(['button', 'switch', 'checkbox', 'radio', 'menuitem', 'menuitemcheckbox', 'menuitemradio', 'tab', 'option', 'link']);

/** operable tells whether the space bar belongs to the focused control the event targets. */
export function operable(event) {
  const target = event.target;
  if (!target || !(target instanceof Element)) return false;
  const tag = target.tagName;
  if (['BUTTON', 'INPUT', 'SELECT', 'TEXTAREA', 'SUMMARY'].includes(tag)) return true;
  if (tag === 'A' && target.hasAttribute('href')) return true;
  return SPACE_ROLES.has(target.getAttribute('role'));
}

export class PushToTalk {
  /**
   * @param {{media: LocalMedia, controls: Controls, session: () => Session|null,
   *          canUnmute: () => boolean, unmuted: () => void}} opts
   */
  constructor({ media, controls, session, canUnmute, unmuted }) {
    this.media = media;
    this.controls = controls;
    this.session = session;
    this.canUnmute = canUnmute;
    this.unmuted = unmuted;
    this.holding = false;
    this.pointer = false; // the last input was a pointer (press), not a key
    this.pointerFocus = false; // the focused element got the focus that way
    document.addEventListener('pointerdown', () => { this.pointer = true; }, true);
    document.addEventListener('focusin', () => { this.pointerFocus = this.pointer; }, true);
    document.addEventListener('keydown', (event) => this._down(event));
    document.addEventListener('keyup', (event) => this._up(event));
    window.addEventListener('blur', () => this.release());
  }

  _live() {
    const s = this.session();
    return s && !s.ended && s.joined ? s : null;
  }

  _isSpace(event) {
    return (event.code === 'Space' || event.key === ' ') && !event.ctrlKey && !event.metaKey && !event.altKey;
  }

  _down(event) {
    if (!this._isSpace(event)) this.pointer = false; // Tab, arrows, Enter: what they focus is the keyboard's
    if (!this._isSpace(event) || typing(event) || document.querySelector('dialog[open]')) return;
    if (!this.holding && !singleKeysOn()) return; // one-key shortcuts are off: Space is Space
    // The focused button, switch or link takes it, when the keyboard brought the focus there.
    if (!this.holding && operable(event) && !this.pointerFocus) return;
    if (this.holding) {
      event.preventDefault(); // key repeat while held
      return;
    }
    if (event.repeat || !this._live() || this.media.micOn || !this.canUnmute()) return;
    // Nothing focused takes the space bar (operable): no scrolling, it talks.
    event.preventDefault();
    this.holding = true;
    document.body.dataset.pushToTalk = 'on';
    if (this.media.micTrack && this.media.micTrack.readyState === 'live') {
      this.media.setMicMuted(false);
      this._changed();
    } else {
      // The microphone was never opened, or its track ended: open it (muting later
      // keeps it open).
      this.controls.toggleMic();
    }
    this.unmuted();
    announce(t('devices.ptt.talking'), { topic: 'mic', own: true });
  }

  _up(event) {
    // Space let go, whatever modifier is down by then (Ctrl+E while talking): held
    // to the modifier test of keydown, the release was missed and the mic stayed open.
    if (!this.holding || (event.code !== 'Space' && event.key !== ' ')) return;
    event.preventDefault();
    this.release();
  }

  /** release mutes again after push-to-talk (once a microphone that was opening is open). */
  async release() {
    if (!this.holding) return;
    this.holding = false;
    delete document.body.dataset.pushToTalk;
    await this.controls.ops.mic;
    if (this.holding || !this.media.micOn) return;
    this.media.setMicMuted(true);
    this._changed();
    announce(t('devices.ptt.muted'), { topic: 'mic', own: true });
  }

  _changed() {
    const s = this._live();
    if (s) s.sendMediaState();
    this.controls.render();
  }
}
