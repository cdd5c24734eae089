// Devices inside the meeting: switch the camera and the microphone without leaving,
// choose the speaker (where the browser can: HTMLMediaElement.setSinkId), and play a
// test sound through it. The panel (#devices-panel) also holds the view choices
// (layout.js) and opens the keyboard shortcuts (shortcuts.js).
//
// A switch goes through RTCRtpSender.replaceTrack on the sender that already exists:
// the sender keeps its encrypting transform (e2ee-hooks.js attaches it to the sender,
// not to a track), so nothing is renegotiated and nothing is ever sent in the clear.
// Device choices live in this page's memory only.
//
// A chosen speaker that goes away (a headset unplugged, a Bluetooth link dropped) gives
// way to the default output, said once (#device-speaker shows it): the page went on
// setting every new voice to the gone device, which failed with a toast each time. It is
// gone when an enumeration that listed it no longer does. Firefox lists an output only
// once the person picked it in its own dialog (selectAudioOutput): one it never listed
// is never taken for gone.
//
// Test hooks: #btn-devices opens #devices-panel with #device-camera, #device-mic and
// #device-speaker (<select>s whose values are deviceIds; the speaker field
// #device-speaker-field is hidden where the browser cannot choose an output),
// #device-test-sound plays a tone through #device-test-audio
// (data-playing="true" while it plays), #layout-grid, #layout-speaker,
// #layout-hide-self, #btn-shortcuts.

import { $, el, toast } from './dom.js';
import { t, onLanguageChange } from './i18n.js';
import { describeMediaError } from './media.js';
import { holdAudio, releaseAudio } from './speaker.js';
import { Layout } from './layout.js';
import { Shortcuts } from './shortcuts.js';
import { PushToTalk } from './push-to-talk.js';

// The speaker list's last entry where the browser lists outputs only once the person
// picked one in its own dialog (Firefox: mediaDevices.selectAudioOutput).
const ASK_BROWSER = 'conclave-ask-browser';
const TONE_HZ = 523.25; // C5: clear on laptop speakers and headphones alike
const TONE_SECONDS = 0.9;
const RESUME_WAIT_MS = 3000;

/** sinkSupported: this browser can send a media element's sound to a chosen output. */
export const sinkSupported = typeof HTMLMediaElement !== 'undefined' && 'setSinkId' in HTMLMediaElement.prototype;

export class DevicePanel {
  /**
   * @param {{media: LocalMedia, controls: Controls, layout: Layout,
   *          session: () => Session|null, openShortcuts: () => void}} opts
   */
  constructor({ media, controls, layout, session, openShortcuts }) {
    this.media = media;
    this.controls = controls;
    this.layout = layout;
    this.session = session;
    this.sinkId = ''; // '' = the browser's default output
    this.sinkListed = false; // an enumeration listed sinkId since it was chosen
    this.camSelect = $('#device-camera');
    this.micSelect = $('#device-mic');
    this.speakerSelect = $('#device-speaker');
    this.testButton = $('#device-test-sound');
    this.testAudio = $('#device-test-audio');
    this.sink = $('#audio-sink');
    this.playing = null;

    $('#device-speaker-field').hidden = !sinkSupported;
    this.camSelect.addEventListener('change', () => this.switchCamera(this.camSelect.value));
    this.micSelect.addEventListener('change', () => this.switchMic(this.micSelect.value));
    this.speakerSelect.addEventListener('change', () => this.setSpeaker(this.speakerSelect.value));
    this.testButton.addEventListener('click', () => this.testSound());
    for (const input of document.querySelectorAll('#devices-panel input[name="layout"]')) {
      input.addEventListener('change', () => { if (input.checked) layout.setMode(input.value); });
    }
    $('#layout-hide-self').addEventListener('change', (event) => layout.setHideSelf(event.target.checked));
    $('#btn-shortcuts').addEventListener('click', () => openShortcuts());
    // Every remote voice plays through the chosen output, also those that join later.
    new MutationObserver(() => this._applySink()).observe(this.sink, { childList: true });
    if (navigator.mediaDevices && 'ondevicechange' in navigator.mediaDevices) {
      navigator.mediaDevices.addEventListener('devicechange', () => this.fill());
    }
    onLanguageChange(() => this.fill());
  }

  /** fill lists the devices (call when the panel opens: labels need a permission first). */
  async fill() {
    let all = [];
    let listed = false;
    const chosen = this.sinkId; // one chosen while the browser lists is judged by the next list
    try {
      if (navigator.mediaDevices && navigator.mediaDevices.enumerateDevices) {
        all = await navigator.mediaDevices.enumerateDevices();
        listed = true;
      }
    } catch {
      all = [];
    }
    const of = (kind) => all.filter((d) => d.kind === kind && d.deviceId);
    this._options(this.camSelect, of('videoinput'), this.media.cameraDeviceId, 'devices.cameraN');
    this._options(this.micSelect, of('audioinput'), this.media.micDeviceId, 'devices.microphoneN');
    if (sinkSupported) {
      const outputs = of('audiooutput');
      if (listed && this.sinkId && this.sinkId === chosen) this._sinkListed(outputs.some((d) => d.deviceId === this.sinkId));
      // The browser's default output is always there, even before it names any device.
      if (!outputs.some((d) => d.deviceId === 'default')) outputs.unshift({ deviceId: '', label: t('devices.speakerDefault') });
      if (navigator.mediaDevices.selectAudioOutput) outputs.push({ deviceId: ASK_BROWSER, label: t('devices.speakerAsk') });
      this._options(this.speakerSelect, outputs, this.sinkId || (outputs[0] && outputs[0].deviceId) || '', 'devices.speakerN');
    }
  }

  /** switchCamera makes deviceId the camera; if the camera is on, the others see the new one at once. */
  switchCamera(deviceId) {
    return this.controls.exclusive('camera', async () => {
      const { media } = this;
      const previous = media.cameraDeviceId;
      if (!deviceId || deviceId === previous) return;
      media.cameraDeviceId = deviceId;
      if (!media.cameraOn) return; // used the next time the camera is turned on
      let track;
      try {
        track = await media.startCamera(deviceId);
      } catch (err) {
        toast(describeMediaError(err, 'camera'), { kind: 'error' });
        media.cameraDeviceId = previous;
        // Back to the camera that worked, or off if it no longer does.
        track = await media.startCamera(previous).catch(() => null);
      }
      await this._send('camera', track);
      this.fill();
    });
  }

  /** switchMic makes deviceId the microphone; a muted microphone stays muted. */
  switchMic(deviceId) {
    return this.controls.exclusive('mic', async () => {
      const { media } = this;
      const previous = media.micDeviceId;
      if (!deviceId || deviceId === previous) return;
      media.micDeviceId = deviceId;
      if (!media.micTrack) return; // used the next time the microphone is turned on
      let track;
      try {
        track = await media.startMic(deviceId); // the old track keeps going until this one runs
      } catch (err) {
        toast(describeMediaError(err, 'microphone'), { kind: 'error' });
        media.micDeviceId = previous;
        this.fill();
        return;
      }
      await this._send('microphone', track);
      const s = this._live();
      if (s && s.speaker && s.joined) s.speaker.add('self', s.participantId, track);
      this.fill();
    });
  }

  /** setSpeaker sends every sound of the meeting (and the test sound) to deviceId. */
  async setSpeaker(deviceId) {
    if (!sinkSupported) return;
    if (deviceId === ASK_BROWSER) {
      let info = null;
      try {
        info = await navigator.mediaDevices.selectAudioOutput();
      } catch {
        // dismissed: keep the speaker as it was
      }
      if (info) this._chooseSink(info.deviceId);
      await this.fill();
    } else {
      this._chooseSink(deviceId);
      // Picked from the browser's list: it was listed.
      if (this.sinkId) this.sinkListed = true;
    }
    await this._applySink();
  }

  _chooseSink(deviceId) {
    if ((deviceId || '') === this.sinkId) return;
    this.sinkId = deviceId || '';
    this.sinkListed = false;
  }

  // _sinkListed: whether the browser's list of outputs has the chosen one now. Listed
  // before and no longer: it went away, and the sound goes to the default output.
  _sinkListed(listed) {
    if (listed) {
      this.sinkListed = true;
      return;
    }
    if (!this.sinkListed) return; // never listed (Firefox): not known to be gone
    this._chooseSink('');
    toast(t('devices.speakerGone'), { kind: 'info' });
    this._applySink();
  }

  /** testSound plays a short tone through the chosen output. */
  async testSound() {
    if (this.playing) return;
    const ctx = holdAudio(); // released when the tone is over (done) or cannot play
    if (!ctx) return;
    this.playing = true; // one tone at a time, also while the audio context wakes up
    this.testButton.disabled = true;
    // Without any sound output the context never starts: say so rather than wait forever.
    await Promise.race([ctx.resume().catch(() => {}), new Promise((resolve) => { setTimeout(resolve, RESUME_WAIT_MS); })]);
    if (ctx.state !== 'running') {
      toast(t('devices.testSoundFailed'), { kind: 'error' });
      this.playing = null;
      this.testButton.disabled = false;
      releaseAudio();
      return;
    }
    const osc = ctx.createOscillator();
    const gain = ctx.createGain();
    const dest = ctx.createMediaStreamDestination();
    osc.frequency.value = TONE_HZ;
    gain.gain.value = 0;
    osc.connect(gain).connect(dest);
    const audio = this.testAudio;
    audio.srcObject = dest.stream;
    audio.dataset.playing = 'true';
    const done = () => {
      osc.disconnect();
      gain.disconnect();
      audio.pause();
      audio.srcObject = null;
      delete audio.dataset.playing;
      this.testButton.disabled = false;
      this.playing = null;
      releaseAudio();
    };
    try {
      if (sinkSupported && audio.sinkId !== this.sinkId) await audio.setSinkId(this.sinkId);
      await audio.play();
    } catch {
      toast(t('devices.testSoundFailed'), { kind: 'error' });
      done();
      return;
    }
    // Scheduled once the output plays, with a soft start and end (no click).
    const now = ctx.currentTime;
    gain.gain.setValueAtTime(0, now);
    gain.gain.linearRampToValueAtTime(0.35, now + 0.05);
    gain.gain.setValueAtTime(0.35, now + TONE_SECONDS - 0.15);
    gain.gain.linearRampToValueAtTime(0, now + TONE_SECONDS);
    osc.onended = done;
    osc.start(now);
    osc.stop(now + TONE_SECONDS);
  }

  async _send(source, track) {
    const s = this._live();
    if (s) await s.send(source, track);
    if (!s) return;
    if (source === 'camera' && !track) s.sendMediaState(); // the camera is off now
    else s.renderSelf();
    this.controls.render();
  }

  async _applySink() {
    if (!sinkSupported) return;
    const id = this.sinkId;
    const elements = [...this.sink.querySelectorAll('audio'), this.testAudio];
    await Promise.all(elements.map((audio) => (audio.sinkId === id ? null : audio.setSinkId(id).catch(() => {
      if (audio !== this.testAudio) toast(t('devices.speakerFailed'), { kind: 'error' });
    }))));
  }

  _options(select, list, current, unnamedKey) {
    const wanted = current || select.value;
    select.replaceChildren(...list.map((d, i) => el('option', {
      value: d.deviceId,
      text: d.label || t(unnamedKey, { n: i + 1 }),
    })));
    if (list.some((d) => d.deviceId === wanted)) select.value = wanted;
    select.disabled = list.length === 0;
  }

  _live() {
    const s = this.session();
    return s && !s.ended ? s : null;
  }
}

/**
 * setupDevices makes the meeting's device panel, layout, shortcuts dialog and
 * push-to-talk (meeting.js calls it once).
 */
export function setupDevices({ media, grid, controls, session, canUnmute, unmuted }) {
  const layout = new Layout(grid);
  const shortcuts = new Shortcuts({ active: () => document.body.dataset.state === 'joined' });
  const panel = new DevicePanel({ media, controls, layout, session, openShortcuts: () => shortcuts.open() });
  const pushToTalk = new PushToTalk({ media, controls, session, canUnmute, unmuted });
  return { layout, panel, shortcuts, pushToTalk };
}
