// The meeting screen's own buttons and keys: the microphone, camera and screen buttons,
// the panels' buttons, Leave and Rejoin, the audio a browser blocked, Escape and the
// Ctrl/⌘ shortcuts, and what the page says as it goes away. openPanelName and
// currentSession are read when used (meeting-panels.js, meeting.js).

import { $ } from './dom.js';
import { PANELS } from './meeting-panels.js';

export function bindControls({ controls, togglePanel, openPanelName, leave, rejoin, reconnect, currentSession }) {
  $('#btn-mic').addEventListener('click', () => controls.toggleMic());
  $('#btn-camera').addEventListener('click', () => controls.toggleCamera());
  $('#btn-screen').addEventListener('click', () => controls.toggleScreen());
  for (const name of Object.keys(PANELS)) {
    $(PANELS[name].button).addEventListener('click', () => togglePanel(name));
    $(`${PANELS[name].panel} .panel-head .icon-btn`).addEventListener('click', () => togglePanel(name));
  }
  $('#btn-leave').addEventListener('click', leave);
  $('#btn-rejoin').addEventListener('click', rejoin);
  $('#btn-enable-audio').addEventListener('click', () => {
    $('#btn-enable-audio').hidden = true;
    for (const audio of document.querySelectorAll('#audio-sink audio')) audio.play().catch(() => {});
  });
  document.addEventListener('keydown', (event) => {
    if (document.body.dataset.state !== 'joined') return;
    // Escape in a dialog (a confirmation, the shortcuts) closes that dialog only.
    if (event.key === 'Escape' && openPanelName() && !document.querySelector('dialog[open]')) {
      togglePanel(openPanelName());
      return;
    }
    const mod = (event.ctrlKey || event.metaKey) && !event.altKey && !event.shiftKey;
    const key = event.key.toLowerCase();
    if (mod && key === 'd') {
      event.preventDefault();
      controls.toggleMic();
    } else if (mod && key === 'e') {
      event.preventDefault();
      controls.toggleCamera();
    }
  });
  window.addEventListener('pagehide', () => {
    reconnect.pageHidden();
    // A member says no goodbye, so that a reload resumes (reconnect.js); a knock leaves.
    const session = currentSession();
    if (session && !session.ended && session.sig && !session.sig.closed && !session.joined) session.sig.send('leave');
  });
}
