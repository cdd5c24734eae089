// One stay in a meeting: the websocket, the way in (password, waiting room), the
// publish and subscribe connections, the roster with roles, the meeting's settings,
// remote audio and the active-speaker detector. A new Session is made for every
// (re)join and every knock; end() forgets everything it held.

import { Signaling, PROTOCOL_VERSION, E2EE_VERSION, OPEN_TIMEOUT_MAX_MS } from './signaling.js';
import { MemberNames, showName } from './e2ee-names.js';
import { DEFAULT_SETTINGS } from './session-values.js';
import { joinMethods } from './session-join.js';
import { e2eeMethods } from './session-e2ee.js';
import { rosterMethods, MAX_KNOCK_WRONG } from './session-roster.js';
import { marksMethods } from './session-marks.js';
import { NameMarks } from './name-marks.js';
import { endMethods } from './session-end.js';
import { realClock } from './heartbeat.js';
import { PresenceToasts } from './presence-toasts.js';
import { MAX_DEAD_IDS } from './e2ee/roster.js';
import { validId } from './e2ee/keys.js';

export { AUTH_CODES, FATAL_CODES } from './session-end.js';

const JOIN_TIMEOUT_MS = 20000;

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
   * openTimeoutMs bounds the wait for the websocket to open: a resume's attempt gets its
   * own (Reconnect, signaling.js openTimeoutMs), a join the longest.
   *
   * e2ee.crypto is the meeting's keys from the link's secret (null: the link has none).
   * With it, the name never goes to the server: it travels inside the key envelopes
   * (e2ee/FORMAT.md, "Names"); whether the meeting is end-to-end encrypted is known only
   * at `welcome` (welcome.e2ee).
   */
  constructor({ meetingId, name, password = '', moderatorSecret = '', media, grid, chat, ui, e2ee = {}, resume = null, openTimeoutMs = OPEN_TIMEOUT_MAX_MS, replaceKnock = '', clock = realClock, presence = null, left = [], warned = {}, knockWrong = [], knockNonces = [], identities = [], chatCounters = [], chatCounter = 0, nameMarks = null }) {
    this.meetingId = meetingId;
    this.replaceKnock = replaceKnock;
    this.resume = resume; // {participantId, secret}: take a dropped membership back (reconnect.js)
    this.openTimeoutMs = openTimeoutMs; // how long its websocket may take to open (signaling.js)
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
    // With a resume, the knock nonces the sessions of this stay showed before it, each
    // with the knocker it was first shown for (the dropped session's knockNonceOwners),
    // for the checker this session makes: a nonce shown again for another knocker after
    // the drop is a replay still (e2ee/FORMAT.md, "Knock proof"). The checker bounds them.
    this.knockNonces = resume && Array.isArray(knockNonces) ? knockNonces : [];
    // Knockers this page saw with a wrong link (session-roster.js), and with a resume those
    // the sessions of this stay saw before it (knockWrong: the dropped session's
    // knockWrongIds): admitted, they are still the ones the page knows to be wrong.
    this.knockWrong = new Set(resume ? [...knockWrong].filter(validId).slice(0, MAX_KNOCK_WRONG) : []);
    this.lobbyKeysSeq = 0; // the newest `lobby` message whose lobby keys are being checked
    this.lobbyKeySent = false; // this moderator published its lobby key
    this.lobbyKeyRetry = 0; // the timer that sends a refused lobby key again (_lobbyKeyRefused)
    this.moderatorPresent = null;
    this.participants = new Map(); // remote id -> {id, name (as shown: marked, session-marks.js), given, nameLabel?, role, media}
    this.names = new MemberNames(); // names from key envelopes (e2ee-names.js)
    // The marks on names that look alike (session-marks.js), and with a resume those of
    // the sessions of this stay before it (the dropped session's nameMarks): a member
    // keeps its number across the drop.
    this.nameMarks = resume && nameMarks instanceof NameMarks ? nameMarks : new NameMarks();
    this.listingWelcome = false; // the welcome's members are being listed: marked and drawn once after
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
    // Ids that left this session, and with a resume those that left the sessions of
    // this stay before it (left: the dropped session's leftIds): ids are never reused, so
    // one announced again is the server lying (e2ee/FORMAT.md, "Identity per session"):
    // a warning, never a member.
    // At most MAX_DEAD_IDS, the key schedule's bound (e2ee/roster.js): once it holds
    // that many, an encrypted meeting's page lists nobody new (session-roster.js).
    this.departed = new Set(resume ? [...left].filter(validId).slice(0, MAX_DEAD_IDS) : []);
    // What the key schedules of this stay refused before a resume, by kind (the dropped
    // session's warnedKinds): still warned about, a server cannot wipe it with a drop.
    this.warned = resume && warned && typeof warned === 'object' ? { ...warned } : {};
    // And per member id the identities they refused after its resume (the dropped
    // session's earlierIdentities), for this session's key schedule, which bounds them:
    // the server cannot replay here what a live member used before its own resume.
    this.identities = resume && Array.isArray(identities) ? identities : [];
    // And the chat counters they took, per member and the own (the dropped session's
    // carriedChat), for this session's key schedule, which checks them: the server
    // cannot show here a chat text a session before the resume showed.
    this.chatCarried = resume ? { chatCounters, chatCounter } : {};
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
      await sig.connect(this.openTimeoutMs);
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
      this.sig.send('chat', { text });
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
      this.sig.send('chat', { text: cipher });
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
}

// The rest of Session, by part: session-join.js, session-e2ee.js, session-roster.js,
// session-marks.js, session-end.js.
Object.assign(Session.prototype, joinMethods, e2eeMethods, rosterMethods, marksMethods, endMethods);
