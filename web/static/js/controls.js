// The device controls of the meeting: microphone, camera and screen share.
// Mute keeps the microphone track and disables it; camera off stops the camera
// (its light goes off) and sends no track; a screen share renegotiates.
// A moderator's mute, camera-off and stop-share arrive through the force* methods;
// the meeting's rules (may this person unmute, share the screen?) come in as
// callbacks, the server enforces them.

import { $, toast, announce } from './dom.js';
import { toggleButton } from './prejoin.js';
import { describeMediaError } from './media.js';
import { setAttr, t } from './i18n.js';

// Keys of texts that rules.js shows as well.
export const MUTED_BY_MODERATOR = 'controls.muted-by-moderator';
export const CAMERA_OFF_BY_MODERATOR = 'controls.camera-off-by-moderator';
const SCREEN_NOT_ALLOWED = 'controls.screen.not-allowed-toast';
const SCREEN_ENDED_NOT_ALLOWED = 'controls.screen.ended-not-allowed';

export class Controls {
  /**
   * @param {{media: LocalMedia, grid: Grid, session: () => Session|null,
   *          canUnmute?: () => boolean, unmuted?: () => void, canCameraOn?: () => boolean,
   *          cameraBack?: () => void, onRender?: () => void, onChanged?: () => void}} opts
   * onChanged is told after each change of the microphone, camera or screen (by the
   * person or a moderator), also while no session is live (a reconnect under way).
   */
  constructor({ media, grid, session, canUnmute = () => true, unmuted = () => {},
    canCameraOn = () => true, cameraBack = () => {}, onRender = () => {}, onChanged = () => {} }) {
    this.media = media;
    this.grid = grid;
    this.session = session;
    this.canUnmute = canUnmute;
    this.unmuted = unmuted;
    this.canCameraOn = canCameraOn;
    this.cameraBack = cameraBack;
    this.onRender = onRender;
    this.onChanged = onChanged;
    // One operation at a time per control. A click while that control is busy
    // is ignored; internal calls (the browser ending a screen share) queue.
    this.ops = { mic: Promise.resolve(), camera: Promise.resolve(), screen: Promise.resolve() };
    this.pending = { mic: 0, camera: 0, screen: 0 };
    this.screenStops = 0; // forceScreenOff calls: a stop ordered while a share is resent wins
    // A device that went away (unplugged, taken by another app): said, and shown off.
    media.watchEnded((source) => this._deviceEnded(source));
  }

  /**
   * _deviceEnded: the browser ended the microphone's or camera's track. The person is
   * told, the dead track leaves the sender and the others hear that it is off (not a
   * frozen picture, or a microphone shown on that sends nothing), and the button says
   * off, so that one click opens a device again (the chosen one, or the default).
   */
  _deviceEnded(source) {
    const key = source === 'camera' ? 'camera' : 'mic';
    return this._run(key, async () => {
      const { media } = this;
      const s = this._live();
      if (source === 'camera') {
        if (!media.cameraTrack || media.cameraOn) return; // reopened meanwhile
        if (s) await s.send('camera', null).catch(() => {});
        media.stopCamera(); // the blurred track and its work too
      } else {
        if (!media.micTrack || media.micTrack.readyState === 'live') return;
        media.stopMic();
        if (s) await s.send('microphone', null).catch(() => {});
      }
      toast(t(source === 'camera' ? 'media.camera.ended' : 'media.mic.ended'), { kind: 'error' });
      this._changed();
    }, { queue: true });
  }

  toggleMic() {
    return this._run('mic', async () => {
      const { media } = this;
      const s = this._live();
      if (!media.micOn && !this.canUnmute()) {
        toast(t(MUTED_BY_MODERATOR), { kind: 'error' });
        return;
      }
      // A track that ended (a headset unplugged, a Bluetooth link dropped) is no
      // microphone: flipping its mute flag turned nothing on, click after click.
      if (!media.micTrack || media.micTrack.readyState !== 'live') {
        try {
          const track = await media.startMic();
          if (!this.canUnmute()) {
            // A moderator muted the microphone while it opened: that mute holds.
            media.setMicMuted(true);
            return;
          }
          media.setMicMuted(false);
          if (s) await s.send('microphone', track);
          if (s && s.speaker) s.speaker.add('self', s.participantId, track);
        } catch (err) {
          toast(describeMediaError(err, 'microphone'), { kind: 'error' });
          return;
        }
      } else {
        media.setMicMuted(!media.micMuted);
      }
      if (media.micOn) this.unmuted();
      announce(t(media.micOn ? 'controls.mic.on' : 'controls.mic.off'), { topic: 'mic', own: true });
      this._changed();
    });
  }

  /**
   * forceMicOff mutes the microphone (a moderator's mute, or a refused unmute). news,
   * when given, is said in place of "Microphone off", also when the microphone was off
   * already: the caller's toast of it ("A moderator muted your microphone") is seen only,
   * where the two said one mute twice. As the microphone's own news (topic), it takes
   * the place of a "Microphone on" still waiting to be said.
   */
  forceMicOff(news = '') {
    return this._run('mic', async () => {
      if (this.media.micOn) this.media.setMicMuted(true);
      else if (!news) return;
      announce(news || t('controls.mic.off'), { topic: 'mic' });
      this._changed();
    }, { queue: true });
  }

  /** forceCameraOff turns the camera off (a moderator's request); news: as forceMicOff's. */
  forceCameraOff(news = '') {
    return this._run('camera', async () => {
      if (this.media.cameraOn) {
        const s = this._live();
        if (s) await s.send('camera', null);
        this.media.stopCamera();
      } else if (!news) return;
      announce(news || t('controls.camera.off'), { topic: 'camera' });
      this._changed();
    }, { queue: true });
  }

  /** forceScreenOff stops a screen share (a moderator's request, or the permission ended). */
  forceScreenOff() {
    this.screenStops++;
    return this._run('screen', () => this._stopScreen(), { queue: true });
  }

  /**
   * resumeScreen sends the screen share again on a resumed session (meeting.js, at its
   * welcome): the capture went on across the drop (Session.end keepScreen), so the
   * person need not pick the screen again. Nothing is sent if the browser ended the
   * share meanwhile (its own "Stop sharing") or the person stopped it; if the role or
   * the settings in the welcome no longer let the person share, the capture stops and
   * the person is told why. It goes out on a new sender of the new publish connection,
   * with its E2EE transform attached as any share's (Publisher.startScreen).
   */
  resumeScreen() {
    if (!this.media.screenTrack) return Promise.resolve();
    const stops = this.screenStops;
    return this._run('screen', () => this._resumeScreen(stops), { queue: true });
  }

  async _resumeScreen(stops) {
    const { media } = this;
    const track = media.screenTrack;
    const s = this._live();
    // Stopped meanwhile, or dropped again: the next welcome sends it.
    if (!track || !s || !s.joined) return;
    if (track.readyState !== 'live') { // ended by the browser while the page was away
      media.stopScreen();
      this._changed();
      return;
    }
    if (!s.canShareScreen) {
      media.stopScreen();
      this._changed();
      toast(t(SCREEN_ENDED_NOT_ALLOWED), { kind: 'error' }); // read out by the toast, once
      return;
    }
    const publisher = s.publisher || await s.openPublisher();
    if (media.screenTrack !== track || s.ended) return; // stopped, or dropped again
    if (!publisher) { // nothing can be sent (encryption failed)
      media.stopScreen();
      this._changed();
      toast(t('controls.screen.unavailable'), { kind: 'error' });
      return;
    }
    if (this.screenStops !== stops) return; // a moderator's stop came after the welcome: it follows
    if (!s.canShareScreen || track.readyState !== 'live') {
      // Taken away or ended while the connection opened.
      media.stopScreen();
      this._changed();
      if (track.readyState === 'live') toast(t(SCREEN_ENDED_NOT_ALLOWED), { kind: 'error' });
      return;
    }
    if (!await this._sendScreen(s, publisher, track)) return;
    if (this.screenStops !== stops) return; // the queued stop tells the others
    this._changed();
  }

  toggleCamera() {
    return this._run('camera', async () => {
      const { media } = this;
      const s = this._live();
      if (media.cameraOn) {
        if (s) await s.send('camera', null);
        media.stopCamera();
      } else {
        if (!this.canCameraOn()) {
          toast(t(CAMERA_OFF_BY_MODERATOR), { kind: 'error' });
          return;
        }
        try {
          const track = await media.startCamera();
          if (!this.canCameraOn()) {
            // A moderator turned the camera off while it opened (a prompt, a slow
            // device, blur starting): that stop holds, and it is not undone here.
            media.stopCamera();
            return;
          }
          if (s) await s.send('camera', track);
          this.cameraBack();
        } catch (err) {
          toast(describeMediaError(err, 'camera'), { kind: 'error' });
          return;
        }
      }
      announce(t(media.cameraOn ? 'controls.camera.on' : 'controls.camera.off'), { topic: 'camera', own: true });
      this._changed();
    });
  }

  /** exclusive runs fn in the queue of one control: devices.js switches a device there. */
  exclusive(key, fn) {
    return this._run(key, fn, { queue: true });
  }

  /** restartCamera reopens a camera that is on (background blur switched) and sends the new track. */
  restartCamera() {
    return this._run('camera', async () => {
      if (!this.media.cameraOn) return;
      const s = this._live();
      try {
        const track = await this.media.startCamera();
        if (s) await s.send('camera', track);
      } catch (err) {
        // The camera is off now (blur.js stops it when blur cannot run): send nothing.
        if (s) await s.send('camera', null).catch(() => {});
        toast(describeMediaError(err, 'camera'), { kind: 'error' });
      }
      this._changed();
    }, { queue: true });
  }

  /**
   * toggleScreen does what the button showed when it was clicked. The button says "not
   * sharing" as soon as a stop begins, while the renegotiation that ends the share still
   * runs: a click then means "share again" and waits its turn rather than being lost.
   * A second click before the first took effect asks for the same and changes nothing.
   */
  toggleScreen() {
    const share = !this.media.screenOn;
    return this._run('screen', () => {
      if (share === this.media.screenOn) return undefined; // already so
      return share ? this._startScreen() : this._stopScreen({ own: true });
    }, { queue: true });
  }

  /** render shows the state of the devices on the control bar. */
  render() {
    const { media } = this;
    // Each toggle keeps its name ("Microphone") and says on or off by aria-pressed alone
    // ("true" = on, sharing); the tooltip says what a click does (toggleButton).
    toggleButton($('#btn-mic'), media.micOn, media.micOn ? 'mic' : 'mic-off',
      'controls.mic.label', media.micOn ? 'controls.mic.turn-off.title' : 'controls.mic.turn-on.title');
    toggleButton($('#btn-camera'), media.cameraOn, media.cameraOn ? 'camera' : 'camera-off',
      'controls.camera.label', media.cameraOn ? 'controls.camera.turn-off.title' : 'controls.camera.turn-on.title');
    const screen = $('#btn-screen');
    const s = this._live();
    const allowed = media.screenOn || !s || !s.joined || s.canShareScreen;
    const title = media.screenOn ? 'controls.screen.stop'
      : allowed ? 'controls.screen.share' : 'controls.screen.not-allowed';
    screen.setAttribute('aria-pressed', media.screenOn ? 'true' : 'false');
    setAttr(screen, 'aria-label', 'controls.screen.label');
    // Disabled, the tooltip (the description) says why.
    setAttr(screen, 'title', title);
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
    if (!s.canShareScreen) {
      toast(t(SCREEN_NOT_ALLOWED), { kind: 'error' });
      return;
    }
    // A member who sent nothing yet has no publish connection: the share opens it. Right
    // after joining an encrypted meeting it waits for the E2EE worker.
    const publisher = s.publisher || await s.openPublisher();
    if (!publisher || s.ended) {
      toast(t('controls.screen.unavailable'), { kind: 'error' });
      return;
    }
    if (!s.canShareScreen) { // taken away while the connection opened
      toast(t(SCREEN_NOT_ALLOWED), { kind: 'error' });
      return;
    }
    let track;
    try {
      track = await this.media.startScreen();
    } catch (err) {
      if (err && err.name !== 'NotAllowedError' && err.name !== 'AbortError') {
        toast(t('controls.screen.failed'), { kind: 'error' });
      }
      return;
    }
    // The browser's own "Stop sharing" ends the track (also while a resume is under way).
    track.addEventListener('ended', () => {
      if (this.media.screenTrack === track) this._run('screen', () => this._stopScreen(), { queue: true });
    });
    if (!await this._sendScreen(s, publisher, track)) return;
    announce(t('controls.screen.sharing'), { topic: 'screen', own: true });
    this._changed();
  }

  /**
   * _sendScreen shows the own share and sends it on the session's publisher: true when
   * it goes out. A refusal stops the capture; a session that ended meanwhile (dropped
   * again: the next resume sends it; a Leave stopped it already) leaves it as it is.
   */
  async _sendScreen(s, publisher, track) {
    this.grid.ensure({ participantId: s.participantId, source: 'screen', self: true, name: s.name }).setTrack(track);
    try {
      await publisher.startScreen(track);
    } catch (err) {
      if (s.ended) return false;
      if (err && err.code === 'not_allowed') {
        toast(t(SCREEN_NOT_ALLOWED), { kind: 'error' });
      } else {
        console.warn('conclave: screen share negotiation failed', err && err.message);
        toast(t('controls.screen.failed'), { kind: 'error' });
      }
      this.media.stopScreen();
      this.grid.remove(s.participantId, 'screen');
      // Leave no sending screen transceiver behind for the next offer.
      await publisher.stopScreen().catch(() => {});
      // A media_state sent while the offer was under way said sharing (the track was
      // on the sender): the others are told it is off.
      this._changed();
      return false;
    }
    return !s.ended;
  }

  async _stopScreen({ own = false } = {}) {
    if (!this.media.screenTrack) return;
    const s = this._live();
    this.media.stopScreen();
    if (s) this.grid.remove(s.participantId, 'screen');
    this._changed();
    if (s && s.publisher) {
      await s.publisher.stopScreen()
        .catch((err) => console.warn('conclave: stopping the screen share failed', err && err.message));
    }
    announce(t('controls.screen.stopped'), { topic: 'screen', own });
  }

  _live() {
    const s = this.session();
    return s && !s.ended ? s : null;
  }

  _changed() {
    const s = this._live();
    if (s) s.sendMediaState();
    this.onChanged();
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
