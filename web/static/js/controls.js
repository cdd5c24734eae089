// The device controls of the meeting: microphone, camera and screen share.
// Mute keeps the microphone track and disables it; camera off stops the camera
// (its light goes off) and sends no track; a screen share renegotiates.
// A moderator's mute, camera-off and stop-share arrive through the force* methods;
// the meeting's rules (may this person unmute, share the screen?) come in as
// callbacks, the server enforces them.

import { $, toast, announce } from './dom.js';
import { toggleButton } from './prejoin.js';
import { describeMediaError } from './media.js';

export const MUTED_BY_MODERATOR = 'A moderator muted you; you can unmute when asked.';
export const CAMERA_OFF_BY_MODERATOR = 'A moderator turned off your camera; you can turn it on when asked.';
const SCREEN_NOT_ALLOWED = 'Only presenters and moderators may share their screen in this meeting.';

export class Controls {
  /**
   * @param {{media: LocalMedia, grid: Grid, session: () => Session|null,
   *          canUnmute?: () => boolean, unmuted?: () => void, canCameraOn?: () => boolean,
   *          cameraBack?: () => void, onRender?: () => void}} opts
   */
  constructor({ media, grid, session, canUnmute = () => true, unmuted = () => {},
    canCameraOn = () => true, cameraBack = () => {}, onRender = () => {} }) {
    this.media = media;
    this.grid = grid;
    this.session = session;
    this.canUnmute = canUnmute;
    this.unmuted = unmuted;
    this.canCameraOn = canCameraOn;
    this.cameraBack = cameraBack;
    this.onRender = onRender;
    // One operation at a time per control. A click while that control is busy
    // is ignored; internal calls (the browser ending a screen share) queue.
    this.ops = { mic: Promise.resolve(), camera: Promise.resolve(), screen: Promise.resolve() };
    this.pending = { mic: 0, camera: 0, screen: 0 };
  }

  toggleMic() {
    return this._run('mic', async () => {
      const { media } = this;
      const s = this._live();
      if (!media.micOn && !this.canUnmute()) {
        toast(MUTED_BY_MODERATOR, { kind: 'error' });
        return;
      }
      if (!media.micTrack) {
        try {
          const track = await media.startMic();
          media.setMicMuted(false);
          if (s && s.publisher) await s.publisher.replaceTrack('microphone', track);
          if (s && s.speaker) s.speaker.add('self', s.participantId, track);
        } catch (err) {
          toast(describeMediaError(err, 'microphone'), { kind: 'error' });
          return;
        }
      } else {
        media.setMicMuted(!media.micMuted);
      }
      if (media.micOn) this.unmuted();
      announce(media.micOn ? 'Microphone on' : 'Microphone off');
      this._changed();
    });
  }

  /** forceMicOff mutes the microphone (a moderator's mute, or a refused unmute). */
  forceMicOff() {
    return this._run('mic', async () => {
      if (!this.media.micOn) return;
      this.media.setMicMuted(true);
      announce('Microphone off');
      this._changed();
    }, { queue: true });
  }

  /** forceCameraOff turns the camera off (a moderator's request). */
  forceCameraOff() {
    return this._run('camera', async () => {
      if (!this.media.cameraOn) return;
      const s = this._live();
      if (s && s.publisher) await s.publisher.replaceTrack('camera', null);
      this.media.stopCamera();
      announce('Camera off');
      this._changed();
    }, { queue: true });
  }

  /** forceScreenOff stops a screen share (a moderator's request, or the permission ended). */
  forceScreenOff() {
    return this._run('screen', () => this._stopScreen(), { queue: true });
  }

  toggleCamera() {
    return this._run('camera', async () => {
      const { media } = this;
      const s = this._live();
      if (media.cameraOn) {
        if (s && s.publisher) await s.publisher.replaceTrack('camera', null);
        media.stopCamera();
      } else {
        if (!this.canCameraOn()) {
          toast(CAMERA_OFF_BY_MODERATOR, { kind: 'error' });
          return;
        }
        try {
          const track = await media.startCamera();
          if (s && s.publisher) await s.publisher.replaceTrack('camera', track);
          this.cameraBack();
        } catch (err) {
          toast(describeMediaError(err, 'camera'), { kind: 'error' });
          return;
        }
      }
      announce(media.cameraOn ? 'Camera on' : 'Camera off');
      this._changed();
    });
  }

  /** restartCamera reopens a camera that is on (background blur switched) and sends the new track. */
  restartCamera() {
    return this._run('camera', async () => {
      if (!this.media.cameraOn) return;
      const s = this._live();
      try {
        const track = await this.media.startCamera();
        if (s && s.publisher) await s.publisher.replaceTrack('camera', track);
      } catch (err) {
        // The camera is off now (blur.js stops it when blur cannot run): send nothing.
        if (s && s.publisher) await s.publisher.replaceTrack('camera', null).catch(() => {});
        toast(describeMediaError(err, 'camera'), { kind: 'error' });
      }
      this._changed();
    }, { queue: true });
  }

  toggleScreen() {
    return this._run('screen', () => (this.media.screenOn ? this._stopScreen() : this._startScreen()));
  }

  /** render shows the state of the devices on the control bar. */
  render() {
    const { media } = this;
    toggleButton($('#btn-mic'), media.micOn, media.micOn ? 'mic' : 'mic-off',
      media.micOn ? 'Turn off microphone' : 'Turn on microphone');
    toggleButton($('#btn-camera'), media.cameraOn, media.cameraOn ? 'camera' : 'camera-off',
      media.cameraOn ? 'Turn off camera' : 'Turn on camera');
    $('#btn-mic').title += ' (Ctrl+D)';
    $('#btn-camera').title += ' (Ctrl+E)';
    const screen = $('#btn-screen');
    const s = this._live();
    const allowed = media.screenOn || !s || !s.joined || s.canShareScreen;
    const label = media.screenOn ? 'Stop sharing your screen'
      : allowed ? 'Share your screen' : 'Only presenters and moderators may share their screen';
    screen.setAttribute('aria-pressed', media.screenOn ? 'true' : 'false');
    screen.setAttribute('aria-label', label);
    screen.title = label;
    screen.classList.toggle('active', media.screenOn);
    screen.hidden = !media.screenSupported;
    screen.disabled = !allowed;
    for (const key of ['mic', 'camera', 'screen']) {
      $(`#btn-${key}`).setAttribute('aria-busy', String(this.pending[key] > 0));
    }
    this.onRender();
  }

  async _startScreen() {
    const s = this._live();
    if (!s || !s.joined) return;
    // Right after joining an encrypted meeting the publisher waits for the E2EE worker.
    const publisher = s.publisher || await s.whenPublishing();
    if (!publisher || s.ended) {
      toast('Screen sharing is not available right now.', { kind: 'error' });
      return;
    }
    if (!s.canShareScreen) {
      toast(SCREEN_NOT_ALLOWED, { kind: 'error' });
      return;
    }
    let track;
    try {
      track = await this.media.startScreen();
    } catch (err) {
      if (err && err.name !== 'NotAllowedError' && err.name !== 'AbortError') {
        toast('Screen sharing could not be started.', { kind: 'error' });
      }
      return;
    }
    // The browser's own "Stop sharing" ends the track.
    track.addEventListener('ended', () => {
      if (this.media.screenTrack === track) this._run('screen', () => this._stopScreen(), { queue: true });
    });
    this.grid.ensure({ participantId: s.participantId, source: 'screen', self: true, name: s.name }).setTrack(track);
    try {
      await publisher.startScreen(track);
    } catch (err) {
      if (err && err.code === 'not_allowed') {
        toast(SCREEN_NOT_ALLOWED, { kind: 'error' });
      } else {
        console.warn('conclave: screen share negotiation failed', err && err.message);
        toast('Screen sharing could not be started.', { kind: 'error' });
      }
      this.media.stopScreen();
      this.grid.remove(s.participantId, 'screen');
      // Leave no sending screen transceiver behind for the next offer.
      await publisher.stopScreen().catch(() => {});
      return;
    }
    announce('You are sharing your screen');
    this._changed();
  }

  async _stopScreen() {
    if (!this.media.screenTrack) return;
    const s = this._live();
    this.media.stopScreen();
    if (s) this.grid.remove(s.participantId, 'screen');
    this._changed();
    if (s && s.publisher) {
      await s.publisher.stopScreen()
        .catch((err) => console.warn('conclave: stopping the screen share failed', err && err.message));
    }
    announce('Screen sharing stopped');
  }

  _live() {
    const s = this.session();
    return s && !s.ended ? s : null;
  }

  _changed() {
    const s = this._live();
    if (s) s.sendMediaState();
    this.render();
  }

  _run(key, fn, { queue = false } = {}) {
    if (this.pending[key] && !queue) return this.ops[key];
    this.pending[key]++;
    this.render();
    this.ops[key] = this.ops[key]
      .then(fn)
      .catch((err) => console.warn(`conclave: ${key} operation failed`, err && err.message))
      .finally(() => {
        this.pending[key]--;
        this.render();
      });
    return this.ops[key];
  }
}
