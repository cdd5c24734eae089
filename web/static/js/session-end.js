// A Session's end (session.js): the goodbye, the close of everything it held, the
// heartbeat that finds a dead link, the server's errors and the websocket's close, what
// each means for the page (a resume, the waiting room again, an error screen), and the
// media connections' state.

import { Heartbeat } from './heartbeat.js';
import { revisionFrom } from './session-values.js';
import { MODERATOR_TYPES } from './moderator.js';

/** Errors on the way in that send the person back to the pre-join screen (password). */
export const AUTH_CODES = new Set(['password_required', 'wrong_password', 'too_many_attempts']);
/** Reasons a session ends with an error screen; their texts are status.js FATAL. */
export const FATAL_CODES = new Set(['resume_failed', 'unknown_meeting', 'meeting_full', 'wrong_moderator_secret', 'unsupported_version', 'e2ee_version', 'not_encrypted', 'too_many_errors', ...AUTH_CODES]);
/** `bye` reasons that end the session with their own screen (`left` is a normal goodbye). */
const BYE_KINDS = new Set(['shutdown', 'replaced', 'denied', 'locked', 'lobby_full', 'expired', 'removed', 'sent_to_lobby', 'ended']);
const CLOSE_CODES = {
  4400: 'unsupported_version', 4401: 'wrong_password', 4403: 'meeting_full', 4404: 'unknown_meeting',
  4409: 'removed', 4429: 'too_many_errors',
};
// A media connection still "connecting" this long is stuck (session._watchStuck).
const STUCK_MS = 15000;

/** endMethods are Session's (mixed into its prototype in session.js). */
export const endMethods = {
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
  },

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
    clearTimeout(this.lobbyKeyRetry);
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
  },

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
  },

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
  },

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
  },

  // ------------------------------------------------------------ errors and the end

  _serverError(p, env) {
    const code = p.code || 'internal';
    const ref = env && env.ref;
    // A refusal of a chat message this page sent: the connection knows the type of
    // the last messages it sent, and no list of every chat message's id is kept.
    if (ref && this.sig && this.sig.typeOf(ref) === 'chat') {
      let text = 'chat.not-sent';
      if (code === 'invalid_field') text = 'chat.not-sent.invalid';
      else if (code === 'not_allowed') text = 'chat.not-sent.off';
      else if (code === 'rate_limited') text = 'chat.not-sent.rate';
      this.chat.notice(text);
      return;
    }
    if (code === 'rate_limited' && ref && this.sig && this.sig.typeOf(ref) === 'lobby_key') {
      this._lobbyKeyRefused(); // sent again when the server takes one (session-join.js)
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
  },

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
  },

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
  },

  _mediaState(state) {
    if (this.ended || !this.joined) return;
    this._watchStuck();
    if (state === 'failed' && this.ui.mediaFailed) this.ui.mediaFailed(this);
    if (state === 'failed') this.ui.banner('meeting.media-failed', 'error');
    else if (state === 'disconnected') this.ui.banner('meeting.media-interrupted');
    else if (state === 'connected') this.ui.banner(null);
  },

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
  },
};
