// One stay in a meeting: the websocket, the way in (password, waiting room), the
// publish and subscribe connections, the roster with roles, the meeting's settings,
// remote audio and the active-speaker detector. A new Session is made for every
// (re)join and every knock; end() forgets everything it held.

import { Signaling, PROTOCOL_VERSION, E2EE_VERSION } from './signaling.js';
import { MemberNames, showName } from './e2ee-names.js';
import { DEFAULT_SETTINGS, revisionFrom } from './session-values.js';
import { joinMethods } from './session-join.js';
import { e2eeMethods } from './session-e2ee.js';
import { rosterMethods } from './session-roster.js';
import { Heartbeat, realClock } from './heartbeat.js';
import { PresenceToasts } from './presence-toasts.js';
import { MODERATOR_TYPES } from './moderator.js';

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

export class Session {
  /**
   * @param {{meetingId: string, name: string, password?: string, moderatorSecret?: string,
   *          media: LocalMedia, grid: Grid, chat: Chat, ui: object,
   *          e2ee?: {crypto: Promise<MeetingCrypto>|null, api: 'legacy'|'script'|null}}} opts
   * ui: joined(), lobby({moderatorPresent, knockSecret, continued}), lobbyLink(verdict), failed(kind, info), left(), sentToLobby(),
   *     dropped(people) (a joined session's link dropped: true when the page resumes, and
   *     then keeps people, everyone() before the drop, and the tiles in view meanwhile),
   *     banner(key|null, kind?), rosterChanged(), roleChanged(old, now),
   *     settingsChanged(old, now, ref, changed), waitingChanged(list), mediaCommand(command, by, all),
   *     refused(code, type, ref), e2eeChanged()
   *
   * clock (tests: harness.mjs FakeClock) times the heartbeat (heartbeat.js).
   *
   * presence tells joins and leaves (presence-toasts.js): the page's one, so that those
   * of a resumed session are gathered with those before the drop; its own by default.
   *
   * replaceKnock is the knockSecret of this page's knock whose connection dropped: the
   * join asks the server to put this knock in its place (PROTOCOL.md, "Knocking again").
   *
   * e2ee.crypto is the meeting's keys from the link's secret (null: the link has none).
   * With it, the name never goes to the server: it travels inside the key envelopes
   * (e2ee/FORMAT.md, "Names"); whether the meeting is end-to-end encrypted is known only
   * at `welcome` (welcome.e2ee).
   */
  constructor({ meetingId, name, password = '', moderatorSecret = '', media, grid, chat, ui, e2ee = {}, resume = null, replaceKnock = '', clock = realClock, presence = null }) {
    this.meetingId = meetingId;
    this.replaceKnock = replaceKnock;
    this.resume = resume; // {participantId, secret}: take a dropped membership back (reconnect.js)
    this.name = name;
    this.password = password;
    this.moderatorSecret = moderatorSecret;
    this.media = media;
    this.grid = grid;
    this.chat = chat;
    this.ui = ui;
    this.sig = null;
    this.clock = clock;
    this.presence = presence || new PresenceToasts({ clock });
    this.heartbeat = null; // pings the server from the lobby or the welcome on (_startHeartbeat)
    this.phase = 'connecting'; // connecting | lobby | joined
    this.participantId = null;
    this.role = 'participant';
    this.settings = { ...DEFAULT_SETTINGS };
    this.settingsRevision = 0; // the revision of this.settings (update_settings names it)
    this.settingsEpoch = ''; // the welcome's settingsEpoch: the meeting the revisions count in
    this.passwordRevision = 0; // a resumed moderator's welcome: another's last password change
    // [{participantId, name, nameLabel, since, link}] (moderators only); null until the first
    // `waiting_list` (session-roster.js), which comes after the welcome: an empty list
    // says nobody waits, which a session that has none yet does not know.
    this.waiting = null;
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
    this.uplink = null; // UplinkHint: why the own video is sent in lower quality (uplink-ui.js)
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
    this.chatQueue = []; // received encrypted chat, in the order it came, until shown (session-roster.js)
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
    sig.on('participant_updated', (p) => this._participantUpdated(p.participant));
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
    sig.on('settings', (p, env) => this._settings(p.settings, env && env.ref, p));
    sig.on('waiting_list', (p) => this._waitingList(p.waiting));
    sig.on('access_attempts', (p) => { if (!this.ended) this.ui.accessAttempts?.(p.wrongPasswords); });
    sig.on('media_command', (p) => { if (this.joined && !this.ended) this.ui.mediaCommand(p.command, p.by, p.all === true); });
    sig.on('bye', (p) => { this.bye = p.reason || 'left'; });
    sig.on('error', (p, env) => this._serverError(p, env));
    sig.onclose = (ev) => this._closed(ev);
    sig.onreceive = () => { if (this.heartbeat) this.heartbeat.heard(); };

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
    if (this.replaceKnock) join.replaceKnock = this.replaceKnock;
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
    if (this.heartbeat) this.heartbeat.stop(); // a goodbye needs no check of the link
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
   * keepScreen (with keepMedia) keeps the screen share too: the connection dropped and
   * the page resumes, which sends it again (Controls.resumeScreen); whoever gives the
   * resume up stops it (Reconnect's release). keepTiles leaves the tiles standing for the
   * page to show while it resumes (held-roster.js, which clears them if it does not); a
   * session that was never joined made none, and leaves the grid alone: the tiles there
   * are the page's, held from the session that dropped before it.
   */
  end({ keepMedia = false, keepChat = false, keepScreen = false, keepTiles = false } = {}) {
    if (this.ended) return;
    this.ended = true;
    clearTimeout(this.joinTimer);
    if (this.heartbeat) this.heartbeat.stop();
    this.wasMicOn = !!this.media.micTrack;
    this.wasCameraOn = this.media.cameraOn;
    if (this.unwatchMic) this.unwatchMic();
    if (this.publisher) this.publisher.close();
    if (this.uplink) this.uplink.stop(); // a new connection starts without the hint
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
    this.waiting = null;
    if (this.sig) {
      this.sig.onclose = null;
      this.sig.close();
    }
    if (!keepMedia) this.media.stopAll();
    else if (!keepScreen) this.media.stopScreen();
    if (this.joined && !keepTiles) this.grid.clear();
    if (!keepChat) this.chat.clear();
  }

  /**
   * drop gives the websocket of a joined session up as dropped, now (reconnect.js: the
   * media failed and an ICE restart did not bring it back): the page resumes on a new
   * one as after a drop. Closing it alone would wait for the server's close frame, which
   * never comes over a dead path (the browser reports the close only after its
   * closing-handshake timeout).
   */
  drop() {
    if (this.ended || this.leaving || !this.joined) return;
    this._closed({ code: 1006 }); // ends the session (closing the socket) and resumes
  }

  /**
   * _startHeartbeat checks the websocket from here on (heartbeat.js): from the `lobby` or
   * the `welcome` on, not before, so that a resume has nothing behind it before its
   * welcome (PROTOCOL.md, "Reconnecting"); until then the join's own timer watches.
   */
  _startHeartbeat() {
    if (this.heartbeat || this.ended || this.leaving) return;
    this.heartbeat = new Heartbeat({
      send: (n) => { if (!this.ended && this.sig && !this.sig.closed) this.sig.send('ping', { n }); },
      dead: () => this._linkDead(),
      clock: this.clock,
    });
    this.heartbeat.start();
  }

  /**
   * _linkDead: nothing came from the server for too long, pings included. The websocket
   * is given up at once, as after a drop: a member resumes on a new one (reconnect.js),
   * as when its media failed; a waiting person knocks again (reknock.js). Closing
   * it alone would wait for a close frame that a dead path never brings.
   */
  _linkDead() {
    if (this.ended || this.leaving) return;
    console.warn('conclave: the server has not answered for a while; the connection is given up');
    // A knock that is not dead after all must not stay in the waiting room as a ghost;
    // a member says no goodbye, so that its membership waits for the resume.
    if (!this.joined && this.sig && !this.sig.closed) this.sig.send('leave');
    this._closed({ code: 1006 });
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
    // The screen counts as shared once it is on this session's publish connection: a
    // share kept across a drop (end keepScreen) is not yet sent on a resumed session
    // until Controls.resumeScreen puts it there (and may stop it, not allowed).
    const t = this.publisher && !this.publisher.closed && this.publisher.transceivers.screen;
    const screen = m.screenOn && !!t && t.direction === 'sendonly' && t.sender.track === m.screenTrack;
    // What it said is kept: a refusal of it (rules.js) is the camera's stop only if it
    // turned the camera on.
    this.lastMediaState = { mic: m.micOn, camera: m.cameraOn, screen };
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
    // A placeholder name stays read when read (e2ee-names.js placeholder): a list kept
    // past this session (held-roster.js) follows a switch of language too.
    const others = Array.from(this.participants.values()).map((p) => Object.assign(showName({}, p), {
      media: { ...p.media }, e2ee: this.keys ? this.keys.stateOf(p.id) : null,
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
    const type = this.sig ? this.sig.typeOf(ref) : undefined;
    if (code === 'settings_changed' && revisionFrom(p.revision) > this.settingsRevision) {
      // Another moderator's change the refusal carries, if its `settings` has not
      // come yet: the page shows what holds before it says why nothing changed.
      this._settings(p.settings, '', { revision: p.revision });
    }
    // A refused change of settings shows the settings as they are (the box clicked
    // back) and says why; so does a new password refused for coming too fast.
    // Any refusal of update_settings is told: one may answer a new password (its ref);
    // and any of a moderator's message, whose success it is told of (`done`).
    if (code === 'not_allowed' || code === 'unknown_participant' || MODERATOR_TYPES.has(type)) {
      this.ui.refused(code, type, ref);
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
      // Dropped without a goodbye: the membership waits for a resume (reconnect.js),
      // and so does the screen share: picking it again at every blip is no resume. The
      // page shows the meeting as it was meanwhile (held-roster.js): who was there, and
      // the tiles.
      const people = this.everyone();
      this.end({ keepMedia: true, keepChat: true, keepScreen: true, keepTiles: true });
      if (this.ui.dropped(people)) return;
      this.grid.clear();
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
    if (!this.joined && !this.resume && this.ui.waitingDropped && this.ui.waitingDropped(kind)) {
      // A waiting person's knock went with its link: the page knocks again
      // (reknock.js), the camera still on for the waiting screen's preview.
      this.end({ keepMedia: true });
      return;
    }
    // A resume that did not make it keeps the camera for the next attempt, and the
    // screen share if it is still to come back (one that never comes back is let go:
    // Reconnect's release).
    const resuming = !!this.resume && !this.joined;
    this.end({ keepMedia: AUTH_CODES.has(kind) || !!this.resume, keepChat: !!this.resume, keepScreen: resuming });
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

// The rest of Session, by part: session-join.js, session-e2ee.js, session-roster.js.
Object.assign(Session.prototype, joinMethods, e2eeMethods, rosterMethods);
