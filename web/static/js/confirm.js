// A modal question before an action that cannot be undone (remove someone, end
// the meeting for all). Test hooks: #confirm-ok confirms, #confirm-cancel cancels
// (as does Escape).

import { $ } from './dom.js';
import { t } from './i18n.js';

let settle = null; // resolves the open question
let asked = null; // the open question (confirmAction's promise), for retell

function bind() {
  const dialog = $('#confirm-dialog');
  if (dialog.dataset.bound) return dialog;
  dialog.dataset.bound = 'true';
  $('#confirm-ok').addEventListener('click', () => settle && settle(true));
  $('#confirm-cancel').addEventListener('click', () => settle && settle(false));
  dialog.addEventListener('close', () => settle && settle(false));
  return dialog;
}

/**
 * confirmAction asks a question in a modal dialog and resolves with true when
 * the person confirms. title, text and ok are texts (already translated: the dialog is
 * short-lived and modal).
 */
export function confirmAction({ title, text, ok = t('common.confirm'), danger = true }) {
  const dialog = bind();
  if (settle) settle(false);
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  const okBtn = $('#confirm-ok');
  delete okBtn.dataset.i18n;
  okBtn.textContent = ok;
  okBtn.classList.toggle('btn-danger', danger);
  okBtn.classList.toggle('btn-primary', !danger);
  const opener = document.activeElement;
  const question = new Promise((resolve) => {
    settle = (value) => {
      settle = null;
      asked = null;
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(value);
    };
    dialog.showModal();
    $('#confirm-cancel').focus();
  });
  asked = question;
  return question;
}

/**
 * retell gives question (what confirmAction returned) a new text while it is the one
 * open: what it asks about changed meanwhile. A question answered, or replaced by
 * another, is left alone.
 */
export function retell(question, text) {
  if (question && question === asked) $('#confirm-text').textContent = text;
}

/** closeConfirm cancels an open question (e.g. when the meeting ends under it). */
export function closeConfirm() {
  if (settle) settle(false);
}
