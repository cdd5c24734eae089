// The end screens of the meeting page (state "left" or "error") and the error
// code test hook: #meeting-error holds the text, its data-code the reason.

import { $ } from './dom.js';

// reason -> [title, text, rejoin button label or null]
export const FATAL = {
  unknown_meeting: ['Meeting not found', 'This link does not lead to a meeting: the room does not exist, has expired, was deleted, or got new links.', null],
  meeting_full: ['The meeting is full', 'This meeting has reached its participant limit. Try again later.', 'Try again'],
  unsupported_version: ['Please reload', 'This page is out of date for the server. Reload the page to join.', null],
  too_many_errors: ['Disconnected', 'The connection was closed after repeated errors.', 'Try again'],
  shutdown: ['The server is shutting down', 'The meeting ended because the server is shutting down.', 'Try again'],
  replaced: ['Joined elsewhere', 'You joined this meeting from another window or tab.', 'Try again'],
  disconnected: ['Disconnected', 'The connection to the server was lost.', 'Rejoin'],
  unreachable: ['Cannot connect', 'The server could not be reached. Check your connection and try again.', 'Try again'],
  invalid: ['Meeting not found', 'This meeting link is not valid.', null],
  denied: ['You were not let in', 'A moderator declined your request to join.', null],
  locked: ['This meeting is locked', 'This meeting is locked. Nobody new can join right now.', 'Try again'],
  lobby_full: ['The waiting room is full', 'Too many people are waiting to join. Try again in a little while.', 'Try again'],
  expired: ['Nobody let you in', 'Nobody let you in in time.', 'Knock again'],
  removed: ['You were removed', 'You were removed from the meeting.', null],
  ended: ['The meeting has ended', 'A moderator ended the meeting, or its room expired, was deleted or got new links.', null],
  wrong_moderator_secret: ['This moderator link is not valid', 'The moderator part of this link is wrong or no longer valid. You can ask to join as a participant instead.', 'Join as participant'],
  // End-to-end encryption (fail closed: no way in without it).
  link_incomplete: ['This link is incomplete', "This link is incomplete: it lacks the part after #, which holds the meeting's encryption key. Ask the person who invited you for the complete link.", null],
  link_invalid: ['This link is damaged', "This link is damaged: the part after #, which holds the meeting's encryption key, is not valid. Ask the person who invited you for the complete link.", null],
  e2ee_unsupported: ['This browser cannot join', 'This meeting is end-to-end encrypted, and this browser cannot encrypt audio and video. Join with a current version of Firefox, Chrome, Edge or Safari.', null],
  // These three go back to the pre-join screen; the texts are for #meeting-error.
  password_required: ['Password needed', 'This meeting is protected by a password', null],
  wrong_password: ['Wrong password', 'Wrong password', null],
  too_many_attempts: ['Too many attempts', 'Too many wrong attempts. Try again later.', null],
};

/** setErrorCode writes the reason and its text into #meeting-error (it stays hidden). */
export function setErrorCode(kind, text) {
  const box = $('#meeting-error');
  box.textContent = text;
  box.dataset.code = kind;
}

export function clearErrorCode() {
  const box = $('#meeting-error');
  box.textContent = '';
  box.hidden = true;
  delete box.dataset.code;
}

/** showErrorScreen fills the status screen for a reason; returns the reason shown. */
export function showErrorScreen(kind) {
  const known = FATAL[kind] ? kind : 'disconnected';
  const [title, text, again] = FATAL[known];
  $('#status-title').textContent = title;
  $('#status-text').textContent = '';
  setErrorCode(known, text);
  $('#meeting-error').hidden = false;
  const button = $('#btn-rejoin');
  button.hidden = !again;
  if (again) button.textContent = again;
  return known;
}

/** showLeftScreen fills the status screen after leaving the meeting or the waiting room. */
export function showLeftScreen(fromLobby) {
  $('#status-title').textContent = fromLobby ? 'You left the waiting room' : 'You left the meeting';
  $('#status-text').textContent = 'Nothing of this meeting is kept on this device.';
  clearErrorCode();
  $('#btn-rejoin').hidden = false;
  $('#btn-rejoin').textContent = fromLobby ? 'Knock again' : 'Rejoin';
}
