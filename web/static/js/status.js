// The end screens of the meeting page (state "left" or "error") and the error
// code test hook: #meeting-error holds the text, its data-code the reason.

import { $ } from './dom.js';
import { setText } from './i18n.js';

// reason -> keys of [title, text, rejoin button label or null]
export const FATAL = {
  unknown_meeting: ['status.not-found', 'status.unknown-meeting', null],
  meeting_full: ['status.meeting-full.title', 'status.meeting-full', 'status.try-again'],
  unsupported_version: ['status.unsupported-version.title', 'status.unsupported-version', null],
  e2ee_version: ['status.unsupported-version.title', 'status.e2ee-version', null],
  too_many_errors: ['status.disconnected.title', 'status.too-many-errors', 'status.try-again'],
  shutdown: ['status.shutdown.title', 'status.shutdown', 'status.try-again'],
  replaced: ['status.replaced.title', 'status.replaced', 'status.try-again'],
  disconnected: ['status.disconnected.title', 'status.disconnected', 'status.rejoin'],
  unreachable: ['status.unreachable.title', 'status.unreachable', 'status.try-again'],
  invalid: ['status.not-found', 'status.invalid', null],
  denied: ['status.denied.title', 'status.denied', null],
  locked: ['status.locked.title', 'status.locked', 'status.try-again'],
  lobby_full: ['status.lobby-full.title', 'status.lobby-full', 'status.try-again'],
  expired: ['status.expired.title', 'status.expired', 'status.knock-again'],
  removed: ['status.removed.title', 'status.removed', null],
  ended: ['status.ended.title', 'status.ended', null],
  wrong_moderator_secret: ['status.wrong-moderator-secret.title', 'status.wrong-moderator-secret', 'status.join-as-participant'],
  // End-to-end encryption (fail closed: no way in without it).
  link_incomplete: ['status.link-incomplete.title', 'status.link-incomplete', null],
  link_invalid: ['status.link-invalid.title', 'status.link-invalid', null],
  e2ee_unsupported: ['status.e2ee-unsupported.title', 'status.e2ee-unsupported', null],
  not_encrypted: ['status.not-encrypted.title', 'status.not-encrypted', null],
  // These three go back to the pre-join screen; the texts are for #meeting-error.
  password_required: ['status.password-required.title', 'prejoin.password-needed', null],
  wrong_password: ['status.wrong-password', 'status.wrong-password', null],
  too_many_attempts: ['status.too-many-attempts.title', 'status.too-many-attempts', null],
};

/**
 * offersRejoin tells whether the error screen for a reason offers a way back (Rejoin,
 * Try again, Knock again, Join as a participant); an unknown reason shows
 * "Disconnected", which does.
 */
export function offersRejoin(kind) {
  return !!(FATAL[kind] || FATAL.disconnected)[2];
}

/** setErrorCode writes the reason and its text (key, params) into #meeting-error (it stays hidden). */
export function setErrorCode(kind, key, params) {
  const box = $('#meeting-error');
  setText(box, key, params);
  box.dataset.code = kind;
}

export function clearErrorCode() {
  const box = $('#meeting-error');
  delete box.dataset.i18n;
  box.textContent = '';
  box.hidden = true;
  delete box.dataset.code;
}

/** showErrorScreen fills the status screen for a reason; returns the reason shown. */
export function showErrorScreen(kind) {
  const known = FATAL[kind] ? kind : 'disconnected';
  const [title, text, again] = FATAL[known];
  setText($('#status-title'), title);
  delete $('#status-text').dataset.i18n;
  $('#status-text').textContent = '';
  setErrorCode(known, text);
  $('#meeting-error').hidden = false;
  const button = $('#btn-rejoin');
  button.hidden = !again;
  if (again) setText(button, again);
  return known;
}

/** showLeftScreen fills the status screen after leaving the meeting or the waiting room. */
export function showLeftScreen(fromLobby) {
  setText($('#status-title'), fromLobby ? 'status.left-lobby' : 'status.left');
  setText($('#status-text'), 'status.nothing-kept');
  clearErrorCode();
  $('#btn-rejoin').hidden = false;
  setText($('#btn-rejoin'), fromLobby ? 'status.knock-again' : 'status.rejoin');
}
