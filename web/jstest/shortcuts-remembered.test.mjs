// The switch of one-key shortcuts (#shortcuts-single: "?" and Space held to talk, WCAG
// 2.1.4) is a preference of this device (shortcuts.js, storage.js): turned off, it is off
// in the next meeting's page too. It lived in the page's memory only, so someone whose
// speech input types "?" or a space got both back in every meeting until they found the
// switch again. Only "off" is kept; on is the default, and then nothing is.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { append, installMiniDOM, MiniElement } from './mini-dom.mjs';

const doc = installMiniDOM();
globalThis.Element = MiniElement;
const make = (tag, id) => append(doc, tag, id);
const dialog = make('dialog', 'shortcuts-dialog');
Object.defineProperty(dialog, 'open', { get() { return this.hasAttribute('open'); } });
make('button', 'shortcuts-close');
const single = make('input', 'shortcuts-single');
single.type = 'checkbox';

const KEY = 'conclave.single-keys';

// page loads shortcuts.js as a new meeting page does (a module of its own) and makes its
// dialog; the switch starts as meeting.html has it (checked).
let pages = 0;
async function page() {
  const mod = await import(`../static/js/shortcuts.js?page=${++pages}`);
  single.checked = true;
  new mod.Shortcuts({ active: () => true });
  return mod;
}

test('one-key shortcuts turned off stay off in the next meeting; on again, nothing is kept', async () => {
  localStorage.removeItem(KEY);
  const first = await page();
  assert.equal(single.checked, true);
  assert.equal(first.singleKeysOn(), true);
  single.checked = false; // the person turns the switch off
  single.dispatch('change');
  assert.equal(first.singleKeysOn(), false);
  assert.equal(localStorage.getItem(KEY), 'off');

  const next = await page(); // the next meeting, on this device
  assert.equal(next.singleKeysOn(), false, 'the one-key shortcuts are on again in the next meeting');
  assert.equal(single.checked, false, 'the switch shows them on');

  single.checked = true; // and on again
  single.dispatch('change');
  assert.equal(next.singleKeysOn(), true);
  assert.equal(localStorage.getItem(KEY), null, 'the default is kept in the browser');
  const third = await page();
  assert.equal(third.singleKeysOn(), true);
  assert.equal(single.checked, true);
});

test('with storage refused the switch still works for the page', async () => {
  localStorage.removeItem(KEY);
  const area = globalThis.window.localStorage;
  globalThis.window.localStorage = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); }, removeItem() { throw new Error('denied'); } };
  try {
    const mod = await page();
    assert.equal(mod.singleKeysOn(), true);
    single.checked = false;
    single.dispatch('change');
    assert.equal(mod.singleKeysOn(), false);
  } finally {
    globalThis.window.localStorage = area;
  }
});
