// A Session's meeting (session.js): chat, settings, the waiting list, the roster, and
// the remote tracks the subscribe connection brings.

import { $, announce } from './dom.js';
import { Subscriber } from './subscriber.js';
import { parseActive } from './layers.js';
import { mediaCryptoReady } from './e2ee-hooks.js';
import { UNREADABLE } from './e2ee/session-chat.js';
import { validId } from './e2ee/keys.js';
import { MAX_DEAD_IDS } from './e2ee/roster.js';
import { PENDING_LABEL, PENDING_TEXT, UNKNOWN_TEXT, placeholder, showName } from './e2ee-names.js';
import { t } from './i18n.js';
import { plainName } from './name-text.js';
import { settingsFrom, revisionFrom, roleFrom, readable } from './session-values.js';
import { monotonicNow } from './monotonic.js';

/** MAX_KNOCK_WRONG bounds the knockers a page keeps as seen with a wrong link (knockWrong). */
export const MAX_KNOCK_WRONG = 1000;

/**
 * MAX_WAITING is the most knockers a waiting list may hold: the server's ceiling on its
 * waiting room (lobby.MaxWaitingCeiling, kept equal by signaling's
 * TestPagesBoundsAreTheServers), which no honest list exceeds whatever the operator set.
 */
export const MAX_WAITING = 10000;

/** rosterMethods are Session's (mixed into its prototype in session.js). */
export const rosterMethods = {
  _chat(p) {
    if (!this.joined || this.ended) return;
    if (!this.e2ee) {
      // A member's name as the roster has it (marked where it looks like another's,
      // session-marks.js); else the message's, made plain.
      const member = this.participants.get(p.from);
      this.chat.add(p, { name: member ? member.name : plainName(p.name), nameLabel: null });
      return;
    }
    // Shown in the order they came. A text that waits for its sender's key (more than a
    // moment, up to 10 s) holds its place, "waiting for the key", and is filled in when
    // it opens; the other senders' texts behind it do not wait for it (a member without
    // the link's key sending junk held every later text back for 10 s each).
    const entry = { p, text: null, waits: false, line: null, placeholder: false };
    this.chatQueue.push(entry);
    const opening = this.keys ? this.keys.decryptChat(p.from, p.text, () => {
      entry.waits = true;
      this._showChat();
    }) : Promise.resolve(UNREADABLE);
    opening.then((text) => {
      entry.text = readable(text);
      if (!entry.line) {
        this._showChat();
        return;
      }
      // A line already shown is completed, also after the meeting ended (with what
      // opened, or as unreadable). Its sender's name replaces only a placeholder name,
      // and only while the meeting is on: a sender that left meanwhile, or a session
      // that ended, has only a placeholder for it now.
      const now = this.ended ? null : this._chatName(p.from);
      entry.line.fill(entry.text, entry.placeholder && now && !now.nameLabel ? now.name : undefined);
    }).catch(() => {});
  },

  /** _showChat shows the received texts at the head of the queue that opened or wait. */
  _showChat() {
    while (this.chatQueue.length) {
      const e = this.chatQueue[0];
      if (e.text === null && !e.waits) return;
      this.chatQueue.shift();
      if (this.ended) continue;
      const sender = this._chatName(e.p.from);
      e.placeholder = !!sender.nameLabel;
      e.line = this.chat.add({ ...e.p, text: e.text ?? '', pending: e.text === null }, sender);
    }
  },

  /**
   * _chatName is the sender's name from its key envelope (the server's `name` is never
   * shown) as the roster shows it (marked where it looks like another's, session-marks.js),
   * {name, nameLabel}: nameLabel set while it is a placeholder (no envelope yet,
   * unverified, or gone), whose texts are read when read (the chat's line follows a switch
   * of language with them).
   */
  _chatName(from) {
    if (from === this.participantId) return { name: this.name, nameLabel: null };
    const member = this.participants.get(from);
    if (member && !member.nameLabel) return { name: member.name, nameLabel: null };
    return this._shownName(from);
  },

  // ------------------------------------------------------------ the meeting

  /**
   * _settings takes the settings of a `settings` message (p: its payload, for its
   * revision and the fields it changed) or of a settings_changed refusal (no ref).
   */
  _settings(s, ref, p = {}) {
    if (this.ended || !this.joined) return;
    const old = this.settings;
    this.settings = settingsFrom(s);
    this.settingsRevision = revisionFrom(p.revision);
    const changed = Array.isArray(p.changed) ? p.changed.filter((f) => typeof f === 'string') : [];
    this.ui.settingsChanged(old, this.settings, ref, changed); // ref: it answers this page's update_settings
  },

  async _waitingList(list) {
    if (this.ended || !this.joined) return;
    const seq = ++this.waitingSeq;
    // An entry's id is checked as a member's is (keys.js, validId: at most the server's
    // 64 bytes): only a lying server lists another, which is neither shown nor kept in
    // any of the page's memories of knockers (knockWrong, the knock checker's nonces),
    // and in an encrypted meeting is a roster warning, as an announced one is. So is a
    // list longer than any waiting room (MAX_WAITING): what is beyond is neither checked
    // nor kept, and is one warning, however long the list.
    const all = Array.isArray(list) ? list : [];
    if (all.length > MAX_WAITING && this.e2ee && this.keys) this.keys.refuseInvalid();
    const valid = all.slice(0, MAX_WAITING).filter((w) => {
      if (!w || typeof w !== 'object') return false;
      if (validId(w.participantId)) return true;
      if (this.e2ee && this.keys) this.keys.refuseInvalid();
      return false;
    });
    const entries = valid
      // waitingMs is measured on the server, so a skewed local clock does not matter; the
      // page counts on from it on its monotonic clock (waiting.js waitedFor), which no
      // step of the wall clock moves.
      .map((w) => ({
        participantId: w.participantId,
        name: this.e2ee ? '' : plainName(w.name), // an encrypted meeting's server has no name
        waitedSince: Number.isFinite(w.waitingMs) ? monotonicNow() - w.waitingMs : undefined,
        since: String(w.since || ''),
        continues: validId(w.continues) ? w.continues : '', // the knock this one took the place of
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
      if (names[i] !== undefined) return { ...w, name: plainName(names[i]), nameLabel: null, link: links[i] };
      const text = links[i] === 'wrong' ? UNKNOWN_TEXT : PENDING_TEXT;
      const label = links[i] === 'wrong' ? UNKNOWN_TEXT : PENDING_LABEL;
      return placeholder({ ...w, link: links[i] }, text, label, t);
    });
    for (const w of this.waiting) {
      if (w.link === 'wrong' && validId(w.participantId) && this.knockWrong.size < MAX_KNOCK_WRONG) this.knockWrong.add(w.participantId);
    }
    // A knocker called like a member (or a member like a knocker) is marked in both lists.
    if (this._markNames(false)) this.ui.rosterChanged();
    this.ui.waitingChanged(this.waiting);
  },

  /** _encodings: the server says which camera layers some subscriber needs (layers.js). */
  _encodings(p) {
    const wish = parseActive(p);
    if (!wish || this.ended || !this.joined) return;
    // Before the publisher exists (E2EE starting) the wish waits; later ones queue behind it.
    this.whenPublishing().then((pub) => {
      if (pub && !this.ended) pub.setActiveLayers(wish.source, wish.active);
    });
  },

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
  },

  _participant(p, isNew) {
    // An id the key schedule would refuse (validId) is never listed: it would be shown
    // without ever being marked unverified. Its join is a roster warning there.
    if (this.ended || !this.joined || !p) return;
    if (!validId(p.id)) {
      if (isNew && this.keys) this.keys.peerJoined(p.id);
      return;
    }
    if (p.id === this.participantId) {
      // The server tells the member too when a moderator changed its role.
      const role = roleFrom(p.role);
      if (p.role && role !== this.role) {
        const old = this.role;
        this.role = role;
        if (role === 'moderator') this._sendLobbyKey();
        else this.lobbyKeySent = false;
        if (old === 'moderator' && role !== 'moderator') {
          // No list comes to a member who is not a moderator: the one kept would be
          // stale when the role comes back (its `waiting_list` follows), so there is none.
          this.waiting = null;
          this.waitingSeq++; // nor is one being worked out kept
        }
        this.renderSelf();
        this.ui.roleChanged(old, role);
      }
      return;
    }
    if (this.departed.has(p.id) || (this._departedFull() && !this.participants.has(p.id))) {
      // An id that left, or a new one once the page can remember no more that leave: the
      // key schedule refuses it (roster.js, MAX_DEAD_IDS), counted as a warning there.
      if (isNew && this.keys) this.keys.peerJoined(p.id);
      return;
    }
    const known = this.participants.get(p.id);
    if (isNew && !known && this.keys) this.keys.peerJoined(p.id); // before its name is looked at: a member of the roster
    const entry = {
      id: p.id,
      announce: known ? known.announce : isNew, // a join toast waits for the name
      after: known ? known.after : isNew, // joined after this page (the order of marks, session-marks.js)
      role: p.role ? roleFrom(p.role) : (known ? known.role : 'participant'),
      media: { mic: false, camera: false, screen: false, ...(p.media || {}) },
      reconnecting: p.reconnecting === true, // the connection dropped; it may come back
    };
    // name, and nameLabel while the name is a placeholder (no key envelope yet, or
    // unverified), which is read in the page's language when read (e2ee-names.js).
    const shown = this._shownName(p.id, p.name || (known && known.given) || '');
    showName(entry, shown);
    entry.given = shown.nameLabel ? '' : shown.name; // the name as given; name is as shown, marked
    this.participants.set(p.id, entry);
    this._markNames();
    this.grid.ensure({ participantId: p.id, source: 'camera', name: entry.name });
    this.grid.update(p.id, entry);
    const stray = this.strayTracks.get(p.id);
    this.strayTracks.delete(p.id);
    for (const info of stray || []) if (this._stillBound(info)) this._remoteTrack(info);
    if (entry.announce && !entry.nameLabel) {
      entry.announce = false;
      this._toldJoined(entry);
    }
    // A welcome's members are drawn once, all of them listed (session-join.js).
    if (!this.listingWelcome) this.ui.rosterChanged();
  },

  /**
   * _toldJoined tells that member entry joined, gathered with the others close in time
   * (presence-toasts.js); said while it is still in the meeting.
   */
  _toldJoined(entry) {
    const { id } = entry;
    this.presence.joined(entry, () => !this.ended && this.participants.has(id));
  },

  /**
   * _participantUpdated: a member's role or media changed. Only a member the page lists
   * (from the welcome, or announced by participant_joined) changes: an update for
   * another id is the server making one up, which would be listed without the key
   * schedule knowing it (never marked unverified).
   */
  _participantUpdated(p) {
    if (!p || (p.id !== this.participantId && !this.participants.has(p.id))) return;
    this._participant(p, false);
  },

  _participantLeft(id) {
    if (this.ended) return;
    const p = this.participants.get(id);
    this.participants.delete(id);
    this.strayTracks.delete(id);
    if (p && this.departed.size < MAX_DEAD_IDS) this.departed.add(id); // once full, nobody new is listed (_departedFull)
    if (p && this.keys) this.keys.peerLeft(id);
    this.names.forget(id);
    if (this.nameMarks) this.nameMarks.forget(id);
    this.grid.removeParticipant(id);
    if (p) this.presence.left(p); // gathered with the others close in time (presence-toasts.js)
    this.ui.rosterChanged();
  },

  /**
   * _departedFull tells whether the page remembers MAX_DEAD_IDS ids that left, as many as
   * its key schedule does (e2ee/roster.js): an id that leaves then cannot be remembered
   * as dead, so an encrypted meeting's page fails closed and lists nobody it does not
   * list already. Without encryption the server is trusted with everything anyway, and
   * an id that could not be remembered may come back (nobody is refused).
   */
  _departedFull() {
    return this.e2ee && this.departed.size >= MAX_DEAD_IDS;
  },

  /**
   * carriedOver is what the session a resume starts takes of this one, as its options
   * (meeting.js join): a resume continues this stay, so what the page learnt of it stays
   * known across the drop (each part below; the marks on names that look alike,
   * session-marks.js). A reload takes none of it.
   */
  carriedOver() {
    return {
      left: this.leftIds(),
      warned: this.warnedKinds(),
      knockWrong: this.knockWrongIds(),
      knockNonces: this.knockNonceOwners(),
      identities: this.earlierIdentities(),
      ...this.carriedChat(), // chatCounters, chatCounter (session-e2ee.js)
      nameMarks: this.nameMarks,
    };
  },

  /**
   * leftIds are the ids that left this stay in the meeting as far as this session knows
   * (those it was given at its start included): the session a resume starts takes them
   * (carriedOver, `left`), so that an id that left before the page's connection dropped
   * stays dead after the resume (e2ee/FORMAT.md, "Identity per session"). Ids only,
   * nothing else about the people, and in this page's memory only.
   */
  leftIds() {
    return [...this.departed];
  },

  /**
   * warnedKinds is what this stay's key schedules refused so far, {kind: number} (those
   * given at this session's start included, until it has its own key schedule): the
   * session a resume starts takes it (carriedOver, `warned`), so that a server cannot
   * wipe the page's tampering warning by dropping its connection (e2ee/FORMAT.md,
   * "Identity per session"). Counts by kind only.
   */
  warnedKinds() {
    return this.keys ? this.keys.warnings().kinds : { ...this.warned };
  },

  /**
   * earlierIdentities is, per member id, the identities this stay's key schedules
   * refuse after that member's own resume, [[id, [hex public key, …]]] (those given at
   * this session's start, until it has its own key schedule): the session a resume
   * starts takes them (carriedOver, `identities`), so that the server cannot replay
   * there an identity a live member had before its resume, which that session never saw
   * (e2ee/FORMAT.md, "Resumed members"). Ids and public keys only, in this page's memory
   * only, bounded by the key schedule (seen-keys.js, MAX_IDENTITIES).
   */
  earlierIdentities() {
    return this.keys ? this.keys.earlierIdentities() : [...this.identities];
  },

  /**
   * knockWrongIds are the knockers this stay's waiting lists showed with a wrong link
   * (those it was given at its start included): the session a resume starts takes them
   * (carriedOver, `knockWrong`), so that one admitted anyway is still known for what it is
   * after the page's connection dropped, and is not taken for a sign that the page's own
   * link is wrong (e2ee/knock.js, selfLinkWrong). Ids only, in this page's memory only.
   */
  knockWrongIds() {
    return [...this.knockWrong];
  },

  /**
   * knockNonceOwners are the knock nonces this stay's waiting lists showed, each with the
   * knocker it was first shown for, [[nonce, participant id]] (those given at this
   * session's start included, until it has its own KnockChecker): the session a resume
   * starts takes them (carriedOver, `knockNonces`), so that a server that dropped the
   * page's connection cannot show a proof it saw before under another knocker's id as
   * "Link verified" (e2ee/FORMAT.md, "Knock proof"). Nonces and ids only, in this
   * page's memory only, bounded by the checker (at most 20,000).
   */
  knockNonceOwners() {
    return this.knockChecker ? this.knockChecker.ownerEntries() : [...this.knockNonces];
  },

  /**
   * _participantResumed: a reconnecting member is back on a new connection, with a new
   * identity key in an encrypted meeting. Only an id still in the roster can resume
   * (an id that left is never verified again); e2ee/FORMAT.md, "Resumed members".
   * A resume of an id that left is the server lying (it gives a new connection a new
   * id once the old one left): never a member, counted as a warning there, as its join.
   */
  _participantResumed(p) {
    if (this.ended || !this.joined || !p || !p.id) return;
    if (this.departed.has(p.id)) {
      if (this.keys) this.keys.peerResumed(p.id);
      return;
    }
    if (!this.participants.has(p.id)) return;
    if (this.keys) this.keys.peerResumed(p.id);
    this.names.resumed(p.id);
    this._participant({ ...p, reconnecting: false }, false);
  },

  _remoteTrack(info) {
    if (this.ended) return;
    const p = this.participants.get(info.participantId);
    if (!p) {
      // Not a member (yet, or any more): kept aside, shown only if that id joins. An id
      // no member can have (validId) never joins: nothing is kept under it.
      if (!validId(info.participantId)) return;
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
      audio.play().catch(() => {
        // Blocked until the person interacts (autoplay): the button, said once for a screen reader too.
        const button = $('#btn-enable-audio');
        if (this.ended || !button.hidden) return;
        button.hidden = false;
        announce(t('meeting.enable-audio'));
      });
      if (this.speaker) this.speaker.add(info.mid, info.participantId, info.track);
      return;
    }
    const source = info.source === 'screen' ? 'screen' : 'camera';
    this.grid.ensure({ participantId: info.participantId, source, name: p ? p.name : '', nameLabel: p ? p.nameLabel : null }).setTrack(info.track);
    if (p) this.grid.update(info.participantId, p);
  },

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
  },

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
  },
};
