// The subscribe peer connection: the server is the offerer, the browser answers
// each `subscribe_offer`. The `tracks` array of the offer says which participant
// and source each media section (mid) carries; after every offer the receivers
// are reconciled with it, so a section that is reused for another participant,
// or dropped, is reported as ended/new even when no `track` event fires.
// Every receiver passes through the E2EE attach point (e2ee-hooks.js).

import { peerConnectionConfig, prepareReceiver } from './e2ee-hooks.js';
import { candidateJSON } from './publisher.js';

export class Subscriber {
  /**
   * @param {Signaling} signaling
   * @param {{iceServers?: RTCIceServer[],
   *          onTrack: (info) => void, onTrackEnded: (info) => void,
   *          onConnectionState?: (state: string) => void, onError?: (err) => void}} options
   * A track info is {mid, participantId, source, kind, track, receiver}.
   */
  constructor(signaling, { iceServers = [], onTrack, onTrackEnded, onConnectionState, onError } = {}) {
    this.sig = signaling;
    this.onTrack = onTrack;
    this.onTrackEnded = onTrackEnded;
    this.onError = onError;
    this.pc = new RTCPeerConnection(peerConnectionConfig({ iceServers }));
    this.offered = new Map(); // mid -> {mid, participantId, source, kind} of the last offer
    this.bound = new Map(); // mid -> track info announced through onTrack
    this.queue = Promise.resolve();
    this.answered = false;
    this.earlyCandidates = [];
    this.closed = false;

    this.pc.ontrack = (event) => {
      // ---- E2EE attach point: every receiver, on track ----
      const mid = event.transceiver ? event.transceiver.mid : null;
      prepareReceiver(event.receiver, this.offered.get(mid));
    };
    this.pc.onicecandidate = (event) => this._candidate(event.candidate);
    this.pc.onconnectionstatechange = () => {
      if (onConnectionState) onConnectionState(this.pc.connectionState);
    };
  }

  /** handleOffer queues a `subscribe_offer` payload to be answered in order. */
  handleOffer(payload) {
    this.queue = this.queue
      .then(() => this._answer(payload))
      .catch((err) => {
        if (!this.closed && this.onError) this.onError(err);
      });
    return this.queue;
  }

  /** stats: per received track, decoding counters from getStats. */
  async stats() {
    const video = [];
    const audio = [];
    for (const info of this.bound.values()) {
      const entry = { participantId: info.participantId, source: info.source };
      let inbound = null;
      const report = await info.receiver.getStats();
      report.forEach((s) => {
        if (s.type === 'inbound-rtp') inbound = s;
      });
      if (info.kind === 'video') {
        video.push({
          ...entry,
          framesDecoded: inbound ? inbound.framesDecoded || 0 : 0,
          width: inbound ? inbound.frameWidth || 0 : 0,
          height: inbound ? inbound.frameHeight || 0 : 0,
          // Stops growing while the tile is not shown (the server forwards no video then).
          packetsReceived: inbound ? inbound.packetsReceived || 0 : 0,
        });
      } else {
        audio.push({
          ...entry,
          packetsReceived: inbound ? inbound.packetsReceived || 0 : 0,
          totalSamplesReceived: inbound ? inbound.totalSamplesReceived || 0 : 0,
          // Samples made up for missing frames (also those an E2EE receiver dropped),
          // and the energy of what was played.
          concealedSamples: inbound ? inbound.concealedSamples || 0 : 0,
          totalAudioEnergy: inbound ? inbound.totalAudioEnergy || 0 : 0,
        });
      }
    }
    return { video, audio };
  }

  /** tracks returns the currently bound track infos. */
  tracks() {
    return Array.from(this.bound.values());
  }

  close() {
    this.closed = true;
    this.pc.ontrack = null;
    this.pc.onicecandidate = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }

  async _answer({ sdp, tracks }) {
    if (this.closed) return;
    this.offered = new Map((tracks || []).map((t) => [String(t.mid), t]));
    await this.pc.setRemoteDescription({ type: 'offer', sdp });
    // ---- E2EE attach point: every receiver, before the answer ----
    for (const t of this.pc.getTransceivers()) {
      if (t.mid !== null && t.currentDirection !== 'stopped') prepareReceiver(t.receiver, this.offered.get(t.mid));
    }
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    if (this.closed) return;
    this.sig.send('subscribe_answer', { sdp: this.pc.localDescription.sdp });
    this._flushCandidates();
    this._reconcile();
  }

  // Bring the announced tracks in line with the last offer's `tracks`.
  _reconcile() {
    const live = new Map();
    for (const t of this.pc.getTransceivers()) {
      if (t.mid === null || t.currentDirection === 'stopped') continue;
      const info = this.offered.get(t.mid);
      if (!info) continue;
      live.set(t.mid, {
        mid: t.mid,
        participantId: info.participantId,
        source: info.source,
        kind: info.kind || t.receiver.track.kind,
        track: t.receiver.track,
        receiver: t.receiver,
      });
    }
    for (const [mid, old] of this.bound) {
      const now = live.get(mid);
      if (!now || now.participantId !== old.participantId || now.source !== old.source) {
        this.bound.delete(mid);
        this.onTrackEnded(old);
      }
    }
    for (const [mid, info] of live) {
      if (!this.bound.has(mid)) {
        this.bound.set(mid, info);
        this.onTrack(info);
      }
    }
  }

  _candidate(candidate) {
    if (this.closed) return;
    if (candidate && !candidate.candidate) return;
    if (!this.answered) {
      this.earlyCandidates.push(candidate);
      return;
    }
    this.sig.send('ice', { pc: 'subscribe', candidate: candidateJSON(candidate, this.pc) });
  }

  _flushCandidates() {
    if (this.answered) return;
    this.answered = true;
    const early = this.earlyCandidates;
    this.earlyCandidates = [];
    for (const c of early) this._candidate(c);
  }
}
