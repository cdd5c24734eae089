// A Session's way in (session.js): the waiting room, where a knock proves the link and
// the moderators' lobby keys are judged, the welcome, and the publish connection once
// media may be sent.

import { $, toast } from './dom.js';
import { Publisher } from './publisher.js';
import { SpeakerDetector } from './speaker.js';
import { ViewTracker } from './view-tracker.js';
import { downlinkView } from './downlink-ui.js';
import { uplinkHint } from './uplink-ui.js';
import { fitName } from './e2ee/keys.js';
import { KnockChecker, answerKnock, judgeLobbyKeys, lobbyKeyMessage } from './e2ee/knock.js';
import { t } from './i18n.js';
import { settingsFrom, revisionFrom, roleFrom, membersOf } from './session-values.js';

/**
 * LOBBY_KEY_RETRY_MS is how long after a `lobby_key` refused as rate_limited the server
 * takes one again: it takes 4 at once and one every 5 s after (PROTOCOL.md, "Lobby
 * keys"; the refusal carries no retryAfterMs), so one token has come back 5 s after any
 * refusal.
 */
export const LOBBY_KEY_RETRY_MS = 5000;

/** joinMethods are Session's (mixed into its prototype in session.js). */
export const joinMethods = {
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
    this._startHeartbeat();
    this.moderatorPresent = p.moderatorPresent !== false;
    // The knock's secret lets the page's next knock replace this one should the link drop.
    const knockSecret = typeof p.knockSecret === 'string' ? p.knockSecret : '';
    this.ui.lobby({ moderatorPresent: this.moderatorPresent, knockSecret, continued: p.knockContinued === true });
    this._answerKnock(p);
    if (p.e2ee === true) this._checkLobbyKeys(p.lobbyKeys);
  },

  /** _checkLobbyKeys tells the waiting screen what the moderators' lobby keys say of this link. */
  _checkLobbyKeys(keys) {
    const seq = ++this.lobbyKeysSeq;
    judgeLobbyKeys(this.crypto.identityKey, keys).then((verdict) => {
      if (this.ended || this.phase !== 'lobby' || seq !== this.lobbyKeysSeq) return;
      this.ui.lobbyLink?.(verdict);
    }, () => {});
  },

  /**
   * _sendLobbyKey publishes this moderator's session public key with its lobby tag, so
   * that knockers can check their own links (e2ee/FORMAT.md, "Lobby keys"). Once per
   * stretch as moderator, and again after a refusal (_lobbyKeyRefused); the server drops
   * it when the role goes.
   */
  _sendLobbyKey() {
    if (!this.e2ee || !this.keys || this.role !== 'moderator' || this.lobbyKeySent) return;
    this.lobbyKeySent = true;
    clearTimeout(this.lobbyKeyRetry); // this one goes in the place of a refused one
    this.lobbyKeyRetry = 0;
    const { keys } = this;
    this.keysStarted
      .then(() => lobbyKeyMessage(this.crypto.identityKey, this.participantId, keys.identity.publicKey))
      .then((msg) => {
        if (!this.ended && this.role === 'moderator' && this.sig && !this.sig.closed) this.sig.send('lobby_key', msg);
      }, () => {});
  },

  /**
   * _lobbyKeyRefused takes the server's rate_limited answer to this page's `lobby_key`:
   * the key is sent again, once, when the server takes one again (LOBBY_KEY_RETRY_MS),
   * where the page had sent it once a stretch as moderator and a refused key left every
   * knocker unable to check its link or seal its name to this moderator for the stay
   * (a resumed moderator's key refused after a run of resumes, 641ddae). A timer runs on
   * the page's monotonic clock (monotonic.js), which no step of the wall clock moves.
   * A further refusal is answered alike, so the page never sends faster than the
   * server's sustained rate.
   */
  _lobbyKeyRefused() {
    if (this.ended || this.lobbyKeyRetry) return;
    this.lobbyKeyRetry = setTimeout(() => {
      this.lobbyKeyRetry = 0;
      if (this.ended || this.role !== 'moderator') return; // a new stretch as moderator sends its own
      this.lobbyKeySent = false;
      this._sendLobbyKey();
    }, LOBBY_KEY_RETRY_MS);
  },

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
  },

  /** _knockLink judges a waiting-list entry's proof: 'verified', 'wrong' or 'checking'; null outside an encrypted meeting. */
  _knockLink(w) {
    if (!this.e2ee || !this.crypto) return Promise.resolve(null);
    return this._knockCheck().check(w);
  },

  /** _knockCheck is this session's KnockChecker, made at its first use with what the stay's checkers remembered. */
  _knockCheck() {
    if (!this.knockChecker) {
      this.knockChecker = new KnockChecker(this.crypto.identityKey, this.knockNonces);
      this.knockNonces = []; // the checker holds them now (knockNonceOwners)
    }
    return this.knockChecker;
  },

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
    const checker = this._knockCheck();
    if (!checker.moderator && this.keys.identity) checker.setModerator(this.keys.identity.privateKey, this.participantId);
    return checker.name(w);
  },

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
    this._startHeartbeat(); // the lobby's goes on
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
    this.settingsRevision = revisionFrom(welcome.settingsRevision);
    // The meeting those revisions count in (settings.js, welcomed).
    this.settingsEpoch = typeof welcome.settingsEpoch === 'string' ? welcome.settingsEpoch : '';
    // A moderator's resume: another moderator's last password change, which the page
    // may have missed while it reconnected (settings.js, missed).
    this.passwordRevision = revisionFrom(welcome.passwordRevision);
    this.joined = true;
    this._startMediaCrypto(welcome);
    if (welcome.limits && welcome.limits.maxChatChars) this.chat.setMaxChars(welcome.limits.maxChatChars);
    this.chat.selfId = this.participantId;
    this.grid.ensure({ participantId: this.participantId, source: 'camera', self: true, name: this.name });
    // The welcome's members are marked once, all of them listed (session-marks.js), and
    // the list of people is drawn once after them: marked and drawn as each was listed, a
    // welcome of n cost n markings and n drawings of up to n people each.
    this.listingWelcome = true;
    try {
      for (const p of membersOf(welcome)) this._participant(p, false);
    } finally {
      this.listingWelcome = false;
    }
    this._markNames();
    this.ui.rosterChanged();

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
  },

  /**
   * openPublisher opens the publish connection now (a screen share needs it), once media
   * may be sent, and resolves to it, or to null if there will be none.
   */
  openPublisher() {
    this.publisherWanted = true;
    this._startPublisher();
    return this.whenPublishing();
  },

  /**
   * send puts track on source's sender (null: send nothing). Without a publish connection
   * a track that is sent opens it: who listens with microphone and camera off has none,
   * and costs the server no connection (a webinar's audience: 200 idle ones cost it
   * 50–60 MB and 3,000 goroutines).
   */
  async send(source, track) {
    if (this.publisher) await this.publisher.replaceTrack(source, track);
    else if (track) this._publishIfSending();
  },

  /** _publishIfSending opens the publish connection if the microphone or the camera is on (or it was asked for). */
  _publishIfSending() {
    if (this.publisherWanted || this.media.micOn || this.media.cameraOn) this._startPublisher();
  },

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
    // Why the own video may go out in lower quality (uplink.js), on the session's clock.
    if (this.uplink) this.uplink.stop();
    this.uplink = uplinkHint(publisher, $('#uplink-hint'), this.clock);
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
  },
};
