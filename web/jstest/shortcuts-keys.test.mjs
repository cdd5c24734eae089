// "?" (shortcuts.js) is a shortcut of one character key (WCAG 2.1.4 Character Key
// Shortcuts): it never fires while typing in a field, and the shortcuts dialog's switch
// #shortcuts-single turns it off (together with Space held to talk, push-to-talk.js).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { append, installMiniDOM, MiniElement } from './mini-dom.mjs';

const doc = installMiniDOM();
globalThis.Element = MiniElement;
const keydowns = [];
doc.addEventListener = (type, fn) => { if (type === 'keydown') keydowns.push(fn); };
doc.body.dataset.state = 'joined';

const make = (tag, id) => append(doc, tag, id);
const dialog = make('dialog', 'shortcuts-dialog');
Object.defineProperty(dialog, 'open', { get() { return this.hasAttribute('open'); } });
dialog.showModal = function () { this.setAttribute('open', ''); };
dialog.close = function () { this.removeAttribute('open'); this.dispatch('close'); };
make('button', 'shortcuts-close');
const single = make('input', 'shortcuts-single');
single.type = 'checkbox';
const field = make('textarea', 'chat-input');

const { Shortcuts, singleKeysOn } = await import('../static/js/shortcuts.js');
const shortcuts = new Shortcuts({ active: () => doc.body.dataset.state === 'joined' });

function press(key, target = doc.body) {
  const event = { type: 'keydown', key, target, ctrlKey: false, metaKey: false, altKey: false, prevented: false };
  event.preventDefault = () => { event.prevented = true; };
  for (const fn of keydowns) fn(event);
  return event;
}

test('"?" opens the shortcuts, not while typing, and not once one-key shortcuts are off', () => {
  assert.equal(single.checked, true, 'the switch does not show the shortcuts on');
  press('?', field);
  assert.equal(dialog.open, false, '"?" typed into a text field opened the dialog');
  press('?');
  assert.equal(dialog.open, true, '"?" on the page did not open the dialog');
  shortcuts.close();

  single.checked = false; // the switch in the dialog, turned off
  single.dispatch('change');
  assert.equal(singleKeysOn(), false);
  const event = press('?');
  assert.equal(dialog.open, false, '"?" opened the dialog with one-key shortcuts turned off');
  assert.equal(event.prevented, false, 'the key was taken from the page');
  shortcuts.open(); // the button in the devices panel still opens it
  assert.equal(dialog.open, true);
  shortcuts.close();

  single.checked = true;
  single.dispatch('change');
  press('?');
  assert.equal(dialog.open, true);
  shortcuts.close();
});
