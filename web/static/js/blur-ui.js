// The background-blur toggles: #prejoin-blur on the pre-join preview and #btn-blur on
// the meeting's control bar (aria-pressed="true" = blur on). Both show the one choice
// kept on this device (blur.js); switching it while the camera is on reopens the camera
// through the usual path (prejoin.restartCamera, controls.restartCamera), so the new
// track reaches the preview, the own tile and the publisher's sender.

import { $ } from './dom.js';
import { setAttr } from './i18n.js';
import { setIcon } from './icons.js';
import { blurEnabled, setBlurEnabled } from './blur.js';

/**
 * bindBlurToggles wires both buttons.
 * @param {{prejoin: {restartCamera: () => Promise<void>}, controls: {restartCamera: () => Promise<void>}}} opts
 */
export function bindBlurToggles({ prejoin, controls }) {
  const prejoinBtn = $('#prejoin-blur');
  const meetingBtn = $('#btn-blur');
  let busy = false;
  const render = () => {
    const on = blurEnabled();
    renderToggle(prejoinBtn, on, busy);
    renderToggle(meetingBtn, on, busy);
  };
  const toggle = async (restart) => {
    if (busy) return; // one switch at a time; the camera is being reopened
    busy = true;
    setBlurEnabled(!blurEnabled());
    render();
    try {
      await restart();
    } finally {
      busy = false;
      render();
    }
  };
  prejoinBtn.addEventListener('click', () => toggle(() => prejoin.restartCamera()));
  meetingBtn.addEventListener('click', () => toggle(() => controls.restartCamera()));
  render();
}

function renderToggle(btn, on, busy) {
  // The name stays "Blur background", aria-pressed says whether it is on; the tooltip
  // says what a click does (WAI-ARIA APG, toggle button).
  btn.setAttribute('aria-pressed', on ? 'true' : 'false');
  btn.setAttribute('aria-busy', String(busy));
  setAttr(btn, 'aria-label', 'blur.label');
  setAttr(btn, 'title', on ? 'blur.turnOff' : 'blur.turnOn');
  btn.classList.toggle('active', on);
  const holder = btn.querySelector('.btn-icon');
  if (holder) setIcon(holder, 'blur');
}
