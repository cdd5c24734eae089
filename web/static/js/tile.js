// One participant's tile (a camera, or a larger one for a screen share): its video, its
// name, its badges and warnings, and what it says to a screen reader. The tiles' layout
// is grid.js's.
//
// Test hooks: see grid.js (the tiles' hooks are written here).

import { el, initials, hueFor } from './dom.js';
import { icon } from './icons.js';
import { setAttr, setText, t } from './i18n.js';
import { shownName } from './e2ee-names.js';

/** UNVERIFIED_TEXT (a key) warns about a participant whose identity key did not verify (E2EE). */
export const UNVERIFIED_TEXT = 'e2ee.unverified';

/** WAITING_TEXT (a key) is shown on a tile whose frames cannot be decrypted yet. */
export const WAITING_TEXT = 'e2ee14.keys.waiting';

/** ROLE_LABELS names (keys) the roles that get a badge. */
export const ROLE_LABELS = { moderator: 'role.moderator', presenter: 'role.presenter' };

/** Tile is one participant's tile (exported for the Node tests). */
export class Tile {
  constructor({ participantId, source, self, name, nameLabel = null }) {
    this.participantId = participantId;
    this.source = source;
    this.self = !!self;
    this.track = null;
    this.wantVideo = source === 'screen';
    this.micOn = true;
    this.hasFrames = false;

    this.video = el('video', { autoplay: true, playsinline: true, muted: true, class: 'tile-video' });
    this.video.muted = true; // audio is played by separate <audio> elements
    this.video.addEventListener('resize', () => this._frames());
    this.video.addEventListener('loadeddata', () => this._frames());

    this.initials = el('span', { class: 'avatar-initials' });
    this.avatar = el('div', { class: 'avatar', 'aria-hidden': 'true' }, this.initials);
    this.nameEl = el('span', { class: 'tile-name' });
    this.micOff = el('span', { class: 'tile-mic-off', i18nAttr: { title: 'controls.mic.off' } }, icon('mic-off'));
    this.roleEl = el('span', { class: 'role-badge', hidden: true });
    this.label = el('div', { class: 'tile-label' }, this.micOff, this.nameEl, this.roleEl);

    this.node = el('div', {
      class: `tile tile-${source}`,
      role: 'group',
      dataset: { participantId, source, self: this.self ? 'true' : 'false' },
    }, this.video, this.avatar, this.label);
    this.avatar.style.setProperty('--avatar-hue', String(hueFor(participantId)));

    if (source === 'screen') {
      const full = el('button', {
        class: 'tile-action',
        type: 'button',
        i18nAttr: { 'aria-label': 'grid.fullscreen.label', title: 'grid.fullscreen' },
      }, icon('expand'));
      full.addEventListener('click', () => this.toggleFullscreen());
      this.node.append(full);
      this.node.addEventListener('dblclick', () => this.toggleFullscreen());
    }
    this.warning = null;
    this.waiting = null;
    this.onNamed = null; // told after each naming (layout.js names the tile's pin after it)
    this.setName(name, nameLabel);
    this._refresh();
  }

  /** setVerification shows a warning on a camera tile when the person's E2EE key did not verify. */
  setVerification(state) {
    const bad = state === 'unverified' && this.source === 'camera' && !this.self;
    if (bad && !this.warning) {
      this.warning = el('div', {
        class: 'e2ee-unverified tile-warning',
        role: 'status',
        dataset: { participantId: this.participantId },
        i18nAttr: { title: UNVERIFIED_TEXT },
      }, icon('alert'), el('span', { i18n: UNVERIFIED_TEXT }));
      this.node.append(this.warning);
    } else if (!bad && this.warning) {
      this.warning.remove();
      this.warning = null;
    }
  }

  /**
   * setWaitingForKeys covers the tile with "Waiting for keys…" while its frames fail
   * for want of a key, so that it never just goes black; the cover goes once they decode.
   */
  setWaitingForKeys(on) {
    const show = !!on && !this.self;
    if (show && !this.waiting) {
      this.waiting = el('div', {
        class: 'keys-waiting',
        role: 'status',
        dataset: { participantId: this.participantId },
      }, icon('lock'), el('span', { i18n: WAITING_TEXT }));
      this.node.append(this.waiting);
    } else if (!show && this.waiting) {
      this.waiting.remove();
      this.waiting = null;
    }
    this.node.classList.toggle('waiting-for-keys', show);
  }

  /**
   * setName shows name; label, when set, is what assistive technology reads instead
   * (a placeholder such as "…" for a name not yet received in an encrypted meeting).
   */
  setName(name, label = null) {
    this.nameFrom({ name, nameLabel: label });
  }

  /**
   * nameFrom shows person's name ({name, nameLabel}, as setName) and keeps where it is
   * read from: a placeholder's getters (e2ee-names.js placeholder) give it in the
   * language of the moment, which languageChanged shows again.
   */
  nameFrom(person) {
    this.who = nameOf(person);
    const { name, nameLabel: label } = this.who;
    this.name = name || '';
    const shown = shownName({ name: this.name }, t); // "Guest" without a name
    this.spoken = label || shown;
    let key = null; // null: the name itself
    if (this.source === 'screen') key = this.self ? 'grid.screen.self' : 'grid.screen';
    else if (this.self) key = 'grid.self';
    this.nameKey = key;
    if (key) {
      setText(this.nameEl, key, { name: shown }); // the sentence isolates the name (i18n-core.js)
      this.nameEl.removeAttribute('dir');
    } else {
      delete this.nameEl.dataset.i18n;
      this.nameEl.textContent = shown;
      this.nameEl.setAttribute('dir', 'auto'); // the name alone, in its own direction (e2ee-names.js fillName)
    }
    this._label();
    if (label) {
      this.nameEl.dataset.namePending = 'true';
      this.nameEl.title = label;
    } else {
      delete this.nameEl.dataset.namePending;
      this.nameEl.removeAttribute('title');
    }
    this.initials.textContent = initials(shown);
    if (this.onNamed) this.onNamed();
  }

  /** languageChanged writes the name and the texts built from it in the language switched to. */
  languageChanged() {
    this.nameFrom(this.who);
  }

  /** setRole shows a badge for presenters and moderators (camera tiles only). */
  setRole(role) {
    const text = this.source === 'camera' ? ROLE_LABELS[role] : undefined;
    if (text) setText(this.roleEl, text);
    else { delete this.roleEl.dataset.i18n; this.roleEl.textContent = ''; }
    this.roleEl.hidden = !text;
    this.roleEl.dataset.role = role || 'participant';
  }

  setMic(on) {
    this.micOn = on;
    this._refresh();
    this._label();
  }

  /**
   * _label names the tile for assistive technology: who, and on a camera tile whose
   * microphone is off, that it is (the crossed-out microphone says it to the eye only).
   */
  _label() {
    const muted = !this.micOn && this.source === 'camera';
    let key = this.nameKey;
    if (muted) key = key === 'grid.self' ? 'grid.self.mic-off' : 'grid.mic-off';
    if (key) {
      setAttr(this.node, 'aria-label', key, { name: this.spoken });
    } else {
      delete this.node.dataset.i18nAttr;
      delete this.node.dataset.i18nParams;
      this.node.setAttribute('aria-label', this.spoken);
    }
  }

  setCamera(on) {
    if (this.source === 'screen') return;
    this.wantVideo = on;
    this._refresh();
  }

  setTrack(track) {
    if (track === this.track) return;
    if (this.track) {
      this.track.removeEventListener('mute', this._onMute);
      this.track.removeEventListener('unmute', this._onMute);
    }
    this.track = track;
    this.hasFrames = false;
    if (track) {
      this._onMute = () => this._refresh();
      track.addEventListener('mute', this._onMute);
      track.addEventListener('unmute', this._onMute);
      this.video.srcObject = new MediaStream([track]);
      this.video.play().catch(() => {});
    } else {
      this.video.srcObject = null;
    }
    this._refresh();
  }

  setSpeaking(on) {
    this.node.classList.toggle('speaking', on);
  }

  toggleFullscreen() {
    if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
    else if (this.node.requestFullscreen) this.node.requestFullscreen().catch(() => {});
  }

  destroy() {
    this.setTrack(null);
    this.node.remove();
  }

  _frames() {
    const had = this.hasFrames;
    this.hasFrames = this.video.videoWidth > 0;
    if (had !== this.hasFrames) this._refresh();
  }

  _refresh() {
    const showVideo = !!this.track && this.wantVideo && this.track.readyState === 'live' &&
      (this.self || !this.track.muted) && this.hasFrames;
    this.node.classList.toggle('video-on', showVideo);
    this.node.classList.toggle('mic-muted', !this.micOn && this.source === 'camera');
    this.node.dataset.video = showVideo ? 'on' : 'off';
  }
}

/**
 * nameOf is person's name and placeholder label as they are read ({name, nameLabel}):
 * getters stay getters, read anew each time.
 */
function nameOf(person) {
  const own = Object.getOwnPropertyDescriptors(person);
  return Object.defineProperties({}, {
    name: own.name || { value: person.name },
    nameLabel: own.nameLabel || { value: person.nameLabel ?? null },
  });
}
