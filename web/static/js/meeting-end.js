// How the page's stay in a meeting stops: stopped takes off the meeting screen what
// belonged to the meeting, before the screen that follows (left, an error, the waiting
// room again), and leave is the Leave button. The screens and the page's state stay
// meeting.js's (showLeft, showError); currentTimer and currentSession read the meeting
// timer and the Session the page holds when called.

import { $, clearToasts, forgetAnnouncements } from './dom.js';
import { closeConfirm } from './confirm.js';

export function meetingEnd({
  held, roster, presence, media, rules, panels, waitingRoom, e2eeStatus, selfLinkWarning, banner,
  lobbyScreen, prejoin, reconnect, showLeft, currentTimer, currentSession,
}) {
  function stopped() {
    const timer = currentTimer();
    clearInterval(timer);
    held.forget(); // a resume given up: nothing of the meeting stays in view
    roster.renderRoster();
    // News of the meeting waiting to be said (dom.js announce holds each text a moment)
    // is not said over the screen that follows (left, ended, the waiting room again).
    forgetAnnouncements();
    presence.end(); // nor shown: the toasts of who joined and left close (a resume keeps them)
    media.stopScreen(); // a share kept for a resume that did not come (Session.end keepScreen)
    $('#invite-card').hidden = true;
    rules.reset();
    closeConfirm();
    // Any other modal dialog too (the keyboard shortcuts): left open over the screen that
    // follows, it kept the rest of the page inert, and that screen's title could not take
    // the focus it is read from (showError, showLeft): a removal was never said.
    for (const dialog of document.querySelectorAll('dialog[open]')) dialog.close();
    panels.openPanel(null);
    waitingRoom.setEnabled(false);
    e2eeStatus.render(null);
    selfLinkWarning.render(null);
    banner(null);
    $('#btn-enable-audio').hidden = true;
    $('#meeting-locked').hidden = true;
    lobbyScreen.hide();
    prejoin.stop();
    // Nor the other toasts (a refusal, a hand lowered, "Password saved"), each shown at
    // once in its live region: the screen that follows says what happened, and only
    // what it shows from here on is its own. Last, so that none of the above leaves one.
    clearToasts();
  }

  /**
   * leave is the Leave button (meeting or waiting room). The tab's storage forgets the
   * meeting as it is pressed, not once the server has answered (up to 1.5 s): a tab
   * closed meanwhile would otherwise keep it, the moderator secret too (showLeft).
   */
  function leave() {
    const session = currentSession();
    if (!session) return;
    reconnect.left(); // stops reconnecting too
    if (session.ended) { // between two attempts to reconnect or knock again: nothing to say goodbye on
      // The session that dropped kept the camera and microphone for the next attempt;
      // nothing comes after Leave (the "You left" screen had the camera's light on).
      media.stopAll();
      showLeft();
      return;
    }
    session.leave();
  }

  return { stopped, leave };
}
