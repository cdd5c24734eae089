// One stay in a meeting: the websocket, the way in (password, waiting room), the
// publish and subscribe connections, the roster with roles, the meeting's settings,
// remote audio and the active-speaker detector. A new Session is made for every
// (re)join and every knock; end() forgets everything it held.

import { $, toast } from './dom.js';
import { Signaling, PROTOCOL_VERSION, E2EE_VERSION } from './signaling.js';
import { Publisher } from './publisher.js';
import { Subscriber } from './subscriber.js';
import { SpeakerDetector } from './speaker.js';
import { ViewTracker } from './view-tracker.js';
import { parseActive } from './layers.js';
import { downlinkView } from './downlink-ui.js';
import { MediaCrypto, discardWarmWorker, mediaCryptoReady, useMediaCrypto } from './e2ee-hooks.js';
import { SessionKeys, UNREADABLE } from './e2ee/session-keys.js';
import { MemberNames, PENDING_LABEL, PENDING_TEXT, UNKNOWN_TEXT } from './e2ee-names.js';
import { fitName } from './e2ee/keys.js';
import { KnockChecker, answerKnock, judgeLobbyKeys, lobbyKeyMessage } from './e2ee/knock.js';
import { t } from './i18n.js';

/** readable shows UNREADABLE (a chat text that did not decrypt) in the page's language. */
const readable = (v) => (v === UNREADABLE ? t('e2ee.unreadable') : v);

/** Errors on the way in that send the person back to the pre-join screen (password). */
export const AUTH_CODES = new Set(['password_required', 'wrong_password', 'too_many_attempts']);
/** Reasons a session ends with an error screen; see meeting.js for their texts. */
export const FATAL_CODES = new Set(['resume_failed', 'unknown_meeting', 'meeting_full', 'wrong_moderator_secret', 'unsupported_version', 'e2ee_version', 'not_encrypted', 'too_many_errors', ...AUTH_CODES]);
/** `bye` reasons that end the session with their own screen (`left` is a normal goodbye). */
const BYE_KINDS = new Set(['shutdown', 'replaced', 'denied', 'locked', 'lobby_full', 'expired', 'removed', 'sent_to_lobby', 'ended']);
const CLOSE_CODES = {
  4400: 'unsupported_version', 4401: 'wrong_password', 4403: 'meeting_full', 4404: 'unknown_meeting',
  4409: 'removed', 4429: 'too_many_errors',
};
const JOIN_TIMEOUT_MS = 20000;
// A media connection still "connecting" this long is stuck (session._watchStuck).
const STUCK_MS = 15000;

export const DEFAULT_SETTINGS = Object.freeze({
  lobby: true, locked: false, screenShare: false, unmute: true, chat: true, passwordRequired: false,
});
const ROLES = new Set(['participant', 'presenter', 'moderator']);

function settingsFrom(s) {
  const out = { ...DEFAULT_SETTINGS };
  if (s && typeof s === 'object') {
    for (const key of Object.keys(DEFAULT_SETTINGS)) {
      if (typeof s[key] === 'boolean') out[key] = s[key];
    }
  }
  return out;
}

function roleFrom(r) {
  return ROLES.has(r) ? r : 'participant';
}

export class Session {
  /**
   * @param {{meetingId: string, name: string, password?: string, moderatorSecret?: string,
   *          media: LocalMedia, grid: Grid, chat: Chat, ui: object,
   *          e2ee?: {crypto: Promise<MeetingCrypto>|null, api: 'legacy'|'script'|null}}} opts
   * ui: joined(), lobby({moderatorPresent}), lobbyLink(verdict), failed(kind, info), left(), sentToLobby(),
   *     banner(key|null, kind?), rosterChanged(), roleChanged(old, now),
   *     settingsChanged(old, now), waitingChanged(list), mediaCommand(command),
   *     refused(code, type), e2eeChanged()
   *
   * e2ee.crypto is the meeting's keys from the link's secret (null: the link has none).
   * With it, the name never goes to the server: it travels inside the key envelopes
   * (e2ee/FORMAT.md, "Names"); whether the meeting is end-to-end encrypted is known only
   * at `welcome` (welcome.e2ee).
   */
  constructor({ meetingId, name, password = '', moderatorSecret = '', media, grid, chat, ui, e2ee = {}, resume = null }) {
    this.meetingId = meetingId;
    this.resume = resume; // {participantId, secret}: take a dropped membership back (reconnect.js)
    this.name = name;
    this.password = password;
    this.moderatorSecret = moderatorSecret;
    this.media = media;
    this.grid = grid;
    this.chat = chat;
    this.ui = ui;
    this.sig = null;
    this.phase = 'connecting'; // connecting | lobby | joined
    this.participantId = null;
    this.role = 'participant';
    this.settings = { ...DEFAULT_SETTINGS };
    this.waiting = []; // [{participantId, name, since, link}] (moderators only)
    this.knockAnswered = ''; // the knock nonce this page answered (knock_proof)
    this.knockChecker = null; // KnockChecker, for the waiting list's link verdicts
    this.knockWrong = new Set(); // knockers this page saw with a wrong link
    this.lobbyKeysSeq = 0; // the newest `lobby` message whose lobby keys are being checked
    this.lobbyKeySent = false; // this moderator published its lobby key
    this.moderatorPresent = null;
    this.participants = new Map(); // remote id -> {id, name, nameLabel?, role, media}
    this.names = new MemberNames(); // names from key envelopes (e2ee-names.js)
    this.publisher = null; // opened with the first thing to send (_startPublisher)
    this.publishReady = false; // media may be sent: joined, and E2EE's worker holds the own key
    this.publisherWanted = false; // openPublisher was called (a screen share) before publishReady
    this.publisherOpening = false; // _startPublisher runs (the own key may be rotating first)
    this.unwatchMic = null; // stops the publisher following the microphone's mute
    this.subscriber = null;
    this.speaker = null;
    this.view = null; // ViewTracker: tells the server which remote tiles are shown
    this.downlink = null; // DownlinkView: why some video is reduced or paused (downlink-ui.js)
    this.iceServers = [];
    this.audio = new Map(); // mid -> HTMLAudioElement
    // Tracks of ids not (or no longer) in the roster: a track event can land after the
    // person left (a renegotiation in flight), and must not bring a tile back.
    this.strayTracks = new Map(); // participant id -> [info]
    // Ids that left this session: ids are never reused, so one announced again is the
    // server lying (e2ee/FORMAT.md, "Identity per session"): a warning, never a member.
    this.departed = new Set();
    this.chatIds = new Set();
    this.joinTimer = 0;
    this.sentMedia = null; // the media announced in `join`
    this.leaving = false;
    this.bye = null;
    this.fatal = null;
    this.fatalInfo = {};
    this.ended = false;
    this.joined = false;
    // End-to-end encryption.
    this.cryptoPromise = e2ee.crypto || null;
    this.crypto = null; // MeetingCrypto, once derived
    this.api = e2ee.api || null;
    this.e2ee = false; // welcome.e2ee
    this.e2eeFailed = null; // why encryption stopped, if it did
    this.mc = null; // MediaCrypto (the worker and transforms)
    this.keys = null; // SessionKeys
    this.chatIn = Promise.resolve(); // received chat, decrypted in order
    this.chatOut = Promise.resolve(); // sent chat, encrypted in order
    this.waitingSeq = 0;
    // The publisher once it exists (with E2EE only after the worker is ready), or null
    // when there will be none (encryption failed, the session ended).
    this.publishing = new Promise((resolve) => { this._publishingResolve = resolve; });
    // How far the way from welcome to sending got (see debug()): a tab that sits joined
    // and sends nothing says where it stopped.
    this.step = 'connecting';
  }

  /** debug is where this session stands, for the test hooks' failure reports (no names, no keys). */
  debug() {
    const pc = (x) => (x && x.pc ? { connection: x.pc.connectionState, ice: x.pc.iceConnectionState, signaling: x.pc.signalingState } : null);
    return {
      step: this.step, phase: this.phase || '', joined: this.joined, ended: !!this.ended,
      e2ee: this.e2ee, e2eeFailed: this.e2eeFailed, workerReady: this.mc ? this.mc.isReady : null,
      keysStarted: this.keysStep || null, publisher: pc(this.publisher), subscriber: pc(this.subscriber),
      micSending: !!(this.publisher && this.publisher.transceivers.microphone && this.publisher.transceivers.microphone.sender.track),
    };
  }

  /** start connects and knocks; it reports through ui.lobby / ui.joined / ui.failed. */
  async start() {
    const { media } = this;
    const sig = new Signaling();
    this.sig = sig;
    this.ui.attachSignaling?.(sig); // hands, reactions, knock alerts (modctl.js)
    sig.on('welcome', (p) => this._welcome(p));
    sig.on('lobby', (p) => this._lobby(p));
    sig.on('participant_joined', (p) => this._participant(p.participant, true));
    sig.on('participant_updated', (p) => this._participant(p.participant, false));
    sig.on('participant_left', (p) => this._participantLeft(p.participantId));
    sig.on('participant_resumed', (p) => this._participantResumed(p.participant));
    // Only a member gets media, and only once its decryption is in place (_welcome):
    // a connection made before would carry whatever the server sends, undecrypted.
    sig.on('subscribe_offer', (p) => {
      if (!this.joined || this.ended || this.e2eeFailed) return;
      const sub = this._subscriber();
      if (sub) sub.handleOffer(p);
    });
    sig.on('encodings', (p) => this._encodings(p));
    sig.on('downlink', (p) => { if (this.downlink && !this.ended) this.downlink.receive(p); });
    sig.on('chat', (p) => this._chat(p));
    sig.on('e2ee', (p) => { if (this.keys && !this.ended) this.keys.receive(p.from, p.data); });
    sig.on('settings', (p) => this._settings(p.settings));
    sig.on('waiting_list', (p) => this._waitingList(p.waiting));
    sig.on('access_attempts', (p) => { if (!this.ended) this.ui.accessAttempts?.(p.wrongPasswords); });
    sig.on('media_command', (p) => { if (this.joined && !this.ended) this.ui.mediaCommand(p.command, p.by, p.all === true); });
    sig.on('bye', (p) => { this.bye = p.reason || 'left'; });
    sig.on('error', (p, env) => this._serverError(p, env));
    sig.onclose = (ev) => this._closed(ev);

    // With a key in the link the name never goes to the server: members get it inside
    // the key envelopes, a moderator inside the knock (e2ee/FORMAT.md, "Names").
    if (this.cryptoPromise) {
      try {
        this.crypto = await this.cryptoPromise;
      } catch {
        this._fail('e2ee_unsupported');
        return;
      }
      if (this.ended) return;
    }
    try {
      await sig.connect();
    } catch {
      this._fail('unreachable');
      return;
    }
    if (this.ended) return;
    this.sentMedia = { mic: media.micOn, camera: media.cameraOn, screen: false };
    if (this.resume) {
      // The same membership on a new connection: no name, no knock (PROTOCOL.md, "Reconnecting").
      sig.send('resume', { version: PROTOCOL_VERSION, meetingId: this.meetingId, ...this.resume, media: { ...this.sentMedia } });
      this.joinTimer = setTimeout(() => {
        if (this.phase === 'connecting') this._fail('disconnected');
      }, JOIN_TIMEOUT_MS);
      return;
    }
    const join = { version: PROTOCOL_VERSION, e2ee: E2EE_VERSION, meetingId: this.meetingId, media: { ...this.sentMedia } };
    if (!this.crypto) join.name = this.name;
    // Both travel only inside the websocket.
    if (this.password) join.password = this.password;
    if (this.moderatorSecret) join.moderatorSecret = this.moderatorSecret;
    // Sent without awaiting a reply: the answer is `welcome`, `lobby` (and later
    // `welcome`), or an `error` followed by the close.
    sig.send('join', join);
    this.joinTimer = setTimeout(() => {
      if (this.phase === 'connecting') this._fail('disconnected');
    }, JOIN_TIMEOUT_MS);
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

  /**
   * end closes the connections and forgets the session's data. It stops all
   * capture unless keepMedia (the person stays on the pre-join or waiting screen).
   */
  end({ keepMedia = false, keepChat = false } = {}) {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.joinTimer);
    this.wasMicOn = !!this.media.micTrack;
    this.wasCameraOn = this.media.cameraOn;
    if (this.unwatchMic) this.unwatchMic();
    if (this.publisher) this.publisher.close();
    if (this.subscriber) this.subscriber.close();
    if (this.speaker) this.speaker.close();
    if (this.view) this.view.close();
    if (this.downlink) this.downlink.close(); // a new connection starts without the hint
    if (this.keys) this.keys.close();
    if (this.mc) this.mc.close();
    this._publishingResolve(null);
    for (const audio of this.audio.values()) {
      audio.srcObject = null;
      audio.remove();
    }
    this.audio.clear();
    this.participants.clear();
    this.waiting = [];
    if (this.sig) {
      this.sig.onclose = null;
      this.sig.close();
    }
    if (keepMedia) this.media.stopScreen();
    else this.media.stopAll();
    this.grid.clear();
    if (!keepChat) this.chat.clear();
  }

  /** whenPublishing resolves to the publisher once it exists, or null if there will be none. */
  whenPublishing() {
    return this.publisher ? Promise.resolve(this.publisher) : this.publishing;
  }

  get isModerator() {
    return this.joined && !this.ended && this.role === 'moderator';
  }

  /** canShareScreen: the own role or the meeting's settings allow a screen share. */
  get canShareScreen() {
    return this.role !== 'participant' || this.settings.screenShare;
  }

  /** sendChat sends a chat message (encrypted in an E2EE meeting); false when not connected. */
  sendChat(text) {
    if (this.ended || !this.sig || this.sig.closed || !this.joined) return false;
    if (!this.e2ee) {
      this.chatIds.add(this.sig.send('chat', { text }));
      return true;
    }
    this.chatOut = this.chatOut.then(async () => {
      let cipher;
      try {
        // Under the own media key (e2ee/FORMAT.md, "Chat (version 2)"): only verified members read it.
        if (!this.keys) throw new Error('no session keys');
        cipher = await this.keys.encryptChat(text);
      } catch {
        if (!this.ended) this.chat.notice('chat.not-sent.encrypt');
        return;
      }
      if (this.ended || !this.sig || this.sig.closed) return;
      this.chatIds.add(this.sig.send('chat', { text: cipher }));
    });
    return true;
  }

  /** moderate sends a moderator message (the server checks the role); its id, or null. */
  moderate(type, payload) {
    if (!this.isModerator || !this.sig || this.sig.closed) return null;
    return this.sig.send(type, payload);
  }

  /** sendMediaState tells the others what this participant sends now. */
  sendMediaState() {
    this.renderSelf();
    if (this.ended || !this.joined || !this.sig) return;
    const m = this.media;
    // What it said is kept: a refusal of it (rules.js) is the camera's stop only if it
    // turned the camera on.
    this.lastMediaState = { mic: m.micOn, camera: m.cameraOn, screen: m.screenOn };
    this.sig.send('media_state', this.lastMediaState);
  }

  /** renderSelf brings the own tile in line with the local devices. */
  renderSelf() {
    if (!this.joined) return;
    const id = this.participantId;
    const tile = this.grid.get(id, 'camera');
    if (tile) tile.setTrack(this.media.cameraTrack);
    this.grid.update(id, { name: this.name, role: this.role, media: { mic: this.media.micOn, camera: this.media.cameraOn } });
    this.ui.rosterChanged();
  }

  /** everyone lists the participants, self first (empty until admitted). */
  everyone() {
    if (!this.joined || this.ended) return [];
    const m = this.media;
    const self = {
      id: this.participantId, name: this.name, role: this.role,
      media: { mic: m.micOn, camera: m.cameraOn, screen: m.screenOn }, self: true, e2ee: null,
    };
    const others = Array.from(this.participants.values()).map((p) => ({
      ...p, media: { ...p.media }, e2ee: this.keys ? this.keys.stateOf(p.id) : null,
    }));
    return [self, ...others];
  }

  async stats() {
    const out = { video: [], audio: [], publish: {} };
    if (this.ended) return out;
    if (this.subscriber) Object.assign(out, await this.subscriber.stats());
    if (this.publisher) {
      const { sent, layers } = await this.publisher.layerStats();
      out.publish = sent;
      out.publishLayers = layers;
    }
    if (this.view) out.view = this.view.shown();
    return out;
  }

  // ------------------------------------------------------------ the way in

  _lobby(p) {
    if (this.ended || this.joined) return;
    clearTimeout(this.joinTimer);
    // Told already while waiting: an encrypted meeting needs the key and a browser that
    // can encrypt, so do not keep the moderator deciding about someone who cannot take part.
    if (p.e2ee === true && (!this.crypto || !this.api)) {
      this.sig.send('leave');
      this._fail(this.crypto ? 'e2ee_unsupported' : 'link_incomplete');
      return;
    }
    if (this.crypto && p.e2ee !== true) {
      // The link holds a key: a meeting without encryption is a server's downgrade.
      this.sig.send('leave');
      this._fail('not_encrypted');
      return;
    }
    this.phase = 'lobby';
    this.moderatorPresent = p.moderatorPresent !== false;
    this.ui.lobby({ moderatorPresent: this.moderatorPresent });
    this._answerKnock(p);
    if (p.e2ee === true) this._checkLobbyKeys(p.lobbyKeys);
  }

  /** _checkLobbyKeys tells the waiting screen what the moderators' lobby keys say of this link. */
  _checkLobbyKeys(keys) {
    const seq = ++this.lobbyKeysSeq;
    judgeLobbyKeys(this.crypto.identityKey, keys).then((verdict) => {
      if (this.ended || this.phase !== 'lobby' || seq !== this.lobbyKeysSeq) return;
      this.ui.lobbyLink?.(verdict);
    }, () => {});
  }

  /**
   * _sendLobbyKey publishes this moderator's session public key with its lobby tag, so
   * that knockers can check their own links (e2ee/FORMAT.md, "Lobby keys"). Once per
   * stretch as moderator; the server drops it when the role goes.
   */
  _sendLobbyKey() {
    if (!this.e2ee || !this.keys || this.role !== 'moderator' || this.lobbyKeySent) return;
    this.lobbyKeySent = true;
    const { keys } = this;
    this.keysStarted
      .then(() => lobbyKeyMessage(this.crypto.identityKey, this.participantId, keys.identity.publicKey))
      .then((msg) => {
        if (!this.ended && this.role === 'moderator' && this.sig && !this.sig.closed) this.sig.send('lobby_key', msg);
      }, () => {});
  }

  /**
   * _answerKnock proves the link to the moderators (e2ee/FORMAT.md, "Knock proof"):
   * once per knock nonce, an HMAC under the link's identity key that only their
   * browsers can check.
   */
  _answerKnock(p) {
    if (p.e2ee !== true || typeof p.knockNonce !== 'string' || p.knockNonce === this.knockAnswered) return;
    this.knockAnswered = p.knockNonce;
    // The name goes only sealed to the moderators whose lobby keys verify under this
    // link (FORMAT.md, "Names"); the server draws a new nonce when those keys change,
    // so it is sealed again to the new set.
    answerKnock(this.crypto.identityKey, p.knockNonce, p.lobbyKeys, fitName(this.name)).then((answer) => {
      // The nonce says which knock this answers: one the server has since renewed is refused.
      if (answer && !this.ended && this.phase === 'lobby') this.sig.send('knock_proof', { nonce: p.knockNonce, ...answer });
    }, () => {});
  }

  /** _knockLink judges a waiting-list entry's proof: 'verified', 'wrong', 'checking' or null. */
  _knockLink(w) {
    if (!this.e2ee || !this.crypto) return Promise.resolve(null);
    if (!this.knockChecker) this.knockChecker = new KnockChecker(this.crypto.identityKey);
    return this.knockChecker.check(w);
  }

  /**
   * _knockName opens the name a knocker sealed to this moderator's lobby key (the
   * session's identity key), only for a knock whose link verified: the name, or
   * undefined (none yet, or none that may be shown). Never rejects.
   */
  async _knockName(w) {
    if (!this.e2ee || !this.crypto || !this.keys) return undefined;
    try {
      await this.keysStarted;
    } catch {
      return undefined;
    }
    if (!this.knockChecker) this.knockChecker = new KnockChecker(this.crypto.identityKey);
    if (!this.knockChecker.moderator && this.keys.identity) this.knockChecker.setModerator(this.keys.identity.privateKey, this.participantId);
    return this.knockChecker.name(w);
  }

  async _welcome(welcome) {
    if (this.ended || this.joined) return;
    clearTimeout(this.joinTimer);
    const { media, sig } = this;
    // An end-to-end encrypted meeting needs the key from the link and a browser that
    // can encrypt; without either, leave at once (fail closed).
    this.e2ee = welcome.e2ee === true;
    if (this.e2ee && (!this.crypto || !this.api)) {
      sig.send('leave');
      this._fail(this.crypto ? 'e2ee_unsupported' : 'link_incomplete');
      return;
    }
    if (this.crypto && !this.e2ee) {
      // The link holds a key, so the meeting is encrypted whatever the server says: a
      // welcome without encryption would have this page send its media and chat in
      // the clear (fail closed).
      sig.send('leave');
      this._fail('not_encrypted');
      return;
    }
    this.phase = 'joined';
    this.step = 'welcomed';
    this.participantId = welcome.participantId;
    // The secret that brings this membership back if the connection drops (reconnect.js).
    if (typeof welcome.resumeSecret === 'string') this.ui.resumable?.(welcome.participantId, welcome.resumeSecret);
    if (welcome.resumed && !this.e2ee && typeof welcome.name === 'string' && welcome.name) {
      // A resume after a reload: the own name as the server knows it. An encrypted
      // meeting's server knows none; the members keep the one they had (e2ee-names.js).
      this.name = welcome.name;
    }
    this.role = roleFrom(welcome.role);
    this.settings = settingsFrom(welcome.settings);
    this.joined = true;
    this._startMediaCrypto(welcome);
    if (welcome.limits && welcome.limits.maxChatChars) this.chat.setMaxChars(welcome.limits.maxChatChars);
    this.chat.selfId = this.participantId;
    this.grid.ensure({ participantId: this.participantId, source: 'camera', self: true, name: this.name });
    for (const p of welcome.participants || []) this._participant(p, false);

    // A server that tells who speaks (welcome.speakers, speaking-ui.js) decides alone: the
    // page then runs no audio analysis of its own (an AudioContext and a meter for every
    // track it hears, all meeting long). Otherwise the page's own detection does, until
    // a `speaking` comes after all (serverSpeakers).
    this.speaker = welcome.speakers === true ? null
      : new SpeakerDetector((id) => { if (!this.serverSpeakers) this.grid.setActiveSpeaker(id); });
    if (this.speaker && media.micTrack) this.speaker.add('self', this.participantId, media.micTrack);
    // The server's TURN servers with credentials for this welcome (absent without TURN).
    this.iceServers = Array.isArray(welcome.iceServers) ? welcome.iceServers : [];
    this.ui.joined();
    this.renderSelf();
    // Every (re)join is a new Session: its first `view` goes out as soon as the tiles are seen.
    this.view = new ViewTracker(this.grid, (tracks) => {
      if (!this.ended && this.sig && !this.sig.closed) this.sig.send('view', { tracks });
    });
    this.downlink = downlinkView(this.grid, $('#downlink-hint'));
    // Devices switched in the waiting room: tell the others what is really sent.
    const now = { mic: media.micOn, camera: media.cameraOn, screen: false };
    if (this.sentMedia && (now.mic !== this.sentMedia.mic || now.camera !== this.sentMedia.camera)) this.sendMediaState();

    this._subscriber();
    if (this.e2ee && !this.mc) return; // no worker, no sending (_e2eeFailed tells the person)
    if (this.mc) {
      // Nothing is sent before the worker runs and holds the own key.
      this.step = 'waiting-for-crypto';
      try {
        await Promise.all([this.mc.ready, this.keysStarted]);
      } catch (err) {
        this.step = 'crypto-failed';
        this._e2eeFailed(err && err.message);
        return;
      }
      if (this.ended) return;
    }
    // Media may be sent from here on; the publish connection opens with the first thing to send.
    this.publishReady = true;
    this.step = 'idle';
    this.unwatchMic = media.watchMicMuted((muted) => {
      if (this.publisher) this.publisher.setMicMuted(muted).catch(() => {});
      else if (!muted) this._publishIfSending();
    });
    this._publishIfSending();
  }

  /**
   * openPublisher opens the publish connection now (a screen share needs it), once media
   * may be sent, and resolves to it, or to null if there will be none.
   */
  openPublisher() {
    this.publisherWanted = true;
    this._startPublisher();
    return this.whenPublishing();
  }

  /**
   * send puts track on source's sender (null: send nothing). Without a publish connection
   * a track that is sent opens it: who listens with microphone and camera off has none,
   * and costs the server no connection (a webinar's audience: 200 idle ones cost it
   * 50–60 MB and 3,000 goroutines).
   */
  async send(source, track) {
    if (this.publisher) await this.publisher.replaceTrack(source, track);
    else if (track) this._publishIfSending();
  }

  /** _publishIfSending opens the publish connection if the microphone or the camera is on (or it was asked for). */
  _publishIfSending() {
    if (this.publisherWanted || this.media.micOn || this.media.cameraOn) this._startPublisher();
  }

  /**
   * _startPublisher makes the publisher, once, from the devices as they are when it is
   * made. With E2EE the leaves since the join rotate the own key first, and it is in use
   * before the connection opens (SessionKeys.startSending).
   */
  async _startPublisher() {
    if (this.publisher || this.publisherOpening || !this.publishReady || this.ended || this.e2eeFailed) return;
    this.publisherOpening = true;
    if (this.keys) {
      this.step = 'keying'; // the own key readied for sending (a put-off rotation)
      try {
        await this.keys.startSending();
      } catch (err) {
        this._e2eeFailed(err && err.message);
        return;
      }
      if (this.ended || this.e2eeFailed) return;
    }
    const { media, sig } = this;
    this.step = 'publishing';
    const publisher = new Publisher(sig, { iceServers: this.iceServers, onConnectionState: (st) => this._mediaState(st) });
    this.publisher = publisher;
    const started = publisher.start({ mic: media.micTrack, micMuted: media.micMuted, camera: media.cameraTrack });
    this._publishingResolve(publisher);
    try {
      await started;
      if (this.publisher === publisher) this.step = 'published';
    } catch (err) {
      if (this.publisher === publisher) this.step = 'publish-failed';
      if (!this.ended) {
        console.warn('conclave: publishing failed', err && err.message);
        toast(t('meeting.publish-failed'), { kind: 'error' });
      }
    }
  }

  /**
   * _startMediaCrypto installs the E2EE worker and key schedule before any peer
   * connection exists. In a meeting without E2EE nothing is attached.
   */
  _startMediaCrypto(welcome) {
    this.keysStarted = Promise.resolve();
    if (!this.e2ee) {
      useMediaCrypto(null);
      discardWarmWorker(); // a meeting without E2EE needs none
      return;
    }
    try {
      this.mc = new MediaCrypto({
        api: this.api,
        selfId: this.participantId, // set from this welcome: a resumed or reloaded page gets its id only here
        onError: (reason) => this._e2eeFailed(reason),
        onStats: () => {},
        onMissingKey: (pid) => { if (this.keys) this.keys.keyMissing(pid); },
        onKeyOk: (pid) => { if (this.keys) this.keys.keyDecoded(pid); },
      });
    } catch (err) {
      // No worker: nothing may be sent (publishing waits for a worker that is not there).
      this.mc = null;
      useMediaCrypto(null, { mustEncrypt: true });
      this.keysStarted = Promise.reject(err);
      this.keysStarted.catch(() => {});
      queueMicrotask(() => this._e2eeFailed('the encryption worker could not start'));
      return;
    }
    useMediaCrypto(this.mc, { mustEncrypt: true });
    this.keys = new SessionKeys({
      meeting: this.crypto,
      media: this.mc,
      name: this.name || '',
      sending: false, // until the publish connection opens (_startPublisher)
      onName: (pid, name) => {
        this.names.received(pid, name);
        this._namesChanged();
      },
      send: (to, data) => {
        if (this.ended || !this.sig || this.sig.closed) return;
        this.sig.send('e2ee', to ? { to, data } : { data });
      },
      sendBatch: (envelopes) => {
        if (this.ended || !this.sig || this.sig.closed) return;
        this.sig.send('e2ee_batch', { envelopes });
      },
      onChange: () => this._e2eeChanged(),
      onWaiting: (pid, waiting) => {
        if (!this.ended) this.grid.setWaitingForKeys(pid, waiting);
      },
    });
    const ids = (welcome.participants || []).map((p) => p && p.id).filter((id) => typeof id === 'string' && id);
    this.keysStarted = this.keys.start(this.participantId, ids);
    this.keysStep = 'pending';
    this.keysStarted.then(() => { this.keysStep = 'done'; }, () => { this.keysStep = 'failed'; });
    this._sendLobbyKey();
    this.keysStarted.catch((err) => {
      if (err && err.code === 'unsupported') {
        // No X25519 here: this browser cannot take part (fail closed).
        if (this.sig && !this.sig.closed) this.sig.send('leave');
        this._fail('e2ee_unsupported');
      } else {
        this._e2eeFailed(err && err.message);
      }
    });
  }

  _e2eeChanged() {
    if (this.ended) return;
    this._namesChanged(); // a member verified or not changes what its name may show
    this.ui.e2eeChanged();
  }

  /** _e2eeFailed: encryption stopped working; senders are silent (fail closed) and the UI says so. */
  _e2eeFailed(reason) {
    if (this.ended || this.e2eeFailed) return;
    this.e2eeFailed = reason || 'failed';
    if (this.mc) this.mc.close();
    useMediaCrypto(null, { mustEncrypt: this.e2ee });
    if (this.publisher) {
      this.publisher.close();
      this.publisher = null;
    }
    if (this.subscriber) {
      // Nothing it receives can be decrypted any more, and a receiver it made from
      // now on would have no transform: Firefox would play what the server sends.
      const tracks = this.subscriber.tracks();
      this.subscriber.close();
      this.subscriber = null;
      for (const info of tracks) this._remoteTrackEnded(info);
    }
    this._publishingResolve(null);
    this.ui.banner('e2ee.failed-banner', 'error');
    this.ui.e2eeChanged();
  }

  /** e2eeInfo describes the encryption state for the page (status chip, window.conclave). */
  e2eeInfo() {
    const enabled = this.joined ? this.e2ee : !!this.cryptoPromise;
    return {
      enabled,
      state: !this.joined ? null : this.e2eeFailed ? 'error' : this.e2ee ? 'on' : 'off',
      api: this.e2ee && this.mc && !this.e2eeFailed ? this.mc.api : null,
      safetyCode: this.keys ? this.keys.currentCode() : '', // '' while a new code is computed
      verified: this.keys ? this.keys.verified() : [],
      unverified: this.keys ? this.keys.unverified() : [],
      warnings: this.keys ? this.keys.warnings() : { count: 0, kinds: {} }, // refused key messages (roster.js)
      knockWrong: [...this.knockWrong], // admitted knockers this page saw as "Wrong link" (e2ee-self-link.js)
      pending: this.keys ? [...this.participants.keys()].filter((id) => this.keys.stateOf(id) === 'pending').length : 0,
      keyIndex: this.keys ? this.keys.keyIndex : -1,
      stats: this.mc ? { ...this.mc.stats } : { encrypted: 0, decrypted: 0, decryptFailed: 0 },
    };
  }

  // ---------------------------------------------------------------- names

  /**
   * _shownName is what the page shows as member id's name: in an encrypted meeting only
   * the name from its key envelope (e2ee/FORMAT.md, "Names"), never the server's string;
   * {name, nameLabel} where nameLabel, if set, is the accessible text of a placeholder.
   */
  _shownName(id, serverName) {
    if (!this.e2ee) return { name: serverName || '', nameLabel: null };
    return this.names.shown(id, this.keys ? this.keys.stateOf(id) : null, t);
  }

  /** _namesChanged applies the names from key envelopes to the roster. */
  _namesChanged() {
    if (this.ended || !this.e2ee) return;
    let changed = false;
    for (const entry of this.participants.values()) {
      const { name, nameLabel } = this._shownName(entry.id);
      if (name !== entry.name || nameLabel !== entry.nameLabel) {
        // The join toast waited for the name; a member that turned out unverified is "Someone".
        const settled = !nameLabel || nameLabel === t(UNKNOWN_TEXT);
        const first = entry.announce && settled;
        entry.name = name;
        entry.nameLabel = nameLabel;
        this.grid.update(entry.id, { name, nameLabel });
        changed = true;
        if (first) {
          entry.announce = false;
          toast(t('meeting.joined-toast', { name: (!nameLabel && name) || t('waiting.someone') }));
        }
      }
    }
    if (changed) this.ui.rosterChanged();
  }

  _chat(p) {
    if (!this.joined || this.ended) return;
    if (!this.e2ee) {
      this.chat.add(p);
      return;
    }
    this.chatIn = this.chatIn.then(async () => {
      // A text whose key has not come yet waits for it (up to 10 s), later ones behind it.
      const text = readable(this.keys ? await this.keys.decryptChat(p.from, p.text) : UNREADABLE);
      // The sender's name from its key envelope; the server's `name` is never shown.
      const name = p.from === this.participantId ? this.name : this._shownName(p.from).name;
      if (!this.ended) this.chat.add({ ...p, text, name });
    }).catch(() => {});
  }

  // ------------------------------------------------------------ the meeting

  _settings(s) {
    if (this.ended || !this.joined) return;
    const old = this.settings;
    this.settings = settingsFrom(s);
    this.ui.settingsChanged(old, this.settings);
  }

  async _waitingList(list) {
    if (this.ended || !this.joined) return;
    const seq = ++this.waitingSeq;
    const entries = (Array.isArray(list) ? list : [])
      .filter((w) => w && typeof w.participantId === 'string')
      // waitingMs is measured on the server, so a skewed local clock does not matter.
      .map((w) => ({
        participantId: w.participantId,
        name: this.e2ee ? '' : String(w.name || ''), // an encrypted meeting's server has no name
        since: Number.isFinite(w.waitingMs) ? new Date(Date.now() - w.waitingMs).toISOString() : String(w.since || ''),
        knockNonce: w.knockNonce,
        knockProof: w.knockProof,
        knockEph: w.knockEph,
        knockName: w.knockName,
      }));
    // Links are checked and names opened before the list is shown (a knock is announced by name).
    const [links, names] = await Promise.all([
      Promise.all(entries.map((w) => this._knockLink(w))),
      Promise.all(entries.map((w) => this._knockName(w))),
    ]);
    if (this.ended || seq !== this.waitingSeq) return;
    this.waiting = entries.map(({ knockNonce, knockProof, knockEph, knockName, ...w }, i) => {
      if (!this.e2ee) return { ...w, link: links[i] };
      // Only the name sealed to this moderator, for a verified link; else a placeholder.
      if (names[i] !== undefined) return { ...w, name: names[i], nameLabel: null, link: links[i] };
      const text = links[i] === 'wrong' ? UNKNOWN_TEXT : PENDING_TEXT;
      const label = links[i] === 'wrong' ? UNKNOWN_TEXT : PENDING_LABEL;
      return { ...w, name: t(text), nameLabel: t(label), link: links[i] };
    });
    for (const w of this.waiting) {
      if (w.link === 'wrong' && this.knockWrong.size < 1000) this.knockWrong.add(w.participantId);
    }
    this.ui.waitingChanged(this.waiting);
  }

  /** _encodings: the server says which camera layers some subscriber needs (layers.js). */
  _encodings(p) {
    const wish = parseActive(p);
    if (!wish || this.ended || !this.joined) return;
    // Before the publisher exists (E2EE starting) the wish waits; later ones queue behind it.
    this.whenPublishing().then((pub) => {
      if (pub && !this.ended) pub.setActiveLayers(wish.source, wish.active);
    });
  }

  /** _subscriber is the subscribe connection, made at the first call; null if it cannot be (fail closed). */
  _subscriber() {
    if (!this.subscriber) {
      if (!mediaCryptoReady()) return null; // an encrypted meeting without its worker
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
    if (this.ended || !this.joined || !p || !p.id) return;
    if (p.id === this.participantId) {
      // The server tells the member too when a moderator changed its role.
      const role = roleFrom(p.role);
      if (p.role && role !== this.role) {
        const old = this.role;
        this.role = role;
        if (role === 'moderator') this._sendLobbyKey();
        else this.lobbyKeySent = false;
        this.renderSelf();
        this.ui.roleChanged(old, role);
      }
      return;
    }
    if (this.departed.has(p.id)) {
      if (isNew && this.keys) this.keys.peerJoined(p.id); // counted as a roster warning there
      return;
    }
    const known = this.participants.get(p.id);
    if (isNew && !known && this.keys) this.keys.peerJoined(p.id); // before its name is looked at: a member of the roster
    const { name, nameLabel } = this._shownName(p.id, p.name || (known && known.name) || '');
    const entry = {
      id: p.id,
      name,
      nameLabel, // set while the name is a placeholder (no key envelope yet, or unverified)
      announce: known ? known.announce : isNew, // a join toast waits for the name
      role: p.role ? roleFrom(p.role) : (known ? known.role : 'participant'),
      media: { mic: false, camera: false, screen: false, ...(p.media || {}) },
      reconnecting: p.reconnecting === true, // the connection dropped; it may come back
    };
    this.participants.set(p.id, entry);
    this.grid.ensure({ participantId: p.id, source: 'camera', name: entry.name });
    this.grid.update(p.id, entry);
    const stray = this.strayTracks.get(p.id);
    this.strayTracks.delete(p.id);
    for (const info of stray || []) if (this._stillBound(info)) this._remoteTrack(info);
    if (entry.announce && !entry.nameLabel) {
      entry.announce = false;
      toast(t('meeting.joined-toast', { name: entry.name || t('waiting.someone') }));
    }
    this.ui.rosterChanged();
  }

  _participantLeft(id) {
    if (this.ended) return;
    const p = this.participants.get(id);
    this.participants.delete(id);
    this.strayTracks.delete(id);
    if (p) this.departed.add(id);
    if (p && this.keys) this.keys.peerLeft(id);
    this.names.forget(id);
    this.grid.removeParticipant(id);
    if (p) toast(t('meeting.left-toast', { name: (!p.nameLabel && p.name) || t('waiting.someone') }));
    this.ui.rosterChanged();
  }

  /**
   * _participantResumed: a reconnecting member is back on a new connection, with a new
   * identity key in an encrypted meeting. Only an id still in the roster can resume
   * (an id that left is never verified again); e2ee/FORMAT.md, "Resumed members".
   */
  _participantResumed(p) {
    if (this.ended || !this.joined || !p || !p.id || !this.participants.has(p.id)) return;
    if (this.keys) this.keys.peerResumed(p.id);
    this.names.resumed(p.id);
    this._participant({ ...p, reconnecting: false }, false);
  }

  _remoteTrack(info) {
    if (this.ended) return;
    const p = this.participants.get(info.participantId);
    if (!p) {
      // Not a member (yet, or any more): kept aside, shown only if that id joins.
      const stray = this.strayTracks.get(info.participantId) || [];
      if (stray.length >= 8 || (!stray.length && this.strayTracks.size >= 64)) return; // a server making up ids
      stray.push(info);
      this.strayTracks.set(info.participantId, stray);
      return;
    }
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
    this.grid.ensure({ participantId: info.participantId, source, name: p ? p.name : '', nameLabel: p ? p.nameLabel : null }).setTrack(info.track);
    if (p) this.grid.update(info.participantId, p);
  }

  /**
   * _stillBound: a track kept aside is still what the last subscribe offer says it is.
   * A receiver's track stays live when the server gives its mid to someone else (the
   * frames are then decrypted as that member's); replayed anyway, a track set aside as
   * a newcomer's would have shown another member's picture under the newcomer's name.
   */
  _stillBound(info) {
    const now = this.subscriber && this.subscriber.bound.get(info.mid);
    return !!now && now.track === info.track && now.participantId === info.participantId &&
      now.source === info.source && info.track.readyState === 'live';
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

  // ------------------------------------------------------------ errors and the end

  _serverError(p, env) {
    const code = p.code || 'internal';
    const ref = env && env.ref;
    if (ref && this.chatIds.has(ref)) {
      let text = 'chat.not-sent';
      if (code === 'invalid_field') text = 'chat.not-sent.invalid';
      else if (code === 'not_allowed') text = 'chat.not-sent.off';
      else if (code === 'rate_limited') text = 'chat.not-sent.rate';
      this.chat.notice(text);
      return;
    }
    if (code === 'meeting_full' && ref && this.sig && this.sig.typeOf(ref) === 'admit') {
      // A moderator's admit into a full meeting: refused, but the session carries on.
      this.ui.refused(code, 'admit');
      return;
    }
    if (FATAL_CODES.has(code)) {
      // The close that follows shows it.
      this.fatal = code;
      this.fatalInfo = { retryAfterMs: Number(p.retryAfterMs) || 0, lockedOut: !!p.lockedOut };
      return;
    }
    if (code === 'not_allowed' || code === 'unknown_participant') {
      this.ui.refused(code, this.sig ? this.sig.typeOf(ref) : undefined);
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
    if (this.bye && BYE_KINDS.has(this.bye)) kind = this.bye;
    else if (this.fatal) kind = this.fatal;
    else if (code === 1001) kind = 'shutdown';
    else kind = CLOSE_CODES[code] || 'disconnected';
    // 1001 without a `bye` is the browser's own going-away (Firefox reports it while the
    // page unloads); the server says `bye` `shutdown` before its 1001.
    if ((kind === 'disconnected' || (code === 1001 && !this.bye)) && this.joined && this.ui.dropped) {
      // Dropped without a goodbye: the membership waits for a resume (reconnect.js).
      this.end({ keepMedia: true, keepChat: true });
      if (this.ui.dropped()) return;
      this.media.stopAll();
      this.ui.failed(kind, this.fatalInfo);
      return;
    }
    if (kind === 'sent_to_lobby') {
      // Knock again at once, with the camera still on (meeting.js makes the new session).
      this.end({ keepMedia: true });
      this.ui.sentToLobby();
      return;
    }
    this._fail(kind);
  }

  _fail(kind) {
    if (this.ended) return;
    // A resume that did not make it keeps the camera for the next attempt.
    this.end({ keepMedia: AUTH_CODES.has(kind) || !!this.resume, keepChat: !!this.resume });
    this.ui.failed(kind, this.fatalInfo);
  }

  _mediaState(state) {
    if (this.ended || !this.joined) return;
    this._watchStuck();
    if (state === 'failed' && this.ui.mediaFailed) this.ui.mediaFailed(this);
    if (state === 'failed') this.ui.banner('meeting.media-failed', 'error');
    else if (state === 'disconnected') this.ui.banner('meeting.media-interrupted');
    else if (state === 'connected') this.ui.banner(null);
  }

  /**
   * _watchStuck: a media connection that stays "connecting" never reaches "failed" (ICE
   * checks can hang when candidates were lost around a reconnect), so nothing would
   * restart it. One that is still connecting after STUCK_MS is handled as failed.
   */
  _watchStuck() {
    const connecting = () => [this.publisher, this.subscriber].some((x) => x && x.pc && x.pc.connectionState === 'connecting');
    if (!connecting()) {
      clearTimeout(this._stuckTimer);
      this._stuckTimer = 0;
      return;
    }
    if (this._stuckTimer) return;
    this._stuckTimer = setTimeout(() => {
      this._stuckTimer = 0;
      if (!this.ended && connecting() && this.ui.mediaFailed) this.ui.mediaFailed(this, { stuck: true });
    }, STUCK_MS);
  }
}
