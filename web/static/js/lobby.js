// The waiting screen (state "lobby"): the own camera preview, where the knock
// stands, and a way out. Nothing of the meeting is shown here: the server sends a
// waiting person no roster, media or chat.
//
// Test hooks: #lobby-status (its text) with data-moderator-present="true|false"
// (absent while the knock is on its way), #lobby-note, #lobby-leave, #lobby-link
// (shown when the moderators' lobby keys say this link is probably wrong;
// data-link="verified|wrong" once they said anything, e2ee/FORMAT.md "Lobby keys").
//
// What a screen reader is given on arrival is the focused heading (#lobby-title), "You're
// in the waiting room", described by the note and the status below it (meeting.html
// aria-describedby): "…, No moderator is here yet. …" or "…, Waiting for a moderator to let
// you in", as the server said (the lobby message's moderatorPresent). It is said once: the
// status is no live region and nothing is announced besides, where the page said the
// arrival three times (an announcement that a moderator will let the person in, true or
// not, the heading, and the status region). A change of the status after that (a
// moderator came or went, the server's answer to a knock from the waiting screen) is news,
// announced once (setStatus).

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
    // The status key the person was last given (the focused heading's description, or
    // an announcement once written to the live region); '' until the screen is entered,
    // and nothing is announced then.
    this.told = '';
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

  /**
   * enter shows the screen to a person who comes to it (note: a key, why; moderatorPresent:
   * the server's answer, null while the knock is on its way) and puts the focus on its
   * heading, which a screen reader reads with the note and the status as its description:
   * the button that had the focus went with the screen before.
   */
  enter({ name, note = '', moderatorPresent = null }) {
    this.told = ''; // a new arrival: nothing of this screen was said yet
    this.show({ name, note });
    this.setStatus(moderatorPresent);
    this.told = this.status.dataset.i18n;
    $('#lobby-title').focus();
  }

  /**
   * setStatus shows the last `lobby` message (null: the knock is on its way). A status
   * other than the one the person was last given is announced: a moderator came or went;
   * one who came and went before that was said leaves nothing to say. "On its way" never is (a knock again after a drop says so itself).
   */
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
    if (moderatorPresent !== null && this.told && this.told !== text) {
      // Withdrawn if the status moved on before it was said (a moderator who came and
      // went): back where the person was told, nothing is news, and nothing is said.
      announce(t(text), { topic: 'lobby-status', holds: () => this._heard(text) });
    }
  }

  /** _heard: status text still holds as it is written to the live region, now what the person was told. */
  _heard(text) {
    if (!this.shown || !this.told || this.status.dataset.i18n !== text) return false;
    this.told = text;
    return true;
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
    this.told = '';
    this.video.srcObject = null;
  }
}
