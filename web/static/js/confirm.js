// A modal question before an action that cannot be undone (remove someone, end
// the meeting for all). Test hooks: #confirm-ok confirms, #confirm-cancel cancels
// (as does Escape).

import { $ } from './dom.js';
import { t } from './i18n.js';

/**
 * Asking is the state of one confirmation dialog: the function that answers its open
 * question (settle) and the question itself (asked, confirmAction's promise, for retell).
 * It is kept on the dialog element it belongs to, not in the module.
 */
class Asking {
  constructor(dialog) {
    this.settle = null;
    this.asked = null;
    $('#confirm-ok').addEventListener('click', () => this.answer(true));
    $('#confirm-cancel').addEventListener('click', () => this.answer(false));
    dialog.addEventListener('close', () => this.answer(false));
  }

  /** answer settles the open question, if there is one. */
  answer(value) {
    if (this.settle) this.settle(value);
  }
}

/** asking is the page's confirmation dialog and its state (made, and its buttons bound, once). */
function asking() {
  const dialog = $('#confirm-dialog');
  if (!(dialog.asking instanceof Asking)) dialog.asking = new Asking(dialog);
  return { dialog, state: dialog.asking };
}

/** stateOf is the state of the page's dialog, null before its first question. */
function stateOf() {
  const dialog = $('#confirm-dialog');
  return dialog && dialog.asking instanceof Asking ? dialog.asking : null;
}

/**
 * confirmAction asks a question in a modal dialog and resolves with true when
 * the person confirms. title, text and ok are texts (already translated: the dialog is
 * short-lived and modal).
 */
export function confirmAction({ title, text, ok = t('common.confirm'), danger = true }) {
  const { dialog, state } = asking();
  state.answer(false);
  $('#confirm-title').textContent = title;
  $('#confirm-text').textContent = text;
  const okBtn = $('#confirm-ok');
  delete okBtn.dataset.i18n;
  okBtn.textContent = ok;
  okBtn.classList.toggle('btn-danger', danger);
  okBtn.classList.toggle('btn-primary', !danger);
  const opener = document.activeElement;
  const question = new Promise((resolve) => {
    state.settle = (value) => {
      state.settle = null;
      state.asked = null;
      if (dialog.open) dialog.close();
      if (opener && opener.isConnected && typeof opener.focus === 'function') opener.focus();
      resolve(value);
    };
    dialog.showModal();
    $('#confirm-cancel').focus();
  });
  state.asked = question;
  return question;
}

/**
 * retell gives question (what confirmAction returned) a new text, and title if given,
 * while it is the one open: what it asks about changed meanwhile. A question answered,
 * or replaced by another, is left alone.
 */
export function retell(question, text, title = null) {
  if (!question || question !== stateOf()?.asked) return;
  $('#confirm-text').textContent = text;
  if (title !== null) $('#confirm-title').textContent = title;
}

/**
 * withdraw cancels question while it is the one open (what it asks about is gone) and
 * says whether it did. A question answered, or replaced by another, is left alone
 * (closeConfirm cancels whatever is open).
 */
export function withdraw(question) {
  const state = stateOf();
  if (!question || !state || question !== state.asked) return false;
  state.answer(false);
  return true;
}

/** closeConfirm cancels an open question (e.g. when the meeting ends under it). */
export function closeConfirm() {
  stateOf()?.answer(false);
}
