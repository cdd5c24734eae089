// What the page does when a knock or a session fails for good: an error screen, or for
// a password asked, wrong or guessed too often, the pre-join screen again with the
// password field. password is the meeting password the page holds (meeting.js).

import { announce, clearToasts, forgetAnnouncements, toast } from './dom.js';
import { t } from './i18n.js';
import { AUTH_CODES } from './session.js';
import { FATAL, offersRejoin, setErrorCode } from './status.js';
import { keepModeratorSecret } from './meeting-link.js';

/** The page's states (body data-state) of the pre-join screen: asked to join, or joining. */
const FROM_PREJOIN = new Set(['prejoin', 'joining']);

export function onFailed(kind, info = {}, { reconnect, showError, setState, lobbyScreen, prejoin, password }) {
  // The server answers a wrong moderator secret with its own code; a moderator secret
  // makes the password unnecessary, so wrong_password with a secret cannot happen.
  const code = kind;
  if (reconnect.failed(code)) return;
  reconnect.forget();
  if (!AUTH_CODES.has(code)) {
    // A screen with no way back (ended, removed, denied …) needs the moderator secret
    // no more: as after Leave, the tab's storage forgets it (the browser writes it to
    // disk and gives it back to a reopened tab, which joined the room's next meeting as
    // a moderator). A screen with Rejoin keeps it; rejoin keeps it from memory anyway.
    if (FATAL[code] && !offersRejoin(code)) keepModeratorSecret(null);
    showError(code);
    return;
  }
  // Back to the pre-join screen, the camera still on, with the password field.
  const seconds = Math.max(1, Math.ceil((info.retryAfterMs || 0) / 1000));
  let message = ''; // a function making the text (again after a language switch)
  let countdown = null;
  let errorText = [FATAL[code][1]];
  if (code === 'wrong_password') {
    message = () => t('status.wrong-password');
  } else if (code === 'too_many_attempts') {
    const text = (s) => (info.lockedOut
      ? ['prejoin.locked-minutes', { count: Math.ceil(s / 60) }]
      : ['prejoin.locked-seconds', { count: s }]);
    countdown = (s) => t(...text(s));
    message = () => countdown(seconds);
    errorText = text(seconds);
  }
  setErrorCode(code, ...errorText);
  // Come from the waiting room (sent back, or knocking again after a drop, and the
  // password changed meanwhile), what its page showed and had still to say is no news
  // over the pre-join screen, as at a bye (meeting-end.js stopped): its toasts go, out
  // of their live regions too, and what waited to be announced. Come from the pre-join
  // screen itself (Join pressed), its own toasts stay: a microphone that could not be
  // started is news of that screen, shown a moment before, and still true.
  // Why the person left the meeting is still news, though: sent back by a moderator,
  // whose page then asked for a password (a moderator who came in by the moderator
  // link and never typed the meeting's, or a password changed meanwhile), the waiting
  // screen that said so was gone within a moment, and what it was about to say with it.
  // The pre-join screen alone asked for a password with no word of why the meeting was
  // left. A toast says it (read out by its live region: not announced too).
  if (!FROM_PREJOIN.has(document.body.dataset.state)) {
    const sentBack = lobbyScreen.sentBack();
    clearToasts();
    forgetAnnouncements();
    if (sentBack) toast(t('lobby.sent-back'), { timeout: 8000 });
  }
  lobbyScreen.hide();
  setState('prejoin');
  prejoin.resume();
  prejoin.askPassword({
    message,
    lockMs: code === 'too_many_attempts' ? seconds * 1000 : 0,
    countdown,
    // Throttled guesses at a moderator secret alone need no password field.
    field: code !== 'too_many_attempts' || !!password || prejoin.needsPassword,
  });
  if (code === 'password_required') announce(t('prejoin.password-needed'));
}
