// What the page does when its connection drops: a person in the meeting resumes the
// stay (reconnect.js), one in the waiting room knocks again (reknock.js), and each gives
// up to the screen it ends on. The screens, the Session and the name stay meeting.js's:
// join knocks or resumes, currentName and currentSession read them when called.

import { announce } from './dom.js';
import { t } from './i18n.js';
import { Reconnect } from './reconnect.js';
import { Reknock } from './reknock.js';

export function meetingDrops({
  join, currentName, currentSession, stopped, media, controls, lobbyScreen, startPrejoin, showError, setState,
}) {
  const reconnect = new Reconnect({
    attempt: (resume, { openTimeoutMs } = {}) =>
      join(currentName() || reconnect.storedName(), { resume, openTimeoutMs }),
    giveUp: () => {
      // The grace period is over (or the server stayed away): knock again from here.
      stopped();
      const session = currentSession();
      if ((session && session.name) || currentName()) {
        media.stopAll();
        showError('disconnected');
      } else {
        setState('prejoin'); // after a reload the name is not known: ask for it
        startPrejoin();
      }
    },
    // A screen share kept across the drop, when no resume brings it back (or at Leave).
    release: () => {
      if (!media.screenTrack) return;
      media.stopScreen();
      controls.render();
    },
  });
  const reknock = new Reknock({
    knock: () => join(currentName(), { reknock: true }),
    showing: (on) => {
      if (on) {
        document.body.dataset.reknocking = 'true';
        lobbyScreen.show({ name: currentName(), note: 'lobby.reknocking' });
        announce(t('lobby.reknocking'));
      } else {
        delete document.body.dataset.reknocking;
      }
    },
    // The server stayed away for the whole time: "Disconnected", with Rejoin.
    giveUp: () => {
      media.stopAll();
      showError('disconnected');
    },
  });
  return { reconnect, reknock };
}
