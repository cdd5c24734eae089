// A tile's microphone state (grid.js) reaches screen readers: the crossed-out
// microphone is drawn for the eye only (its title is a tooltip no keyboard opens), so the
// tile's name says it: "Ann, microphone off", in the language shown.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
globalThis.ResizeObserver = class { observe() {} disconnect() {} };
const { Tile } = await import('../static/js/tile.js');
const { setLanguage } = await import('../static/js/i18n.js');

const name = (tile) => tile.node.getAttribute('aria-label');

test('a camera tile\'s name says when the microphone is off, in English and German', () => {
  const ann = new Tile({ participantId: 'p-ann', source: 'camera', self: false, name: 'Ann' });
  const me = new Tile({ participantId: 'p-me', source: 'camera', self: true, name: 'Mia' });
  const screen = new Tile({ participantId: 'p-ann', source: 'screen', self: false, name: 'Ann' });
  doc.body.append(ann.node, me.node, screen.node);
  assert.equal(name(ann), 'Ann');
  ann.setMic(false);
  assert.equal(name(ann), 'Ann, microphone off');
  me.setMic(false);
  assert.equal(name(me), 'Mia (you), microphone off');
  screen.setMic(false); // a screen share has no microphone of its own
  assert.equal(name(screen), 'Ann (screen)');
  ann.setName('Anna');
  assert.equal(name(ann), 'Anna, microphone off');

  setLanguage('de');
  assert.equal(name(ann), 'Anna, Mikrofon aus');
  assert.equal(name(me), 'Mia (Sie), Mikrofon aus');
  ann.setMic(true);
  assert.equal(name(ann), 'Anna');
  me.setMic(true);
  assert.equal(name(me), 'Mia (Sie)');
  setLanguage('en');
});
