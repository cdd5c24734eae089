// The Session's ui (session.js): what the page does when its session says something —
// it can resume, it dropped, it is waiting or joined, it failed, it was sent back, the
// roster, the own role or the settings changed, a moderator's command came. meeting.js
// makes one for each Session it starts (join) and passes its parts and the functions
// that write its state; currentName and currentPassword read the name and the meeting
// password the page holds when a callback runs, as the callbacks read them in join.

import { onFailed } from './meeting-failed.js';
import { SENT_BACK } from './lobby.js';

export function sessionUI({
  reconnect, held, applyRole, roster, onJoined, onLobby, lobbyScreen, showError, setState, prejoin, reknock,
  showLeft, stopped, forgetModeratorSecret, join, banner, rules, settingsPanel, renderLock, waitingRoom,
  modctl, speaking, currentName, currentPassword,
}) {
  return {
    resumable: (id, secret) => reconnect.remember(id, secret),
    // Reconnecting: the meeting screen stays under the overlay, which stops the mouse
    // but not the keyboard; no session is joined, so no moderator control is offered
    // (applyRole) until the welcome of the resume. Who was there stays in view
    // meanwhile, marked as not current (held-roster.js).
    dropped: (people) => {
      const resuming = reconnect.dropped();
      if (resuming) {
        held.hold(people);
        applyRole();
      }
      return resuming;
    },
    mediaFailed: (s, how) => reconnect.mediaFailed(s, how),
    e2eeChanged: roster.renderE2EE,
    joined: onJoined,
    lobby: onLobby,
    lobbyLink: (verdict) => lobbyScreen.setLink(verdict),
    failed: (kind, info) => onFailed(kind, info, { reconnect, showError, setState, lobbyScreen, prejoin, password: currentPassword() }),
    // A waiting person's link dropped: knock again (reknock.js) from the waiting screen.
    waitingDropped: (kind) => document.body.dataset.state === 'lobby' && reknock.dropped(kind),
    left: showLeft,
    sentToLobby: () => {
      stopped();
      // Sent back, the person waits to be let in again, as a participant: knocking
      // with the moderator link's secret skipped the waiting room, and a moderator
      // another moderator sent back was in the meeting again, a moderator, a second
      // later. The tab forgets the secret (the link itself still works).
      forgetModeratorSecret();
      settingsPanel.sentBack(); // a change of the password under way is no news to a participant
      join(currentName(), { again: true, note: SENT_BACK });
    },
    banner,
    rosterChanged: roster.renderRoster,
    roleChanged: (old, now) => rules.roleChanged(old, now),
    settingsChanged: (old, now, ref, changed) => {
      rules.settingsChanged(old, now, changed, ref);
      settingsPanel.confirmed(ref);
      renderLock();
    },
    waitingChanged: (list) => waitingRoom.update(list),
    accessAttempts: (count) => settingsPanel.showAttempts(count),
    mediaCommand: (command, by, all) => rules.mediaCommand(command, all, by),
    attachSignaling: (sig) => {
      modctl.attach(sig);
      speaking.attach(sig);
    },
    refused: (code, type, ref) => rules.refused(code, type, ref),
  };
}
