// The pre-join screen: camera preview, microphone level, device choice, display
// name, mic/camera toggles and the shareable link. Nothing is persisted: the
// name and device choices live only in this page's memory.
//
// The meeting password, when the server asks for one, is typed here too and kept
// in memory only (for an automatic knock again after "sent back to the waiting room").
//
// Test hooks: #prejoin-name, #prejoin-mic, #prejoin-camera (toggle buttons,
// aria-pressed="true" = on), #prejoin-join, #prejoin-password (shown when the
// meeting needs a password) with its message in #prejoin-password-error.

import { $, el, toast, announce, copyText, initials } from './dom.js';
import { setIcon } from './icons.js';
import { LevelMeter } from './speaker.js';
import { describeMediaError } from './media.js';
import { onLanguageChange, setAttr, setText, t } from './i18n.js';
import { monotonicNow } from './monotonic.js';

export class Prejoin {
  /**
   * @param {LocalMedia} media
   * @param {{mic?: boolean, camera?: boolean, shareURL: string, moderator?: boolean,
   *          onJoin: (choice: {name: string, password: string}) => void}} opts
   */
  constructor(media, { mic = true, camera = true, shareURL, moderator = false, onJoin }) {
    this.media = media;
    this.onJoin = onJoin;
    this.wantMic = mic;
    this.wantCamera = camera;
    this.meter = null;
    this.raf = 0;
    this.busy = false;
    this.ready = null;

    this.video = $('#prejoin-video');
    this.videoOff = $('#prejoin-video-off');
    this.previewNote = $('#prejoin-starting');
    this.avatar = $('#prejoin-avatar');
    this.meterFill = $('#prejoin-meter');
    this.micBtn = $('#prejoin-mic');
    this.camBtn = $('#prejoin-camera');
    this.micSelect = $('#prejoin-mic-select');
    this.camSelect = $('#prejoin-camera-select');
    this.errorBox = $('#prejoin-media-error');
    this.nameInput = $('#prejoin-name');
    this.joinBtn = $('#prejoin-join');
    this.form = $('#prejoin-form');
    this.passwordField = $('#prejoin-password-field');
    this.passwordInput = $('#prejoin-password');
    this.passwordError = $('#prejoin-password-error');
    this.needsPassword = false;
    this.joining = false;
    this.lockedUntil = 0;
    this.lockTimer = 0;
    $('#prejoin-moderator').hidden = !moderator;

    this.errors = { mic: null, camera: null };
    $('#share-link').value = shareURL;

    this.micBtn.addEventListener('click', () => this._toggleMic());
    this.camBtn.addEventListener('click', () => this._toggleCamera());
    this.micSelect.addEventListener('change', () => this._chooseMic());
    this.camSelect.addEventListener('change', () => this._chooseCamera());
    this.nameInput.addEventListener('input', () => this._updateJoin());
    this.passwordInput.addEventListener('input', () => this._updateJoin());
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.join();
    });
    $('#share-copy').addEventListener('click', async () => {
      const ok = await copyText(shareURL, $('#share-link'));
      toast(ok ? t('meeting.invite.copied') : t('common.copy-failed'), { kind: ok ? 'success' : 'info' });
    });
    if (navigator.mediaDevices && 'ondevicechange' in navigator.mediaDevices) {
      navigator.mediaDevices.addEventListener('devicechange', () => this._fillDevices());
    }
    // A device that went away here: its button says off (controls.js tells the person),
    // so that one click opens one again.
    media.watchEnded((source) => {
      if (source === 'camera') this.wantCamera = false;
      else this.wantMic = false;
      this._preview();
      this._render();
    });
    this.showPassword = null; // shows the password message again (language switch)
    onLanguageChange(() => {
      this._showErrors();
      this._render();
      this._fillDevices();
      if (this.showPassword) this.showPassword();
    });
    this._render();
    this._updateJoin();
  }

  /** start opens the devices that are wanted and shows the preview. Resolves when ready. */
  start() {
    this.starting = true;
    this._render();
    this.ready = (async () => {
      this.errors = await this.media.acquire({ mic: this.wantMic, camera: this.wantCamera });
      if (this.wantMic && !this.media.micTrack) this.wantMic = false;
      if (this.wantCamera && !this.media.cameraTrack) this.wantCamera = false;
      this.media.setMicMuted(!this.wantMic);
      this._showErrors();
      this._preview();
      this._startMeter();
      this.starting = false;
      this._render();
      // Not awaited: Firefox answers enumerateDevices only while the document has
      // focus, and joining must not wait for a device list (a tab opened in the
      // background would otherwise hang on Join until it is focused).
      this._fillDevices().then(() => this._render());
    })();
    return this.ready;
  }

  /** join hands over to the meeting (the Join button, or Enter in the form). */
  async join() {
    const name = this.nameInput.value.trim();
    if (!name) {
      this.nameInput.focus();
      return;
    }
    const password = this.needsPassword ? this.passwordInput.value : '';
    if (this.needsPassword && !password) {
      this.passwordInput.focus();
      return;
    }
    if (this.busy || this.joining || monotonicNow() < this.lockedUntil) return;
    this.busy = true;
    this.joinBtn.disabled = true;
    try {
      await this.ready;
      // A camera still opening (a device chosen, the button, blur starting) first: the
      // join says whether the camera is on, and the meeting sends what it says.
      while (this.cameraBusy) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      this.busy = false;
      this._updateJoin();
    }
    this.onJoin({ name: Array.from(name).slice(0, 64).join(''), password });
  }

  /** setJoining shows that the knock is on its way (the preview stays). */
  setJoining(on) {
    this.joining = on;
    setText(this.joinBtn, on ? 'prejoin.joining' : 'prejoin.join');
    this.joinBtn.setAttribute('aria-busy', String(on));
    this._updateJoin();
  }

  /**
   * askPassword shows the password field with a message (empty: just asked).
   * lockMs > 0 keeps the join button off for that long while message(secondsLeft)
   * counts down. message and countdown's result are texts, or functions that make them
   * (called again after a language switch).
   */
  askPassword({ message = '', lockMs = 0, countdown = null, field = true } = {}) {
    this.needsPassword = this.needsPassword || field;
    this.passwordField.hidden = !this.needsPassword;
    clearInterval(this.lockTimer);
    // On the monotonic clock (monotonic.js): on the wall clock, one set back an hour kept
    // the button off for the hour, and one set ahead ended the lock at once. Where that
    // clock stands still in sleep, a lock runs on after waking for what was left of it.
    this.lockedUntil = lockMs > 0 ? monotonicNow() + lockMs : 0;
    const show = () => {
      const left = Math.ceil((this.lockedUntil - monotonicNow()) / 1000);
      if (this.lockedUntil && left <= 0) {
        clearInterval(this.lockTimer);
        this.lockedUntil = 0;
        this.passwordError.textContent = '';
      } else {
        this.passwordError.textContent = countdown && this.lockedUntil ? countdown(left) : typeof message === 'function' ? message() : message;
      }
      this.passwordError.hidden = !this.passwordError.textContent;
      this._updateJoin();
    };
    this.showPassword = show;
    show();
    // Said once: #prejoin-password-error is no live region, or a lockout's countdown
    // was read out every second (it stays the field's description, aria-describedby).
    if (this.passwordError.textContent) announce(this.passwordError.textContent);
    if (this.lockedUntil) this.lockTimer = setInterval(show, 1000);
    if (this.needsPassword) {
      this.passwordInput.select();
      this.passwordInput.focus();
    }
  }

  /** resume brings the preview back (after a refused knock or before a rejoin). */
  resume() {
    this.wantMic = !!this.media.micTrack && !this.media.micMuted;
    this.wantCamera = this.media.cameraOn;
    this._preview();
    this._startMeter();
    this._render();
    this.setJoining(false);
  }

  /** stop ends the preview's meter loop (the tracks live on in the meeting). */
  stop() {
    cancelAnimationFrame(this.raf);
    this.raf = 0;
    if (this.meter) this.meter.close();
    this.meter = null;
    this.video.srcObject = null;
  }

  _preview() {
    const track = this.media.cameraTrack;
    const shown = this.video.srcObject && this.video.srcObject.getVideoTracks()[0];
    if (track && track === shown) return;
    this.video.srcObject = track ? new MediaStream([track]) : null;
    if (track) this.video.play().catch(() => {});
  }

  _startMeter() {
    if (this.meter) this.meter.close();
    this.meter = this.media.micTrack ? new LevelMeter(this.media.micTrack) : null;
    cancelAnimationFrame(this.raf);
    let shown = 0;
    const frame = () => {
      const level = this.meter && this.media.micOn ? this.meter.level() : 0;
      // Perceptual scale: speech RMS of 0.01..0.3 spans most of the bar.
      const target = Math.min(1, Math.max(0, (Math.log10(level + 1e-4) + 2.6) / 2.2));
      shown = target > shown ? target : shown * 0.85 + target * 0.15;
      this.meterFill.style.transform = `scaleX(${shown.toFixed(3)})`;
      this.raf = requestAnimationFrame(frame);
    };
    this.raf = requestAnimationFrame(frame);
  }

  async _toggleMic() {
    if (this.starting) return; // the devices are being opened; the toggles show the request
    if (this.wantMic) {
      this.wantMic = false;
      this.media.setMicMuted(true);
    } else {
      if (!this.media.micTrack) {
        try {
          await this.media.startMic();
          this.errors.mic = null;
          this._startMeter();
          await this._fillDevices();
        } catch (err) {
          this.errors.mic = err;
          this._showErrors();
          return;
        }
      }
      this.wantMic = true;
      this.media.setMicMuted(false);
    }
    this._showErrors();
    this._render();
  }

  async _toggleCamera() {
    if (this.starting || this.cameraBusy) return;
    this.cameraBusy = true;
    try {
      await this._switchCamera();
    } finally {
      this.cameraBusy = false;
    }
  }

  async _switchCamera() {
    if (this.wantCamera) {
      this.wantCamera = false;
      this.media.stopCamera();
    } else {
      try {
        await this.media.startCamera();
        this.errors.camera = null;
        this.wantCamera = true;
        await this._fillDevices();
      } catch (err) {
        this.errors.camera = err;
      }
    }
    this._showErrors();
    this._preview();
    this._render();
  }

  /** restartCamera reopens a camera that is on (background blur switched), keeping it off on failure. */
  async restartCamera() {
    // After any camera start under way, which may have read the old blur choice.
    if (this.ready) await this.ready;
    while (this.cameraBusy) await new Promise((resolve) => setTimeout(resolve, 50));
    if (!this.wantCamera) return;
    this.cameraBusy = true;
    try {
      await this.media.startCamera();
      this.errors.camera = null;
    } catch (err) {
      this.wantCamera = false;
      this.errors.camera = err;
    } finally {
      this.cameraBusy = false;
    }
    this._showErrors();
    this._preview();
    this._render();
  }

  async _chooseMic() {
    // Chosen while off: kept for when it is turned on (the device stays closed).
    if (!this.media.micTrack) {
      this.media.micDeviceId = this.micSelect.value;
      return;
    }
    try {
      await this.media.startMic(this.micSelect.value);
      this.media.setMicMuted(!this.wantMic);
      this._startMeter();
    } catch (err) {
      toast(describeMediaError(err, 'microphone'), { kind: 'error' });
      await this._fillDevices(); // the list shows the microphone still in use
    }
  }

  // One camera operation at a time (cameraBusy, as the camera button): a click on the
  // button while a chosen camera opened was taken as "off", and the camera opened on.
  async _chooseCamera() {
    const id = this.camSelect.value;
    while (this.cameraBusy) await new Promise((resolve) => setTimeout(resolve, 50));
    if (!this.wantCamera) {
      this.media.cameraDeviceId = id;
      return;
    }
    this.cameraBusy = true;
    const previous = this.media.cameraDeviceId;
    try {
      await this.media.startCamera(id);
    } catch (err) {
      toast(describeMediaError(err, 'camera'), { kind: 'error' });
      // Back to the camera that worked (startCamera stopped it), or off if it no longer does.
      this.media.cameraDeviceId = previous;
      await this.media.startCamera(previous).catch(() => {
        this.wantCamera = false;
        this.errors.camera = err;
      });
      await this._fillDevices();
      this._showErrors();
    } finally {
      this.cameraBusy = false;
    }
    this._preview();
    this._render();
  }

  async _fillDevices() {
    const { mics, cameras } = await this.media.devices().catch(() => ({ mics: [], cameras: [] }));
    fillSelect(this.micSelect, mics, this.media.micDeviceId, 'prejoin.mic');
    fillSelect(this.camSelect, cameras, this.media.cameraDeviceId, 'prejoin.camera');
  }

  _showErrors() {
    const lines = [];
    if (this.errors.camera) lines.push(describeMediaError(this.errors.camera, 'camera'));
    const mic = this.errors.mic && describeMediaError(this.errors.mic, 'microphone');
    if (mic && !lines.includes(mic)) lines.push(mic); // one reason for both (no https) said once
    if (lines.length) lines.push(t('media.join-anyway'));
    this.errorBox.textContent = lines.join(' ');
    this.errorBox.hidden = lines.length === 0;
  }

  _render() {
    // While the devices are starting, show what was asked for.
    const micOn = this.wantMic && (this.starting || !!this.media.micTrack);
    const camOn = this.wantCamera && (this.starting || this.media.cameraOn);
    toggleButton(this.micBtn, micOn, micOn ? 'mic' : 'mic-off', 'controls.mic.label', micOn ? 'controls.mic.turn-off' : 'controls.mic.turn-on');
    toggleButton(this.camBtn, camOn, camOn ? 'camera' : 'camera-off', 'controls.camera.label', camOn ? 'controls.camera.turn-off' : 'controls.camera.turn-on');
    this.videoOff.hidden = camOn;
    this.micBtn.setAttribute('aria-busy', String(!!this.starting));
    this.camBtn.setAttribute('aria-busy', String(!!this.starting));
    this.avatar.textContent = initials(this.nameInput.value || '');
    setText(this.videoOff.querySelector('.preview-off-text'),
      this.errors.camera ? 'prejoin.camera-unavailable' : 'prejoin.camera-off');
    this.previewNote.textContent = this.starting && this.wantCamera ? t('prejoin.camera-starting') : '';
  }

  _updateJoin() {
    const name = this.nameInput.value.trim();
    const locked = monotonicNow() < this.lockedUntil;
    const noPassword = this.needsPassword && !this.passwordInput.value;
    this.joinBtn.disabled = !name || this.busy || this.joining || locked || noPassword;
    this.avatar.textContent = initials(name);
  }
}

/**
 * toggleButton renders an on/off toggle: aria-pressed ("true" = on), its name (label, a
 * key), its tooltip (titleKey), icon and colour. The name stays what the button toggles
 * ("Microphone") whatever the state, which aria-pressed alone says (WAI-ARIA APG, toggle
 * button: a name that changed with it read "Turn on microphone, not pressed"); the
 * tooltip may say what a click does, and a screen reader reads it as the description.
 */
export function toggleButton(btn, on, iconName, label, titleKey = label) {
  btn.setAttribute('aria-pressed', on ? 'true' : 'false');
  setAttr(btn, 'aria-label', label);
  setAttr(btn, 'title', titleKey);
  btn.classList.toggle('off', !on);
  const holder = btn.querySelector('.btn-icon');
  if (holder) setIcon(holder, iconName);
}

function fillSelect(select, devices, currentId, kind) {
  select.replaceChildren();
  if (devices.length === 0) {
    select.append(el('option', { value: '', i18n: kind === 'prejoin.mic' ? 'prejoin.no-mic' : 'prejoin.no-camera' }));
    select.disabled = true;
    return;
  }
  devices.forEach((d, i) => {
    select.append(d.label ? el('option', { value: d.deviceId, text: d.label })
      : el('option', { value: d.deviceId, i18n: kind === 'prejoin.mic' ? 'prejoin.mic-n' : 'prejoin.camera-n', i18nParams: { n: i + 1 } }));
  });
  select.disabled = false;
  if (currentId && devices.some((d) => d.deviceId === currentId)) select.value = currentId;
}
