// One stay in a meeting: the websocket, the publish and subscribe connections,
// the roster, remote audio and the active-speaker detector. A new Session is
// made for every (re)join; end() forgets everything it held.

import { $, toast } from './dom.js';
import { Signaling, ProtocolError, PROTOCOL_VERSION } from './signaling.js';
import { Publisher } from './publisher.js';
import { Subscriber } from './subscriber.js';
import { SpeakerDetector } from './speaker.js';

/** Reasons a session ends with an error screen; see meeting.js for their texts. */
export const FATAL_CODES = new Set(['unknown_meeting', 'meeting_full', 'unsupported_version', 'too_many_errors']);
const CLOSE_CODES = { 4400: 'unsupported_version', 4403: 'meeting_full', 4404: 'unknown_meeting', 4429: 'too_many_errors' };

export class Session {
  /**
   * @param {{meetingId: string, name: string, media: LocalMedia, grid: Grid, chat: Chat,
   *          ui: {joined(), failed(kind), left(), banner(text|null, kind?), rosterChanged()}}} opts
   */
  constructor({ meetingId, name, media, grid, chat, ui }) {
    this.meetingId = meetingId;
    this.name = name;
    this.media = media;
    this.grid = grid;
    this.chat = chat;
    this.ui = ui;
    this.sig = null;
    this.participantId = null;
    this.participants = new Map(); // remote id -> {id, name, media}
    this.publisher = null;
    this.subscriber = null;
    this.speaker = null;
    this.iceServers = [];
    this.audio = new Map(); // mid -> HTMLAudioElement
    this.chatIds = new Set();
    this.leaving = false;
    this.bye = null;
    this.fatal = null;
    this.ended = false;
    this.joined = false;
  }

  /** start connects and joins; it reports through ui.joined / ui.failed. */
  async start() {
    const { media } = this;
    this.grid.ensure({ participantId: 'self', source: 'camera', self: true, name: this.name });
    this.renderSelf();

    const sig = new Signaling();
    this.sig = sig;
    sig.on('participant_joined', (p) => this._participant(p.participant, true));
    sig.on('participant_updated', (p) => this._participant(p.participant, false));
    sig.on('participant_left', (p) => this._participantLeft(p.participantId));
    sig.on('subscribe_offer', (p) => this._subscriber().handleOffer(p));
    sig.on('chat', (p) => this.chat.add(p));
    sig.on('bye', (p) => { this.bye = p.reason || 'left'; });
    sig.on('error', (p, env) => this._serverError(p, env));
    sig.onclose = (ev) => this._closed(ev);

    try {
      await sig.connect();
    } catch {
      this._fail('unreachable');
      return;
    }
    let welcome;
    try {
      welcome = await sig.request('join', {
        version: PROTOCOL_VERSION,
        meetingId: this.meetingId,
        name: this.name,
        media: { mic: media.micOn, camera: media.cameraOn, screen: false },
      });
    } catch (err) {
      this._fail(err instanceof ProtocolError && FATAL_CODES.has(err.code) ? err.code : 'disconnected');
      return;
    }
    if (this.ended) return;

    this.participantId = welcome.participantId;
    this.joined = true;
    if (welcome.limits && welcome.limits.maxChatChars) this.chat.setMaxChars(welcome.limits.maxChatChars);
    this.chat.selfId = this.participantId;
    // The self tile was made before the id was known.
    this.grid.remove('self', 'camera');
    this.grid.ensure({ participantId: this.participantId, source: 'camera', self: true, name: this.name });
    this.renderSelf();
    for (const p of welcome.participants || []) this._participant(p, false);

    this.speaker = new SpeakerDetector((id) => this.grid.setActiveSpeaker(id));
    if (media.micTrack) this.speaker.add('self', this.participantId, media.micTrack);
    // Not in protocol v1: a later server may hand out its TURN server here.
    this.iceServers = Array.isArray(welcome.iceServers) ? welcome.iceServers : [];
    this.ui.joined();

    this.publisher = new Publisher(sig, { iceServers: this.iceServers, onConnectionState: (st) => this._mediaState(st) });
    this._subscriber();
    try {
      await this.publisher.start({ mic: media.micTrack, camera: media.cameraTrack });
    } catch (err) {
      if (!this.ended) {
        console.warn('conclave: publishing failed', err && err.message);
        toast('Your camera and microphone could not be sent to the meeting.', { kind: 'error' });
      }
    }
  }

  /** leave says goodbye to the server, waits briefly for its close, and ends. */
  async leave() {
    if (this.ended) return;
    this.leaving = true;
    const sig = this.sig;
    if (sig && !sig.closed) {
      sig.send('leave');
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, 1500);
        sig.onclose = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.end();
    this.ui.left();
  }

  /** end closes the connections, stops all capture and forgets the session's data. */
  end() {
    if (this.ended) return;
    this.ended = true;
    this.wasMicOn = !!this.media.micTrack;
    this.wasCameraOn = this.media.cameraOn;
    if (this.publisher) this.publisher.close();
    if (this.subscriber) this.subscriber.close();
    if (this.speaker) this.speaker.close();
    for (const audio of this.audio.values()) {
      audio.srcObject = null;
      audio.remove();
    }
    this.audio.clear();
    this.participants.clear();
    if (this.sig) {
      this.sig.onclose = null;
      this.sig.close();
    }
    this.media.stopAll();
    this.grid.clear();
    this.chat.clear();
  }

  /** sendChat sends a chat message; false when not connected. */
  sendChat(text) {
    if (this.ended || !this.sig || this.sig.closed || !this.joined) return false;
    this.chatIds.add(this.sig.send('chat', { text }));
    return true;
  }

  /** sendMediaState tells the others what this participant sends now. */
  sendMediaState() {
    this.renderSelf();
    if (this.ended || !this.joined || !this.sig) return;
    const m = this.media;
    this.sig.send('media_state', { mic: m.micOn, camera: m.cameraOn, screen: m.screenOn });
  }

  /** renderSelf brings the own tile in line with the local devices. */
  renderSelf() {
    const id = this.participantId || 'self';
    const tile = this.grid.get(id, 'camera');
    if (tile) tile.setTrack(this.media.cameraTrack);
    this.grid.update(id, { name: this.name, media: { mic: this.media.micOn, camera: this.media.cameraOn } });
    this.ui.rosterChanged();
  }

  /** everyone lists the participants, self first. */
  everyone() {
    const m = this.media;
    const self = { id: this.participantId, name: this.name, media: { mic: m.micOn, camera: m.cameraOn, screen: m.screenOn }, self: true };
    return [self, ...Array.from(this.participants.values()).map((p) => ({ ...p, media: { ...p.media } }))];
  }

  async stats() {
    const out = { video: [], audio: [], publish: {} };
    if (this.ended) return out;
    if (this.subscriber) Object.assign(out, await this.subscriber.stats());
    if (this.publisher) out.publish = await this.publisher.stats();
    return out;
  }

  _subscriber() {
    if (!this.subscriber) {
      this.subscriber = new Subscriber(this.sig, {
        iceServers: this.iceServers,
        onTrack: (info) => this._remoteTrack(info),
        onTrackEnded: (info) => this._remoteTrackEnded(info),
        onConnectionState: (st) => this._mediaState(st),
        onError: (err) => console.warn('conclave: subscribe negotiation failed', err && err.message),
      });
    }
    return this.subscriber;
  }

  _participant(p, isNew) {
    if (this.ended || !p || !p.id || p.id === this.participantId) return;
    const known = this.participants.get(p.id);
    const entry = {
      id: p.id,
      name: p.name || (known && known.name) || '',
      media: { mic: false, camera: false, screen: false, ...(p.media || {}) },
    };
    this.participants.set(p.id, entry);
    this.grid.ensure({ participantId: p.id, source: 'camera', name: entry.name });
    this.grid.update(p.id, entry);
    if (isNew && !known) toast(`${entry.name || 'Someone'} joined`);
    this.ui.rosterChanged();
  }

  _participantLeft(id) {
    if (this.ended) return;
    const p = this.participants.get(id);
    this.participants.delete(id);
    this.grid.removeParticipant(id);
    if (p) toast(`${p.name || 'Someone'} left`);
    this.ui.rosterChanged();
  }

  _remoteTrack(info) {
    if (this.ended) return;
    const p = this.participants.get(info.participantId);
    if (info.kind === 'audio') {
      // An audio track is heard (and counts as received) only when something plays it.
      const audio = new Audio();
      audio.autoplay = true;
      audio.srcObject = new MediaStream([info.track]);
      $('#audio-sink').append(audio);
      this.audio.set(info.mid, audio);
      audio.play().catch(() => { $('#btn-enable-audio').hidden = false; });
      if (this.speaker) this.speaker.add(info.mid, info.participantId, info.track);
      return;
    }
    const source = info.source === 'screen' ? 'screen' : 'camera';
    this.grid.ensure({ participantId: info.participantId, source, name: p ? p.name : '' }).setTrack(info.track);
    if (p) this.grid.update(info.participantId, p);
  }

  _remoteTrackEnded(info) {
    if (info.kind === 'audio') {
      const audio = this.audio.get(info.mid);
      if (audio) {
        audio.srcObject = null;
        audio.remove();
      }
      this.audio.delete(info.mid);
      if (this.speaker) this.speaker.remove(info.mid);
    } else if (info.source === 'screen') {
      this.grid.remove(info.participantId, 'screen');
    } else {
      const tile = this.grid.get(info.participantId, 'camera');
      if (tile && tile.track === info.track) tile.setTrack(null);
    }
  }

  _serverError(p, env) {
    const code = p.code || 'internal';
    if (env && env.ref && this.chatIds.has(env.ref)) {
      this.chat.notice(code === 'invalid_field' ? 'Message not sent: it is empty or too long.' : 'Message not sent.');
      return;
    }
    if (FATAL_CODES.has(code)) {
      this.fatal = code; // the close that follows shows it
      return;
    }
    console.warn('conclave: the server refused a message:', code);
  }

  _closed({ code }) {
    if (this.ended || this.leaving) return;
    if (this.bye === 'left') {
      this.end();
      this.ui.left();
      return;
    }
    let kind;
    if (this.bye === 'shutdown' || code === 1001) kind = 'shutdown';
    else if (this.bye === 'replaced') kind = 'replaced';
    else kind = this.fatal || CLOSE_CODES[code] || 'disconnected';
    this._fail(kind);
  }

  _fail(kind) {
    if (this.ended) return;
    this.end();
    this.ui.failed(kind);
  }

  _mediaState(state) {
    if (this.ended || !this.joined) return;
    if (state === 'failed') this.ui.banner('The media connection failed. Your network or firewall may be blocking it.', 'error');
    else if (state === 'disconnected') this.ui.banner('The media connection was interrupted. Trying to recover…');
    else if (state === 'connected') this.ui.banner(null);
  }
}
