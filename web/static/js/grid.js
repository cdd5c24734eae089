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

import { el } from './dom.js';
import { onLanguageChange } from './i18n.js';
import { Tile } from './tile.js';

const GAP = 10;
const MIN_TILE_W = 150;

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
