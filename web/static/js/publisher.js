// The publish peer connection: the browser is the offerer. This module and
// subscriber.js are the only places that create RTCRtpSenders / receivers; every
// sender passes through the E2EE attach point (e2ee-hooks.js) before each
// setLocalDescription.
//
// Microphone and camera always have a sendonly transceiver (with a track or with
// none), so turning a device on or off is a replaceTrack, never a renegotiation.
// A muted microphone stays open (unmuting is instant) but its sender has no track:
// muted, a browser would still send silence, a packet every 400 ms with Opus's
// discontinuous transmission, which the server forwards to every member (in a
// webinar of 200, 200 × 199 of them).
// A screen share adds a third transceiver (or reuses the one of an earlier
// share, set back from inactive to sendonly) and renegotiates; stopping it sets
// that transceiver inactive and renegotiates without it in `tracks`.
//
// The camera is sent in three simulcast layers (layers.js), on one sender with one
// E2EE transform; the server pauses the layers nobody watches (`encodings`). Screen
// share and microphone are single-layer.

import { peerConnectionConfig, prepareSender, checkSenders } from './e2ee-hooks.js';
import { CAMERA_LAYERS, LayerSwitch, sendEncodings } from './layers.js';
import { limitationOf } from './uplink.js';

const ENCODINGS = {
  camera: CAMERA_LAYERS,
  screen: [{ maxBitrate: 2_500_000 }],
};

export class Publisher {
  /**
   * @param {Signaling} signaling
   * @param {{iceServers?: RTCIceServer[], onConnectionState?: (state: string) => void}} options
   */
  constructor(signaling, { iceServers = [], onConnectionState } = {}) {
    this.sig = signaling;
    this.mic = { track: null, muted: false }; // the microphone's track, sent unless muted
    this.pc = new RTCPeerConnection(peerConnectionConfig({ iceServers }));
    this.sources = new Map(); // RTCRtpTransceiver -> 'microphone' | 'camera' | 'screen'
    this.transceivers = {}; // source -> RTCRtpTransceiver
    this.queue = Promise.resolve(); // negotiations run one after another
    this.offerSent = false;
    this.earlyCandidates = [];
    this.closed = false;
    this.layers = new Map(); // source -> LayerSwitch (created by the first `encodings`)
    // Camera or screen share started sending, or an ICE restart moved the connection
    // (a new path's congestion control climbs from its start again): uplink.js's grace.
    this.videoStarts = 0;

    this.pc.onicecandidate = (event) => this._candidate(event.candidate);
    this.pc.onconnectionstatechange = () => {
      if (onConnectionState) onConnectionState(this.pc.connectionState);
    };
  }

  /** start adds the microphone and camera transceivers and sends the first offer. */
  start({ mic = null, micMuted = false, camera = null } = {}) {
    this.mic = { track: mic, muted: micMuted };
    this._add('microphone', this._micSent() || 'audio');
    this._add('camera', camera || 'video');
    return this.negotiate();
  }

  /**
   * replaceTrack swaps the track of the microphone or camera sender (null = send
   * nothing); a muted microphone's track is kept for its unmuting.
   */
  async replaceTrack(source, track) {
    const t = this.transceivers[source];
    if (!t) throw new Error(`no ${source} transceiver`);
    if (source === 'microphone') {
      this.mic.track = track;
      track = this._micSent();
    } else if (track && !t.sender.track) {
      this.videoStarts++;
    }
    await t.sender.replaceTrack(track);
  }

  /** setMicMuted takes the microphone's track off its sender, or puts it back. */
  async setMicMuted(muted) {
    this.mic.muted = muted;
    const t = this.transceivers.microphone;
    if (this.closed || !t) return;
    await t.sender.replaceTrack(this._micSent());
  }

  _micSent() {
    return this.mic.muted ? null : this.mic.track;
  }

  /**
   * restartIce gathers new candidates for a connection that failed and renegotiates
   * (reconnect.js). Whatever video goes on climbs again from the new path's start.
   */
  restartIce() {
    if (this.closed || typeof this.pc.restartIce !== 'function') return false;
    this.videoStarts++;
    this.pc.restartIce();
    this.negotiate().catch(() => {});
    return true;
  }

  /** startScreen sends a screen track on its own transceiver and renegotiates. */
  async startScreen(track) {
    this.videoStarts++;
    const t = this.transceivers.screen;
    if (t && t.currentDirection !== 'stopped') {
      t.direction = 'sendonly';
      await t.sender.replaceTrack(track);
    } else {
      this._add('screen', track);
    }
    await this.negotiate();
  }

  /** stopScreen stops sending the screen and renegotiates without it. */
  async stopScreen() {
    const t = this.transceivers.screen;
    if (!t || t.currentDirection === 'stopped') return;
    await t.sender.replaceTrack(null);
    t.direction = 'inactive';
    await this.negotiate();
  }

  /**
   * setActiveLayers applies an `encodings` message: exactly the RIDs in active are sent
   * for source. An unknown source or RID is ignored; the newest call wins.
   */
  setActiveLayers(source, active) {
    const t = this.transceivers[source];
    if (this.closed || !t || !ENCODINGS[source] || t.currentDirection === 'stopped') return Promise.resolve();
    let sw = this.layers.get(source);
    if (!sw) {
      sw = new LayerSwitch(t.sender);
      this.layers.set(source, sw);
    }
    return sw.set(active);
  }

  /** negotiate queues an offer/answer exchange; it resolves when its answer is applied. */
  negotiate() {
    const run = this.queue.then(() => this._negotiate());
    this.queue = run.catch(() => {});
    return run;
  }

  /** stats returns packetsSent per source, e.g. {microphone: 120, camera: 340}. */
  async stats() {
    return (await this.layerStats()).sent;
  }

  /**
   * layerStats: {sent: packetsSent per source, layers: {source: {rid: {packetsSent,
   * width, active}}}} — the simulcast layers as the browser sends them (test hooks).
   */
  async layerStats() {
    const sent = {};
    const layers = {};
    for (const [t, source] of this.sources) {
      if (t.currentDirection === 'stopped') continue;
      let packetsSent = 0;
      const report = await t.sender.getStats();
      const active = new Map();
      for (const e of t.sender.getParameters().encodings || []) if (e.rid) active.set(e.rid, e.active !== false);
      report.forEach((s) => {
        if (s.type !== 'outbound-rtp') return;
        packetsSent += s.packetsSent || 0;
        if (s.rid) {
          if (!layers[source]) layers[source] = {};
          layers[source][s.rid] = { packetsSent: s.packetsSent || 0, width: s.frameWidth || 0, active: active.get(s.rid) !== false };
        }
      });
      sent[source] = packetsSent;
    }
    return { sent, layers };
  }

  /**
   * qualityLimitation is why the browser sends the camera or the screen share in lower
   * quality than asked for (uplink.js, limitationOf): 'bandwidth', 'cpu', 'none', or
   * null when no video is sent or the browser does not say (Firefox).
   */
  async qualityLimitation() {
    const reports = [];
    for (const [t, source] of this.sources) {
      if (this.closed || source === 'microphone' || t.currentDirection === 'stopped' || t.direction !== 'sendonly' || !t.sender.track) continue;
      reports.push(await t.sender.getStats());
    }
    return this.closed ? null : limitationOf(...reports);
  }

  close() {
    this.closed = true;
    for (const sw of this.layers.values()) sw.close();
    this.pc.onicecandidate = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }

  _add(source, trackOrKind) {
    const init = { direction: 'sendonly' };
    if (ENCODINGS[source]) init.sendEncodings = sendEncodings(ENCODINGS[source]);
    const t = this.pc.addTransceiver(trackOrKind, init);
    this.sources.set(t, source);
    this.transceivers[source] = t;
    // The transform goes on in the same task as addTransceiver (TESTING.md).
    prepareSender(t.sender, source);
    return t;
  }

  async _negotiate() {
    if (this.closed) return;
    // ---- E2EE attach point: every sender, before every setLocalDescription ----
    for (const [t, source] of this.sources) {
      if (t.currentDirection !== 'stopped') prepareSender(t.sender, source);
    }
    checkSenders(this.pc);
    const offer = await this.pc.createOffer();
    await this.pc.setLocalDescription(offer);

    const tracks = [];
    for (const [t, source] of this.sources) {
      if (t.mid !== null && t.direction === 'sendonly') tracks.push({ mid: t.mid, source });
    }
    let answer;
    try {
      const reply = this.sig.request('publish_offer', { sdp: this.pc.localDescription.sdp, tracks });
      this._flushCandidates();
      answer = await reply;
    } catch (err) {
      if (!this.closed && this.pc.signalingState === 'have-local-offer') {
        await this.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
      }
      throw err;
    }
    if (this.closed) return;
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answer.sdp });
    // A layer change refused while the connection was negotiating goes in now.
    for (const sw of this.layers.values()) sw.retry();
  }

  // Candidates are sent only after the offer they belong to.
  _candidate(candidate) {
    if (this.closed) return;
    // Chromium also reports an empty candidate per generation; the final null
    // event alone is sent as end of candidates.
    if (candidate && !candidate.candidate) return;
    if (!this.offerSent) {
      this.earlyCandidates.push(candidate);
      return;
    }
    this.sig.send('ice', { pc: 'publish', candidate: candidateJSON(candidate, this.pc) });
  }

  _flushCandidates() {
    this.offerSent = true;
    const early = this.earlyCandidates;
    this.earlyCandidates = [];
    for (const c of early) this._candidate(c);
  }
}

/**
 * candidateJSON turns an RTCIceCandidate (or null = end of candidates) into the
 * `candidate` object of an `ice` message.
 */
export function candidateJSON(candidate, pc) {
  if (candidate && candidate.candidate) {
    return {
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid ?? '',
      sdpMLineIndex: candidate.sdpMLineIndex ?? 0,
      usernameFragment: candidate.usernameFragment ?? '',
    };
  }
  // End of candidates: an empty candidate string, on the first media section.
  const first = pc.getTransceivers().find((t) => t.mid !== null);
  return {
    candidate: '',
    sdpMid: first ? first.mid : '0',
    sdpMLineIndex: 0,
    usernameFragment: (candidate && candidate.usernameFragment) || ufrag(pc) || '',
  };
}

function ufrag(pc) {
  const sdp = pc.localDescription ? pc.localDescription.sdp : '';
  const m = /a=ice-ufrag:(\S+)/.exec(sdp);
  return m ? m[1] : '';
}
