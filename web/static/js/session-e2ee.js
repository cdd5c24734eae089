// A Session's end-to-end encryption (session.js): the worker and the key schedule
// installed at the welcome, what the page shows of it, the names from key envelopes.

import { MediaCrypto, discardWarmWorker, useMediaCrypto } from './e2ee-hooks.js';
import { SessionKeys } from './e2ee/session-keys.js';
import { UNKNOWN_TEXT, showName } from './e2ee-names.js';
import { t } from './i18n.js';
import { plainName } from './name-text.js';
import { membersOf } from './session-values.js';

/** e2eeMethods are Session's (mixed into its prototype in session.js). */
export const e2eeMethods = {
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
      left: [...this.departed], // before a resume: the ids that left the sessions of this stay before it
      warned: this.warned, // and what their key schedules refused
      identities: this.identities, // and the identities they refused after a member's resume
      ...this.chatCarried, // and the chat counters they took
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
    const ids = membersOf(welcome).map((p) => p && p.id).filter((id) => typeof id === 'string' && id);
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
  },

  _e2eeChanged() {
    if (this.ended) return;
    this._namesChanged(); // a member verified or not changes what its name may show
    this.ui.e2eeChanged();
  },

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
    if (this.uplink) this.uplink.stop();
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
  },

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
      // Refused key messages (roster.js); carried (carriedKinds: by kind): how many were
      // before the page's own resume, told by the session that had them (e2ee-roster-ui.js).
      warnings: this.keys
        ? { ...this.keys.warnings(), carried: this.keys.carriedWarnings(), carriedKinds: this.keys.carriedWarningKinds() }
        : { count: 0, kinds: {}, carried: 0, carriedKinds: {} },
      knockWrong: [...this.knockWrong], // admitted knockers this page saw as "Wrong link" (e2ee-self-link.js)
      pending: this.keys ? [...this.participants.keys()].filter((id) => this.keys.stateOf(id) === 'pending').length : 0,
      keyIndex: this.keys ? this.keys.keyIndex : -1,
      stats: this.mc ? { ...this.mc.stats } : { encrypted: 0, decrypted: 0, decryptFailed: 0 },
    };
  },

  // ---------------------------------------------------------------- names

  /**
   * _shownName is what the page shows as member id's name: in an encrypted meeting only
   * the name from its key envelope (e2ee/FORMAT.md, "Names"), never the server's string;
   * {name, nameLabel} where nameLabel, if set, is the accessible text of a placeholder.
   */
  _shownName(id, serverName) {
    if (!this.e2ee) return { name: plainName(serverName), nameLabel: null };
    return this.names.shown(id, this.keys ? this.keys.stateOf(id) : null, t);
  },

  /** _namesChanged applies the names from key envelopes to the roster. */
  _namesChanged() {
    if (this.ended || !this.e2ee) return;
    let changed = false;
    const joined = []; // told once the names are marked (session-marks.js)
    for (const entry of this.participants.values()) {
      const shown = this._shownName(entry.id);
      const { name, nameLabel } = shown;
      const was = entry.nameLabel ? entry.name : entry.given; // a name as given, not as marked
      if (name !== was || nameLabel !== entry.nameLabel) {
        // The join toast waited for the name; a member that turned out unverified is "Someone".
        const settled = !nameLabel || nameLabel === t(UNKNOWN_TEXT);
        const first = entry.announce && settled;
        showName(entry, shown);
        entry.given = nameLabel ? '' : name;
        this.grid.update(entry.id, shown);
        changed = true;
        if (first) {
          entry.announce = false;
          joined.push(entry);
        }
      }
    }
    if (changed) this._markNames();
    for (const entry of joined) this._toldJoined(entry);
    if (changed) this.ui.rosterChanged();
  },

  /**
   * carriedChat is what the session a resume starts takes of this stay's chat counters
   * (carriedOver, session-roster.js): per member id (the own included) the last counter
   * taken from it, and the own last counter (SessionKeys' chatCounters, chatCounter),
   * those given at this session's start until it has its own key schedule. Without them
   * the server could show the resumed page a text this stay showed before the drop.
   * Ids and numbers only, in this page's memory only.
   */
  carriedChat() {
    if (!this.keys) return { ...this.chatCarried };
    return { chatCounters: this.keys.chatCounters(), chatCounter: this.keys.chatCounter };
  },
};
