// Local capture: microphone, camera and screen tracks, and the chosen devices.
// One LocalMedia lives from the pre-join screen to the end of the meeting.
// Nothing here is persisted: device choices live in memory only.
// With background blur on, cameraTrack is the blurred track (blur.js applyBlur) and
// stopping it also stops the camera behind it. The camera's own track is never
// cameraTrack: it waits aside (pendingCamera) until its blurred one is there, which can
// take a minute, so that nothing that reads cameraTrack meanwhile (a publish
// connection opened by an unmute, a join) sends the unblurred picture.

import { applyBlur } from './blur.js';

import { t } from './i18n.js';

const CAMERA = { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
const MIC = { echoCancellation: true, noiseSuppression: true, autoGainControl: true };
// What getUserMedia says when no device has the exact id asked for (it was unplugged).
const GONE = new Set(['OverconstrainedError', 'NotFoundError']);

// The texts of describeMediaError, by device and kind of failure.
const MEDIA_ERRORS = {
  camera: { blocked: 'media.camera.blocked', missing: 'media.camera.missing', busy: 'media.camera.busy', failed: 'media.camera.failed', ended: 'media.camera.ended' },
  microphone: { blocked: 'media.mic.blocked', missing: 'media.mic.missing', busy: 'media.mic.busy', failed: 'media.mic.failed', ended: 'media.mic.ended' },
};

/**
 * DeviceEndedError: the browser ended the device's track while it was being started
 * (unplugged, taken by another app), so the start failed for that reason and no other.
 */
export class DeviceEndedError extends Error {
  constructor(cause) {
    super('device ended while starting');
    this.name = 'DeviceEndedError';
    this.cause = cause;
  }
}

/** describe turns a getUserMedia error into a sentence for the user ('camera' | 'microphone'). */
export function describeMediaError(err, what) {
  const name = err && err.name;
  if (name === 'BlurUnavailableError') return err.message; // blur.js: says so, camera kept off
  const keys = MEDIA_ERRORS[what] || MEDIA_ERRORS.camera;
  if (name === 'DeviceEndedError') return t(keys.ended);
  if (name === 'NotAllowedError' || name === 'SecurityError') {
    return t(keys.blocked);
  }
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return t(keys.missing);
  if (name === 'NotReadableError' || name === 'AbortError') {
    return t(keys.busy);
  }
  if (name === 'TypeError' && !navigator.mediaDevices) {
    return t('media.insecure');
  }
  return t(keys.failed);
}

export class LocalMedia {
  constructor() {
    this.micTrack = null;
    this.cameraTrack = null;
    this.pendingCamera = null; // the camera's own track while its blurred one starts
    this.screenTrack = null;
    this.micDeviceId = '';
    this.cameraDeviceId = '';
    this.micMuted = false; // the mic track exists but is disabled
    this.micMuteWatchers = new Set();
    this.endedWatchers = new Set();
    this.cameraSource = null; // the camera's own track behind cameraTrack (the blurred one with blur on)
    this.supported = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    this.screenSupported = !!(navigator.mediaDevices && navigator.mediaDevices.getDisplayMedia);
  }

  /** micOn: the participant is sending sound. */
  get micOn() {
    return !!this.micTrack && this.micTrack.readyState === 'live' && !this.micMuted;
  }

  get cameraOn() {
    return !!this.cameraTrack && this.cameraTrack.readyState === 'live';
  }

  get screenOn() {
    return !!this.screenTrack && this.screenTrack.readyState === 'live';
  }

  /**
   * acquire asks for microphone and/or camera at once (one permission prompt),
   * then separately for what failed, and returns {mic: error|null, camera: error|null}.
   */
  async acquire({ mic = true, camera = true } = {}) {
    const errors = { mic: null, camera: null };
    if (!this.supported) {
      const err = new TypeError('mediaDevices unavailable');
      return { mic: mic ? err : null, camera: camera ? err : null };
    }
    if (!mic && !camera) return errors;
    try {
      const stream = await navigator.mediaDevices.getUserMedia({
        audio: mic ? this._micConstraints() : false,
        video: camera ? this._cameraConstraints() : false,
      });
      for (const track of stream.getTracks()) this._adopt(track);
      const raw = stream.getVideoTracks()[0];
      if (camera && raw) errors.camera = await this._blurCamera(raw).then(() => null, (e) => e);
      return errors;
    } catch (err) {
      // A chosen device that is gone gives way to the default one (startMic, startCamera).
      const chosen = mic ? this.micDeviceId : this.cameraDeviceId;
      if (!(mic && camera) && !(chosen && err && GONE.has(err.name))) {
        errors[mic ? 'mic' : 'camera'] = err;
        return errors;
      }
    }
    // Both at once failed: try each alone to learn which one does not work.
    if (mic) errors.mic = await this.startMic().then(() => null, (e) => e);
    if (camera) errors.camera = await this.startCamera().then(() => null, (e) => e);
    return errors;
  }

  /**
   * startMic opens the microphone, replacing the current track: deviceId, or without
   * one the chosen device, or the default one if the chosen one is gone (unplugged).
   */
  async startMic(deviceId) {
    const stream = await this._open(deviceId, this.micDeviceId, (id) => ({ audio: this._micConstraints(id) }));
    this.stopMic();
    this._adopt(stream.getAudioTracks()[0]);
    return this.micTrack;
  }

  stopMic() {
    if (this.micTrack) this.micTrack.stop();
    this.micTrack = null;
  }

  /**
   * setMicMuted mutes by disabling the track (the device stays open), and tells the
   * watchers (the live session's publisher, which then sends nothing).
   */
  setMicMuted(muted) {
    this.micMuted = muted;
    if (this.micTrack) this.micTrack.enabled = !muted;
    for (const fn of this.micMuteWatchers) fn(muted);
  }

  /** watchMicMuted calls fn(muted) at each setMicMuted; it returns the way to stop. */
  watchMicMuted(fn) {
    this.micMuteWatchers.add(fn);
    return () => this.micMuteWatchers.delete(fn);
  }

  /**
   * watchEnded calls fn('microphone' | 'camera') when the browser ends the current
   * microphone's or camera's track: its device went away (unplugged, a Bluetooth link
   * dropped, taken by another app, the permission revoked). A track the page stops
   * itself fires no 'ended'. It returns the way to stop.
   */
  watchEnded(fn) {
    this.endedWatchers.add(fn);
    return () => this.endedWatchers.delete(fn);
  }

  _ended(track) {
    let source = null;
    if (track.kind === 'audio' && track === this.micTrack) source = 'microphone';
    else if (track.kind === 'video' && track === this.cameraSource) source = 'camera';
    // Replaced or stopped meanwhile; a camera still starting (blur) fails its start instead.
    if (!source) return;
    for (const fn of this.endedWatchers) fn(source);
  }

  /**
   * startCamera opens the camera (deviceId, or without one the chosen device, or the
   * default one if the chosen one is gone); the old track (if any) is stopped first.
   */
  async startCamera(deviceId) {
    this.stopCamera();
    const stream = await this._open(deviceId, this.cameraDeviceId, (id) => ({ video: this._cameraConstraints(id) }));
    const raw = stream.getVideoTracks()[0];
    this._adopt(raw);
    await this._blurCamera(raw);
    return this.cameraTrack;
  }

  /** stopCamera stops the camera track (and one still starting), which turns the camera light off. */
  stopCamera() {
    if (this.cameraTrack) this.cameraTrack.stop();
    if (this.pendingCamera) this.pendingCamera.stop();
    this.cameraTrack = null;
    this.pendingCamera = null;
    this.cameraSource = null;
  }

  /** startScreen asks the user for a screen, window or tab. */
  async startScreen() {
    const stream = await navigator.mediaDevices.getDisplayMedia({
      video: { frameRate: { ideal: 15, max: 30 } },
      audio: false,
    });
    const track = stream.getVideoTracks()[0];
    if ('contentHint' in track) track.contentHint = 'detail';
    this.screenTrack = track;
    return track;
  }

  stopScreen() {
    if (this.screenTrack) this.screenTrack.stop();
    this.screenTrack = null;
  }

  stopAll() {
    this.stopMic();
    this.stopCamera();
    this.stopScreen();
  }

  /** devices lists microphones and cameras (labels are empty before permission). */
  async devices() {
    if (!this.supported || !navigator.mediaDevices.enumerateDevices) return { mics: [], cameras: [] };
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      mics: all.filter((d) => d.kind === 'audioinput' && d.deviceId),
      cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId),
    };
  }

  // _open asks for the device deviceId; without one for the chosen device, and if that
  // one is gone (a headset or USB camera unplugged: the browser has no device with its
  // exact id, OverconstrainedError or NotFoundError), for the default one: "turn it on
  // again" after a device went away found "no camera" with another camera right there.
  // A device asked for by its id (a device switch) is that device or an error.
  async _open(deviceId, chosen, constraints) {
    if (deviceId !== undefined) return navigator.mediaDevices.getUserMedia(constraints(deviceId));
    try {
      return await navigator.mediaDevices.getUserMedia(constraints(chosen));
    } catch (err) {
      if (!chosen || !(err && GONE.has(err.name))) throw err;
      return navigator.mediaDevices.getUserMedia(constraints(''));
    }
  }

  _adopt(track) {
    track.addEventListener('ended', () => this._ended(track), { once: true });
    if (track.kind === 'audio') {
      // Devices opened again (acquire after acquire): the one before would run out of reach.
      if (this.micTrack && this.micTrack !== track) this.micTrack.stop();
      this.micTrack = track;
      track.enabled = !this.micMuted;
      this.micDeviceId = track.getSettings().deviceId || this.micDeviceId;
    } else {
      if (this.pendingCamera && this.pendingCamera !== track) this.pendingCamera.stop();
      this.pendingCamera = track; // cameraTrack once blurred (_blurCamera)
      this.cameraDeviceId = track.getSettings().deviceId || this.cameraDeviceId;
    }
  }

  // _blurCamera makes raw, the camera's own track, cameraTrack: as it is with blur off,
  // else its blurred version once that runs. If blur cannot run, the camera is stopped
  // and the error says so; if the camera was stopped or replaced meanwhile, raw (and
  // what came of it) is stopped. If the browser ended the camera meanwhile (unplugged,
  // taken by another app: only then does a track fire 'ended'), that is why the start
  // failed, and the error says so (DeviceEndedError), not that blur could not run.
  async _blurCamera(raw) {
    // Called in the task that got raw, so no 'ended' of it has been missed.
    let ended = raw.readyState === 'ended';
    const onEnded = () => { ended = true; };
    raw.addEventListener('ended', onEnded, { once: true });
    try {
      const track = await applyBlur(raw);
      if (this.pendingCamera === raw) {
        this.pendingCamera = null;
        if (this.cameraTrack && this.cameraTrack !== track) this.cameraTrack.stop();
        this.cameraTrack = track;
        this.cameraSource = raw;
      } else {
        track.stop();
        raw.stop();
      }
    } catch (err) {
      if (this.pendingCamera === raw) this.pendingCamera = null;
      raw.stop();
      throw ended ? new DeviceEndedError(err) : err;
    } finally {
      raw.removeEventListener('ended', onEnded);
    }
  }

  _micConstraints(deviceId = this.micDeviceId) {
    return deviceId ? { ...MIC, deviceId: { exact: deviceId } } : { ...MIC };
  }

  _cameraConstraints(deviceId = this.cameraDeviceId) {
    return deviceId ? { ...CAMERA, deviceId: { exact: deviceId } } : { ...CAMERA };
  }
}
