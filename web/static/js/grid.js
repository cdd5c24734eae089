// The participant tiles: one camera tile per participant (self included, mirrored)
// and one larger tile per screen share. Layout is computed here from the space
// available and handed to CSS through custom properties (CSSOM, allowed by CSP).
//
// Test hooks: .tile[data-participant-id][data-source][data-self], each with a <video>;
// a camera tile's .role-badge[data-role] shows a presenter's or moderator's role, and
// .e2ee-unverified[data-participant-id] warns that the person's key did not verify;
// .keys-waiting[data-participant-id] says "Waiting for keys…" on a tile whose frames
// fail here for want of a key (e2ee/key-requests.js), instead of a black picture.
// A tile's aria-label is its name, with ", microphone off" on a muted camera tile.
//
// A tile follows a switch of language by itself (Grid), its name and what is built from
// it included ("Guest (you)", "Name unknown (screen)"): its texts were written with the
// name in the language of the moment, and only the plain names of a live session's
// members were given again at a switch, so the own tile, screen tiles whose texts carry
// the name, and the tiles kept while the page reconnects (held-roster.js) said "Guest
// (Sie)" or "Name not yet received" after a switch to German until the name changed.

import { el, initials, hueFor } from './dom.js';
import { icon } from './icons.js';
import { onLanguageChange, setAttr, setText, t } from './i18n.js';
import { shownName } from './e2ee-names.js';

/** UNVERIFIED_TEXT (a key) warns about a participant whose identity key did not verify (E2EE). */
export const UNVERIFIED_TEXT = 'e2ee.unverified';

/** WAITING_TEXT (a key) is shown on a tile whose frames cannot be decrypted yet. */
export const WAITING_TEXT = 'e2ee14.keys.waiting';

/** ROLE_LABELS names (keys) the roles that get a badge. */
export const ROLE_LABELS = { moderator: 'role.moderator', presenter: 'role.presenter' };

const GAP = 10;
const MIN_TILE_W = 150;

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

/** focusLost: the keyboard focus is nowhere, the page's body has it. */
function focusLost() {
  return !document.activeElement || document.activeElement === document.body;
}

/** fit finds the column count that makes n tiles of an aspect ratio as large as possible in W×H. */
function fit(W, H, n, aspect) {
  let best = { cols: 1, w: 0, h: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    let w = (W - GAP * (cols - 1)) / cols;
    let h = w / aspect;
    if (h * rows + GAP * (rows - 1) > H) {
      h = (H - GAP * (rows - 1)) / rows;
      w = h * aspect;
    }
    if (w * h > best.w * best.h) best = { cols, w: Math.floor(w), h: Math.floor(h) };
  }
  return best;
}

export class Grid {
  constructor(root) {
    this.root = root;
    this.stage = el('div', { class: 'stage' });
    this.tilesEl = el('div', { class: 'tiles' });
    this.hiddenEl = el('div', { class: 'tiles-hidden', hidden: true }); // e.g. a hidden self view
    root.replaceChildren(this.stage, this.tilesEl, this.hiddenEl);
    this.tiles = new Map(); // "participantId/source" -> Tile
    this.waitingForKeys = new Set(); // participant ids whose frames fail here for want of a key
    this.active = null;
    // layout.js: where a tile goes ('stage' | 'tiles' | 'hidden'; null: screens on the
    // stage, cameras in the tiles) and what each new tile gets (its pin button).
    this.placement = null;
    this.onTile = null;
    this.listeners = new Set(); // onChange: tiles added, removed or moved (view-tracker.js)
    this.observer = new ResizeObserver(() => this.layout());
    this.observer.observe(root);
    // The page's one grid lives as long as the page: it follows every switch.
    onLanguageChange(() => {
      for (const tile of this.tiles.values()) tile.languageChanged();
    });
  }

  /** onChange calls fn whenever tiles are added, removed or placed anew; it returns the unsubscribe. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** isHidden: the layout put the tile out of sight (layout.js). */
  isHidden(tile) {
    return tile.node.parentNode === this.hiddenEl;
  }

  _notify() {
    for (const fn of this.listeners) fn();
  }

  static key(participantId, source) {
    return `${participantId}/${source}`;
  }

  /** ensure returns the tile of a participant's source, creating it if needed. */
  ensure({ participantId, source = 'camera', self = false, name = '', nameLabel = null }) {
    const key = Grid.key(participantId, source);
    let tile = this.tiles.get(key);
    if (!tile) {
      tile = new Tile({ participantId, source, self, name, nameLabel });
      this.tiles.set(key, tile);
      if (this.onTile) this.onTile(tile);
      if (participantId === this.active && source === 'camera') tile.setSpeaking(true);
      if (this.waitingForKeys.has(participantId)) tile.setWaitingForKeys(true);
      this.arrange();
    }
    return tile;
  }

  get(participantId, source = 'camera') {
    return this.tiles.get(Grid.key(participantId, source)) || null;
  }

  remove(participantId, source) {
    const key = Grid.key(participantId, source);
    const tile = this.tiles.get(key);
    if (!tile) return;
    // A button of the tile had the keyboard focus (its pin, a screen's full screen): it
    // goes with the tile, and the browser would drop the focus to the page's start. The
    // tiles' region (named, focusable by the page) takes it: a keyboard stays in the tiles.
    const hadFocus = tile.node.contains(document.activeElement);
    tile.destroy();
    this.tiles.delete(key);
    this.arrange();
    if (hadFocus && focusLost()) this.root.focus();
  }

  /** setWaitingForKeys marks every tile of a participant as waiting for its keys, or not. */
  setWaitingForKeys(participantId, on) {
    if (on) this.waitingForKeys.add(participantId);
    else this.waitingForKeys.delete(participantId);
    for (const tile of this.tiles.values()) {
      if (tile.participantId === participantId) tile.setWaitingForKeys(on);
    }
  }

  removeParticipant(participantId) {
    this.waitingForKeys.delete(participantId);
    for (const tile of Array.from(this.tiles.values())) {
      if (tile.participantId === participantId) this.remove(participantId, tile.source);
    }
  }

  clear() {
    for (const tile of this.tiles.values()) tile.destroy();
    this.tiles.clear();
    this.waitingForKeys.clear();
    this.layout();
    this._notify();
  }

  /**
   * update applies a participant object ({name, nameLabel, role, media, e2ee}) to all of
   * its tiles; a placeholder name's getters are kept (Tile.nameFrom).
   */
  update(participantId, person = {}) {
    const { role, media, e2ee } = person;
    for (const tile of this.tiles.values()) {
      if (tile.participantId !== participantId) continue;
      if (e2ee !== undefined) tile.setVerification(e2ee);
      if (person.name !== undefined) tile.nameFrom(person);
      if (role !== undefined) tile.setRole(role);
      if (media) {
        tile.setMic(!!media.mic);
        tile.setCamera(!!media.camera);
      }
    }
  }

  setActiveSpeaker(participantId) {
    this.active = participantId;
    for (const tile of this.tiles.values()) {
      tile.setSpeaking(tile.source === 'camera' && tile.participantId === participantId);
    }
    if (this.placement) this.arrange(); // speaker view follows the speaker
  }

  /** arrange puts every tile where placement says (layout.js), then lays them out. */
  arrange() {
    // A tile moved is taken out of the page and put back, and a browser drops the focus of
    // a button in it to the page's start: a tile's pin pressed by the keyboard moved its
    // tile to the stage and the keyboard's place was lost. The moved button takes it back.
    const focused = this.root.contains(document.activeElement) ? document.activeElement : null;
    for (const tile of this.tiles.values()) {
      const where = (this.placement && this.placement(tile)) || (tile.source === 'screen' ? 'stage' : 'tiles');
      const parent = where === 'stage' ? this.stage : where === 'hidden' ? this.hiddenEl : this.tilesEl;
      if (tile.node.parentNode !== parent) parent.append(tile.node);
    }
    this.layout(); // first: the stage is shown only once it holds a tile (has-stage)
    if (focused && focusLost()) {
      if (this.root.contains(focused) && !this.hiddenEl.contains(focused)) focused.focus();
      if (focusLost()) this.root.focus(); // its tile went out of sight (the own view hidden)
    }
    this._notify();
  }

  layout() {
    const screens = this.stage.childElementCount;
    const W = this.root.clientWidth;
    const H = this.root.clientHeight;
    if (W === 0 || H === 0) return;
    const narrow = W < 720 || W < H;
    this.root.classList.toggle('has-stage', screens > 0);
    this.root.classList.toggle('stage-side', screens > 0 && !narrow);
    this.root.classList.toggle('stage-bottom', screens > 0 && narrow);

    if (screens > 0) {
      const sw = this.stage.clientWidth;
      const sh = this.stage.clientHeight;
      this._apply(this.stage, fit(sw, sh, screens, 16 / 9));
      return;
    }
    const n = this.tilesEl.childElementCount;
    if (n === 0) return;
    // Phones in portrait get taller tiles (video is cropped to fill them).
    const aspects = narrow ? [16 / 9, 4 / 3, 1, 3 / 4] : [16 / 9, 4 / 3];
    let best = null;
    for (const a of aspects) {
      const f = fit(W, H, n, a);
      if (!best || f.w * f.h > best.w * best.h * 1.15) best = f;
    }
    if (best.w < MIN_TILE_W) {
      // Too many to fit: fixed small tiles, the grid scrolls.
      const cols = Math.max(1, Math.floor((W + GAP) / (MIN_TILE_W + GAP)));
      const w = Math.floor((W - GAP * (cols - 1)) / cols);
      best = { cols, w, h: Math.floor((w * 9) / 16) };
    }
    this._apply(this.tilesEl, best);
  }

  _apply(container, { cols, w, h }) {
    container.style.setProperty('--tile-w', `${w}px`);
    container.style.setProperty('--tile-h', `${h}px`);
    container.style.setProperty('--grid-w', `${cols * w + (cols - 1) * GAP}px`);
  }
}
