// The meeting page's first steps once main() has made its parts: a meeting id, a link
// key or a browser that cannot work shows its error at once, before anyone knocks; else
// the server is asked whether the meeting exists, and a reload of an admitted
// participant resumes (reconnect.js) where anyone else gets the pre-join screen.

import { $, meetingIdPattern } from './dom.js';
import { fillNoticeLine } from './notice.js';
import { meetingExists } from './meeting-link.js';

export async function startPage({
  meetingId, secretInvalid, meetingSecret, api, params, media, controls, reconnect, prejoin, showError, setState,
}) {
  if (!meetingIdPattern.test(meetingId)) {
    showError('invalid');
    return;
  }
  // Fail closed before anyone knocks: a damaged key, or a browser that cannot encrypt
  // (a link with a key is for an end-to-end encrypted meeting).
  if (secretInvalid) {
    showError('link_invalid');
    return;
  }
  if (meetingSecret && !api) {
    showError('e2ee_unsupported');
    return;
  }
  $('#prejoin-e2ee').hidden = !meetingSecret;
  fillNoticeLine($('#prejoin-notice'));
  fillNoticeLine($('#lobby-notice'));

  // Ask whether the meeting exists before asking for a name or the camera.
  const exists = await meetingExists(meetingId);
  if (exists === false) {
    showError('unknown_meeting');
    return;
  }
  controls.render();
  if (reconnect.stored()) {
    // A reload of an admitted participant: the same membership, no knock, and the
    // microphone and camera as they were before it (reconnect.js keeps that for the tab).
    const was = reconnect.storedMedia() || { mic: params.get('mic') !== '0', camera: params.get('camera') !== '0' };
    await media.acquire(was);
    controls.render();
    reconnect.start();
    return;
  }
  setState('prejoin');
  prejoin.start();
  $('#prejoin-name').focus();
}
