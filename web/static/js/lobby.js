// The waiting screen (state "lobby"): the own camera preview, where the knock
// stands, and a way out. Nothing of the meeting is shown here: the server sends a
// waiting person no roster, media or chat.
//
// Test hooks: #lobby-status (its text) with data-moderator-present="true|false"
// (absent while the knock is on its way), #lobby-note, #lobby-leave, #lobby-link
// (shown when the moderators' lobby keys say this link is probably wrong;
// data-link="verified|wrong" once they said anything, e2ee/FORMAT.md "Lobby keys").

import { $, initials, announce } from './dom.js';
import { toggleButton } from './prejoin.js';
import { setText, t } from './i18n.js';

/** SENT_BACK: the note of a waiting screen that a moderator sent the person back to. */
export const SENT_BACK = 'lobby.sent-back';

export const LOBBY_TEXT = {
  knocking: 'lobby.knocking',
  waiting: 'lobby.waiting',
  noModerator: 'lobby.no-moderator',
};

export class LobbyScreen {
  /**
   * @param {LocalMedia} media
   * @param {{leave(), toggleMic(), toggleCamera()}} actions
   */
  constructor(media, { leave, toggleMic, toggleCamera }) {
    this.media = media;
    this.video = $('#lobby-video');
    this.status = $('#lobby-status');
    this.note = $('#lobby-note');
    this.shown = false;
    $('#lobby-leave').addEventListener('click', () => leave());
    $('#lobby-mic').addEventListener('click', () => toggleMic());
    $('#lobby-camera').addEventListener('click', () => toggleCamera());
  }

  /** show prepares the screen for a new knock; note (a key) is shown above the status. */
  show({ name, note = '' }) {
    this.shown = true;
    this.shownNote = note;
    if (note) setText(this.note, note);
    else { delete this.note.dataset.i18n; this.note.textContent = ''; }
    this.note.hidden = !note;
    $('#lobby-name').textContent = name;
    $('#lobby-avatar').textContent = initials(name);
    this.setStatus(null);
    this.setLink(null);
    this.render();
  }

  /** setLink shows what the moderators' lobby keys say of this link: 'verified', 'wrong' or null (nothing). */
  setLink(verdict) {
    const link = $('#lobby-link');
    if (verdict) link.dataset.link = verdict;
    else delete link.dataset.link;
    link.hidden = verdict !== 'wrong';
  }

  /** setStatus shows the last `lobby` message (null: the knock is on its way). */
  setStatus(moderatorPresent) {
    let text = LOBBY_TEXT.knocking;
    if (moderatorPresent === null) {
      delete this.status.dataset.moderatorPresent;
    } else {
      text = moderatorPresent ? LOBBY_TEXT.waiting : LOBBY_TEXT.noModerator;
      this.status.dataset.moderatorPresent = moderatorPresent ? 'true' : 'false';
    }
    if (this.status.dataset.i18n !== text) setText(this.status, text);
    $('#lobby').classList.toggle('no-moderator', moderatorPresent === false);
  }

  /** render brings the preview and the toggles in line with the devices. */
  render() {
    if (!this.shown) return;
    const { media } = this;
    const track = media.cameraTrack;
    const current = this.video.srcObject && this.video.srcObject.getVideoTracks()[0];
    if (track !== current) {
      this.video.srcObject = track ? new MediaStream([track]) : null;
      if (track) this.video.play().catch(() => {});
    }
    $('#lobby-video-off').hidden = media.cameraOn;
    toggleButton($('#lobby-mic'), media.micOn, media.micOn ? 'mic' : 'mic-off', 'controls.mic.label', media.micOn ? 'controls.mic.turn-off' : 'controls.mic.turn-on');
    toggleButton($('#lobby-camera'), media.cameraOn, media.cameraOn ? 'camera' : 'camera-off', 'controls.camera.label', media.cameraOn ? 'controls.camera.turn-off' : 'controls.camera.turn-on');
  }

  /** sentBack: the screen shows that a moderator sent the person back (SENT_BACK). */
  sentBack() {
    return this.shownNote === SENT_BACK;
  }

  /** hide stops the preview (the tracks live on). */
  hide() {
    this.shown = false;
    this.video.srcObject = null;
  }
}

/**
 * enteredLobby tells a screen reader where the person is now (note: the key of why, e.g.
 * sent back by a moderator) and puts the focus on the waiting screen's heading: the
 * button that had it went with the screen before.
 */
export function enteredLobby(note = '') {
  announce(note ? `${t(note)} ${t('lobby.announce')}` : t('lobby.announce'));
  $('#lobby-title').focus();
}
