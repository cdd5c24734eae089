// What the meeting's rules and a moderator's commands mean for this participant:
// `media_command` (mute, camera off, stop share, a request to unmute), `settings`
// changes (chat, screen share), own role changes, and refusals (`not_allowed`).
// The server enforces every rule; this keeps the page honest about them.
//
// Test hooks: #unmute-prompt with #unmute-accept and #unmute-dismiss; refusals and
// news appear as .toast elements.

import { $, toast, announce } from './dom.js';
import { MUTED_BY_MODERATOR, CAMERA_OFF_BY_MODERATOR } from './controls.js';
import { refusalText } from './moderator.js';
import { settingsNews } from './settings.js';
import { t } from './i18n.js';

export class MeetingRules {
  /**
   * @param {{media: LocalMedia, controls: () => Controls, chat: Chat, session: () => Session|null,
   *          settingsPanel: SettingsPanel, roleApplied: () => void}} deps
   */
  constructor(deps) {
    this.deps = deps;
    // A moderator's mute (microphone or camera) holds until the settings, the role or an
    // ask_unmute lift it; the server enforces the same rule for both.
    this.mutedByModerator = false;
    this.cameraOffByModerator = false;
    this.askedToUnmute = false;
    this.askedCamera = false;
    this.prompt = $('#unmute-prompt');
    $('#unmute-accept').addEventListener('click', async () => {
      this.prompt.hidden = true;
      if (!this.deps.media.micOn) await this.deps.controls().toggleMic();
      $('#btn-mic').focus();
    });
    $('#unmute-dismiss').addEventListener('click', () => {
      this.prompt.hidden = true;
      $('#btn-mic').focus();
    });
  }

  /** reset forgets a mute and a request to unmute (a new session). */
  reset() {
    this.mutedByModerator = false;
    this.cameraOffByModerator = false;
    this.askedToUnmute = false;
    this.askedCamera = false;
    this.prompt.hidden = true;
  }

  _live() {
    const s = this.deps.session();
    return s && !s.ended && s.joined ? s : null;
  }

  /** canUnmute: may the microphone be turned on now? */
  canUnmute() {
    const s = this._live();
    if (!s || !this.mutedByModerator) return true;
    return s.settings.unmute || s.role !== 'participant' || this.askedToUnmute;
  }

  /** canCameraOn: may the camera be turned on now? The same rule as the microphone's. */
  canCameraOn() {
    const s = this._live();
    if (!s || !this.cameraOffByModerator) return true;
    return s.settings.unmute || s.role !== 'participant' || this.askedCamera;
  }

  /** unmuted: the microphone is on again, so an earlier mute is over. */
  unmuted() {
    this.mutedByModerator = false;
    this.askedToUnmute = false;
    this.prompt.hidden = true;
  }

  /** cameraBack: the camera is on again, so an earlier camera mute is over. */
  cameraBack() {
    this.cameraOffByModerator = false;
    this.askedCamera = false;
  }

  /**
   * mediaCommand carries out a moderator's command; all: it was for everyone (mute_all);
   * by: the moderator's id, '' when the server stopped a screen share itself because a
   * change of role or settings took the permission away (no moderator stopped it).
   */
  mediaCommand(command, all = false, by = null) {
    const controls = this.deps.controls();
    if (command === 'mute_microphone') {
      // After a resume the server repeats a mute that still holds: quiet when known.
      const known = this.mutedByModerator && !this.askedToUnmute && !this.deps.media.micOn;
      this.mutedByModerator = true;
      this.askedToUnmute = false;
      this.prompt.hidden = true;
      // Said once, by the microphone's news (forceMicOff), and shown by the toast.
      const news = known ? '' : t(all ? 'modctl.everyone.youWereMuted' : 'rules.muted');
      controls.forceMicOff(news);
      if (news) toast(news, { said: false });
    } else if (command === 'mute_camera') {
      const known = this.cameraOffByModerator && !this.askedCamera && !this.deps.media.cameraOn;
      this.cameraOffByModerator = true;
      this.askedCamera = false;
      const news = known ? '' : t(all ? 'modctl.everyone.yourCameraOff' : 'rules.camera-off');
      controls.forceCameraOff(news);
      if (news) toast(news, { said: false });
    } else if (command === 'stop_screen') {
      controls.forceScreenOff();
      // The server's own stop ('') follows the `settings` or role change that took the
      // permission away, and the page stopped the share and said so then
      // (settingsChanged, roleChanged): a second toast said it again. Told here only
      // when the page did not know (its rules still let it share).
      const s = this._live();
      if (by !== '') toast(t('rules.share-stopped'));
      else if (!s || s.canShareScreen) toast(t('rules.share-not-allowed'));
    } else if (command === 'ask_unmute') {
      // Never unmute by itself: the person decides. It lifts a camera mute as well.
      this.askedToUnmute = true;
      this.askedCamera = true;
      if (this.deps.media.micOn) return;
      this.prompt.hidden = false;
      announce(t('unmute.text'));
    }
  }

  /**
   * refused explains an `error` not_allowed / unknown_participant, or any refusal of
   * update_settings (ref: the refused message's id, which a new password's may be).
   */
  refused(code, type, ref = '') {
    const s = this._live();
    const said = s && s.lastMediaState;
    if (code === 'not_allowed' && type === 'media_state' && this.cameraOffByModerator && (said ? said.camera : this.deps.media.cameraOn)) {
      // The server keeps the camera off after a moderator's mute: the refused state
      // turned the camera on (the camera may be off here already, a stop that came
      // after it went out); a refusal of anything else is the microphone's.
      this.askedCamera = false;
      this.deps.controls().forceCameraOff(t(CAMERA_OFF_BY_MODERATOR));
      toast(t(CAMERA_OFF_BY_MODERATOR), { kind: 'error', said: false });
      return;
    }
    if (code === 'not_allowed' && type === 'media_state') {
      // The server keeps the microphone off after a moderator's mute.
      this.mutedByModerator = true;
      this.askedToUnmute = false;
      this.deps.controls().forceMicOff(t(MUTED_BY_MODERATOR));
      toast(t(MUTED_BY_MODERATOR), { kind: 'error', said: false });
      return;
    }
    if (type === 'update_settings' && s) this.deps.settingsPanel.render(s.settings, s.settingsRevision);
    if (type === 'update_settings' && this.deps.settingsPanel.refused(ref, code)) return;
    toast(refusalText(code, type, { moderator: !!s && s.isModerator }), { kind: 'error' });
  }

  /**
   * settingsChanged applies new settings; changed are the fields the change changed and
   * ref names this page's update_settings it answers ("" for another moderator's).
   */
  settingsChanged(old, now, changed = [], ref = '') {
    const s = this._live();
    if (!s) return;
    const { chat, media } = this.deps;
    chat.setEnabled(now.chat);
    this.deps.settingsPanel.render(now, s.settingsRevision);
    if (s.isModerator && !ref) this.deps.settingsPanel.changedByOther(changed, now);
    this.deps.controls().render();
    // A share this change ends is stopped here, and its news says so (one toast: the
    // server's stop_screen that follows says nothing more, mediaCommand).
    const ends = media.screenOn && !s.canShareScreen;
    if (!s.isModerator) {
      // Each is read out by its toast (#toasts-polite, a live region), once.
      for (const text of settingsNews(old, now, s.role, { sharing: ends })) toast(text);
    }
    if (old.chat !== now.chat) chat.notice(now.chat ? 'chat.on-again' : 'chat.turned-off', 'info');
    if (ends) this.deps.controls().forceScreenOff();
  }

  roleChanged(old, now) {
    const s = this._live();
    this.deps.roleApplied();
    if (now === 'moderator') {
      toast(t('rules.now-moderator'), { kind: 'success' });
      if (s) this.deps.settingsPanel.render(s.settings, s.settingsRevision);
    } else if (now === 'presenter') {
      toast(t(old === 'moderator'
        ? 'rules.moderator-to-presenter'
        : 'rules.now-presenter'), { kind: 'success' });
    } else {
      toast(t(old === 'moderator' ? 'rules.no-longer-moderator' : 'rules.no-longer-presenter'));
    }
    if (s && this.deps.media.screenOn && !s.canShareScreen) {
      // Said here: the server's stop_screen that follows says nothing more (mediaCommand).
      this.deps.controls().forceScreenOff();
      toast(t('rules.share-not-allowed'));
    }
  }
}
