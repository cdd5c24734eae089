// How the tiles are laid out: grid view (everyone the same size) or speaker view (one
// person large, the others in a strip), a pinned tile that stays large in either view,
// and the own camera tile hidden on request. grid.js does the sizing; this module only
// says, per tile, whether it goes on the stage (large), in the tiles, or out of sight.
// Choices live in this page's memory only.
//
// Test hooks: #grid[data-layout="grid"|"speaker"], #grid[data-pinned="<id>/<source>"];
// each tile has a .tile-pin button (aria-pressed="true" while pinned, named "Pin Anna",
// "Anna anheften" after the tile's name as it shows it); the panel's
// #layout-grid / #layout-speaker radios and #layout-hide-self checkbox (devices.js).

import { el } from './dom.js';
import { setAttr, t } from './i18n.js';
import { sentence } from './e2ee-names.js';
import { icon } from './icons.js';

export class Layout {
  /** @param {Grid} grid */
  constructor(grid) {
    this.grid = grid;
    this.mode = 'grid'; // grid | speaker
    this.pinned = null; // "participantId/source" of the pinned tile
    this.hideSelf = false;
    this.lastSpeaker = null; // speaker view keeps the last one who spoke large
    this.buttons = new Map(); // tile key -> its pin button
    grid.placement = (tile) => this._place(tile);
    grid.onTile = (tile) => this._decorate(tile);
    this._render();
  }

  /** setMode switches between 'grid' and 'speaker' view. */
  setMode(mode) {
    this.mode = mode === 'speaker' ? 'speaker' : 'grid';
    this._changed();
  }

  /** pin makes a tile stay large; pin(null) or pinning the pinned tile again unpins. */
  pin(key) {
    this.pinned = key && key !== this.pinned ? key : null;
    this._changed();
  }

  setHideSelf(hide) {
    this.hideSelf = !!hide;
    this._changed();
  }

  /** featured is the key of the tile shown large, or null (screens large, or a grid). */
  featured() {
    const { grid } = this;
    if (this.pinned && grid.tiles.has(this.pinned)) return this.pinned;
    if (this.mode !== 'speaker') return null;
    // A screen share is what everyone looks at: it keeps the stage.
    for (const tile of grid.tiles.values()) if (tile.source === 'screen') return null;
    const speaking = grid.active ? grid.get(grid.active, 'camera') : null;
    if (speaking && !speaking.self) this.lastSpeaker = this._key(speaking);
    if (this.lastSpeaker && grid.tiles.has(this.lastSpeaker)) return this.lastSpeaker;
    for (const tile of grid.tiles.values()) {
      if (tile.source === 'camera' && !tile.self) return this._key(tile);
    }
    return null;
  }

  _key(tile) {
    return `${tile.participantId}/${tile.source}`;
  }

  _place(tile) {
    if (this.hideSelf && tile.self && tile.source === 'camera') return 'hidden';
    const featured = this.featured();
    if (!featured) return null;
    return this._key(tile) === featured ? 'stage' : 'tiles';
  }

  _decorate(tile) {
    const key = this._key(tile);
    for (const k of this.buttons.keys()) if (!this.grid.tiles.has(k)) this.buttons.delete(k);
    const button = el('button', {
      class: 'tile-action tile-pin',
      type: 'button',
      'aria-pressed': 'false',
      dataset: { pin: key },
      onclick: (event) => {
        event.stopPropagation();
        this.pin(key);
      },
    }, icon('pin'));
    tile.node.append(button);
    this.buttons.set(key, button);
    // A rename, a collision's mark, a name received or a switch of language names the
    // pin again (Tile.nameFrom).
    tile.onNamed = () => this._renderButton(key, button);
    this._renderButton(key, button);
  }

  _renderButton(key, button) {
    const on = key === this.pinned;
    button.setAttribute('aria-pressed', String(on));
    button.classList.toggle('pinned', on);
    // The name stays the same, pinned or not, and aria-pressed says the tile is pinned
    // (WAI-ARIA APG, toggle button: "Unpin, pressed" said it twice); the tooltip says what
    // a click does. The name says whose tile it is, as the tile shows it ("Pin Anna (2)",
    // "Pin Anna (screen)"): a screen reader's list of buttons drops the tile's group, and
    // twenty "Pin"s told nobody which was which.
    // A name not yet received is "this person" (e2ee-names.js sentence), where "Pin Name
    // not yet received" ("Name noch nicht empfangen anheften") was no sentence.
    const tile = this.grid.tiles.get(key);
    if (tile) {
      const said = sentence(pinLabel(tile), tile.who, t);
      setAttr(button, 'aria-label', said.key, said.params);
    }
    setAttr(button, 'title', on ? 'devices.layout.unpin' : 'devices.layout.pin');
  }

  _changed() {
    this.grid.arrange();
    this._render();
  }

  _render() {
    const root = this.grid.root;
    root.dataset.layout = this.mode;
    if (this.pinned) root.dataset.pinned = this.pinned;
    else delete root.dataset.pinned;
    root.classList.toggle('self-hidden', this.hideSelf);
    for (const [key, button] of this.buttons) {
      if (!this.grid.tiles.has(key)) this.buttons.delete(key);
      else this._renderButton(key, button);
    }
  }
}

/** pinLabel is the key of a tile's pin's name: the tile's name as the tile words it. */
function pinLabel(tile) {
  if (tile.source === 'screen') return tile.self ? 'devices.layout.pin.screen.self' : 'devices.layout.pin.screen';
  return tile.self ? 'devices.layout.pin.self' : 'devices.layout.pin.named';
}
