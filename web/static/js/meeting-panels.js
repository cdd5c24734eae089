// The meeting's side panels (chat, people, the waiting room, settings, devices): one is
// open at a time, its button pressed and the focus in it; closed, the focus goes back to
// what opened it. Which panel is open is known here only (openName); meeting.js asks.

import { $ } from './dom.js';
import { closePeopleMenu } from './people.js';

export const PANELS = {
  chat: { panel: '#chat-panel', button: '#btn-chat', focus: '#chat-input' },
  people: { panel: '#people-panel', button: '#btn-people', focus: '#people-close' },
  waiting: { panel: '#waiting-panel', button: '#btn-waiting', focus: '#waiting-close' },
  settings: { panel: '#settings-panel', button: '#btn-settings', focus: '#settings-close' },
  devices: { panel: '#devices-panel', button: '#btn-devices', focus: '#devices-close' },
};

/**
 * meetingPanels opens and closes the panels. currentSession is the page's current
 * Session (or null), renderPeopleList draws the people list (meeting-roster.js).
 */
export function meetingPanels({ grid, chat, panelCover, waitingRoom, settingsPanel, devices, isModerator, currentSession, renderPeopleList }) {
  let openPanelName = null;

  function openPanel(which) {
    if ((which === 'waiting' || which === 'settings') && !isModerator()) which = null;
    openPanelName = which;
    const opener = document.activeElement;
    for (const [name, p] of Object.entries(PANELS)) {
      const open = name === which;
      $(p.panel).hidden = !open;
      const button = $(p.button);
      button.setAttribute('aria-pressed', String(open));
      if (name !== 'people') button.classList.toggle('active', open);
    }
    panelCover.show(which ? $(PANELS[which].panel) : null, opener);
    document.body.classList.toggle('panel-open', !!which);
    chat.setOpen(which === 'chat');
    if (which !== 'people') closePeopleMenu();
    if (which === 'people') renderPeopleList();
    waitingRoom.render(); // the knock card hides while the waiting room is open
    const session = currentSession();
    if (which === 'settings' && session) settingsPanel.render(session.settings, session.settingsRevision);
    if (which === 'devices') devices.panel.fill();
    if (which) {
      const target = $(PANELS[which].focus);
      if (target && !target.disabled) target.focus();
      else $(`${PANELS[which].panel} .icon-btn`).focus();
    }
    grid.layout();
  }

  function togglePanel(which) {
    const opening = $(PANELS[which].panel).hidden;
    const opener = panelCover.opener;
    openPanel(opening ? which : null);
    // Closed (its button, its close button, Escape): the focus goes back to what opened
    // it (e.g. the raised-hands chip), else to the panel's button.
    if (!opening) panelCover.returnFocus(opener, $(PANELS[which].button));
  }

  return { openPanel, togglePanel, openName: () => openPanelName };
}
