// The modal dialogs (confirm.js: remove someone, end the meeting, remove the password;
// shortcuts.js: the keyboard shortcuts) take the keyboard focus when they open and give
// it back to the control that opened them however they close: by their buttons or by
// Escape (the browser closes a modal dialog on Escape and fires `close`, nothing else).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import './page-globals.mjs';
import { installMiniDOM } from './mini-dom.mjs';

const doc = installMiniDOM();
const handlers = {};
doc.addEventListener = (type, fn) => { (handlers[type] ||= []).push(fn); };
globalThis.Element = doc.body.constructor;

function dialog(id, ...buttons) {
  const d = doc.createElement('dialog');
  d.setAttribute('id', id);
  d.open = false;
  d.showModal = () => { d.open = true; };
  d.close = () => { if (!d.open) return; d.open = false; d.dispatch('close'); };
  for (const b of buttons) {
    const n = doc.createElement(b.startsWith('h') || b.endsWith('text') ? 'p' : 'button');
    n.setAttribute('id', b);
    d.append(n);
  }
  doc.body.append(d);
  return d;
}
const confirmDialog = dialog('confirm-dialog', 'confirm-title', 'confirm-text', 'confirm-ok', 'confirm-cancel');
const shortcutsDialog = dialog('shortcuts-dialog', 'shortcuts-close');
const opener = doc.createElement('button');
doc.body.append(opener);
const byId = (id) => doc.getElementById(id);
const escape = (d) => d.close(); // what the browser does on Escape in a modal dialog

const { confirmAction } = await import('../static/js/confirm.js');
const { Shortcuts } = await import('../static/js/shortcuts.js');

test('a confirmation takes the focus and gives it back, by its buttons and by Escape', async () => {
  for (const [how, close, want] of [['OK', () => byId('confirm-ok').click(), true], ['Cancel', () => byId('confirm-cancel').click(), false], ['Escape', () => escape(confirmDialog), false]]) {
    opener.focus();
    const answer = confirmAction({ title: 'Remove Ann?', text: 'She can knock again.' });
    assert.equal(confirmDialog.open, true);
    assert.equal(doc.activeElement, byId('confirm-cancel'), `${how}: the focus did not move into the dialog`);
    close();
    assert.equal(await answer, want, how);
    assert.equal(confirmDialog.open, false, how);
    assert.equal(doc.activeElement, opener, `${how}: the focus did not come back`);
  }
});

test('the shortcuts dialog takes the focus and gives it back, by its button and by Escape', () => {
  const shortcuts = new Shortcuts({ active: () => true });
  for (const [how, close] of [['Close', () => byId('shortcuts-close').click()], ['Escape', () => escape(shortcutsDialog)]]) {
    opener.focus();
    shortcuts.open();
    assert.equal(doc.activeElement, byId('shortcuts-close'), `${how}: the focus did not move into the dialog`);
    close();
    assert.equal(shortcutsDialog.open, false);
    assert.equal(doc.activeElement, opener, `${how}: the focus did not come back`);
  }
});
