// The keyboard's place in the tiles is kept (grid.js): a tile's pin pressed by a keyboard
// moves its tile to the stage, which takes the tile out of the page for a moment, and a
// tile goes when its person leaves or stops sharing. Either way the browser dropped the
// focus of the button in it to the page's start (mini-dom does as a browser does), and a
// keyboard user began again at the page's first control.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
globalThis.ResizeObserver = class { observe() {} disconnect() {} };
const { Grid } = await import('../static/js/grid.js');
const { Layout } = await import('../static/js/layout.js');

/** tiles is a grid as the page has it (#grid, focusable by the page) with a layout, and Mia's and Ann's camera tiles. */
function tiles() {
  const root = doc.createElement('main');
  root.setAttribute('tabindex', '-1');
  doc.body.replaceChildren(root);
  const grid = new Grid(root);
  const layout = new Layout(grid);
  grid.ensure({ participantId: 'p-me', source: 'camera', self: true, name: 'Mia' });
  grid.ensure({ participantId: 'p-ann', source: 'camera', name: 'Ann' });
  const pin = (id, source = 'camera') => grid.get(id, source).node.querySelector('.tile-pin');
  return { root, grid, layout, pin };
}

test("a tile's pin pressed by the keyboard keeps the focus while its tile moves to the stage and back", () => {
  const { grid, pin } = tiles();
  pin('p-ann').focus();
  pin('p-ann').click();
  assert.equal(grid.root.dataset.pinned, 'p-ann/camera');
  assert.equal(grid.get('p-ann').node.parentNode, grid.stage, 'the pinned tile is on the stage');
  assert.equal(doc.activeElement, pin('p-ann'), 'the focus fell to the page when the pinned tile moved');
  pin('p-ann').click();
  assert.equal(grid.get('p-ann').node.parentNode, grid.tilesEl);
  assert.equal(doc.activeElement, pin('p-ann'), 'the focus fell to the page when the unpinned tile moved back');
});

test("a tile that goes while a button of it has the focus leaves it to the tiles' region", () => {
  const { root, grid, layout, pin } = tiles();
  grid.ensure({ participantId: 'p-ann', source: 'screen', name: 'Ann' });
  pin('p-ann', 'screen').focus();
  grid.remove('p-ann', 'screen'); // Ann stops sharing
  assert.equal(doc.activeElement, root, 'the focus fell to the page when the screen tile went');
  pin('p-ann').focus();
  grid.removeParticipant('p-ann'); // Ann leaves
  assert.equal(doc.activeElement, root, 'the focus fell to the page when the camera tile went');
  pin('p-me').focus();
  layout.setHideSelf(true); // the own view hidden from the devices panel: its pin is out of sight
  assert.equal(doc.activeElement, root);
  // A tile that goes while the focus is elsewhere moves nothing.
  const other = doc.createElement('button');
  doc.body.append(other);
  grid.ensure({ participantId: 'p-bo', source: 'camera', name: 'Bo' });
  other.focus();
  grid.removeParticipant('p-bo');
  assert.equal(doc.activeElement, other);
});
