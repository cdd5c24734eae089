// The meeting as it was when this page's connection dropped, kept in view while the page
// reconnects (reconnect.js). A dropped Session lets go of its roster (Session.end), so the
// people panel listed nobody and the tiles were gone behind "Reconnecting…", under the
// count from before the drop, as if everyone had left for a moment. What a person
// expects of a short drop is the meeting as it was, marked as not current: the people
// list dimmed, with a note a screen reader reads before it (it is from before the
// drop), without moderator actions (no session is joined); the tiles with their last
// picture or their name, marked reconnecting; until the resumed welcome brings the
// roster of now, which replaces it. Those gone meanwhile go then without a word: a
// leave is told only by a session that saw it (session-roster.js), and nobody that was
// merely there before the drop left.
//
// One for the page (meeting.js), as it outlives the sessions: the dropped one hands over
// its roster (Session ui.dropped), the resumed one replaces it (replacedBy), and a resume
// given up forgets it with its tiles (forget). Nothing of it is written anywhere.
//
// Nothing acts on the meeting held: no session is joined, so no moderator control is
// offered, and a question already asked about it when the link dropped ("Remove Bo?",
// "End the meeting for everyone?") is cancelled. Left open, the modal dialog stood above
// "Reconnecting…", and its OK sent nothing and said nothing (modctl.js sends only on a
// joined session), or, pressed after the resume, acted on the meeting of now on the
// strength of a question about the one before.

import { markReconnecting } from './reconnect.js';
import { closeConfirm } from './confirm.js';

export class HeldRoster {
  /**
   * @param {{grid: Grid, media: LocalMedia, speaking?: SpeakingIndicators}} deps grid
   * holds the tiles the dropped session left standing; media is the page's own devices,
   * which the own entry shows as they are; speaking shows who speaks as the server says
   * (speaking-ui.js).
   */
  constructor({ grid, media, speaking = null }) {
    this.grid = grid;
    this.media = media;
    this.speaking = speaking;
    this.held = null; // [{id, name, nameLabel?, role, media, self?}], self first; null: nothing held
    this.tracks = new Map(); // Tile -> the dropped connection's track it kept showing
  }

  /** holding: the page shows the meeting as it was before the drop. */
  get holding() {
    return this.held !== null;
  }

  /**
   * hold keeps people (the dropped session's everyone(), self first) and the tiles the
   * session left standing (Session.end keepTiles); nobody is shown speaking meanwhile,
   * and an open question about the meeting is cancelled (confirm.js).
   */
  hold(people) {
    closeConfirm();
    this.held = people.slice();
    this.tracks.clear();
    for (const tile of this.grid.tiles.values()) {
      if (!tile.self || tile.source === 'screen') this.tracks.set(tile, tile.track);
    }
    // Nobody speaks in a meeting not current: neither as the page heard it (speaker.js)
    // nor as the server said it, whose outline and "Speaking" stayed on the held tile
    // and the held list's row for as long as no attempt reached the server.
    this.grid.setActiveSpeaker(null);
    if (this.speaking) this.speaking.forget();
  }

  /**
   * people is the held roster (empty while nothing is held): the others as they were, the
   * own entry with the devices as they are now (they can be switched while reconnecting).
   */
  people() {
    if (!this.held) return [];
    const m = this.media;
    return this.held.map((p) => (p.self ? { ...p, media: { mic: m.micOn, camera: m.cameraOn, screen: m.screenOn } } : p));
  }

  /**
   * shown is the roster the page shows: the joined session s's (live, or null), or while
   * the page reconnects the one held from before the drop.
   */
  shown(s) {
    return s && s.joined && !s.ended ? s.everyone() : this.people();
  }

  /**
   * mark marks who is reconnecting (reconnect.js markReconnecting) after the roster
   * people was drawn: those it says are, and while the page reconnects every other tile
   * it keeps in view. The people list held meanwhile is dimmed for the eye (list
   * data-held, app.css), and note (#people-held, visually hidden, between the panel's
   * heading and close button and the list) tells a screen reader it is from before the
   * drop. Not aria-busy: a list busy for as long as the page reconnects (up to 90 s) may
   * be skipped by a screen reader, or read as empty, when what it holds is worth reading.
   *
   * The note is also the list's description (aria-describedby) while it is held, and
   * only then (a description is read from a note hidden too). Read where it stands, it
   * was heard only by someone reading the panel from its top, not by one who jumps to
   * the list (the L of NVDA, JAWS and Orca) or tabs onto it (a list longer than the
   * panel scrolls, and a scroller holding nothing focusable is a tab stop in Chromium
   * and Firefox: the held list has no button, its menus are a joined moderator's).
   * NVDA, JAWS and Orca read the description of the element the focus lands on, and
   * JAWS a static element's where its virtual cursor enters it. NVDA's browse mode
   * reads neither a list's description nor its name (there the note where it stands is
   * all it has), so a name (aria-labelledby) would gain nothing and would make the note
   * what the list is called rather than a word about it.
   */
  mark({ list, note }, people) {
    if (this.held) list.dataset.held = 'true';
    else delete list.dataset.held;
    if (note) {
      note.hidden = !this.held;
      if (this.held) list.setAttribute('aria-describedby', note.id);
      else list.removeAttribute('aria-describedby');
    }
    const others = this.held ? this.held.filter((p) => !p.self).map((p) => p.id) : [];
    markReconnecting(people.filter((p) => p.reconnecting).map((p) => p.id), others);
  }

  /**
   * replacedBy: session (resumed) has its welcome and its roster is the one shown. The
   * tiles of those who are no longer in it go, a screen no longer shared goes (the own
   * one too: the resumed session shows it again once it sends it, Controls.resumeScreen,
   * and may not), and the others let go of the dropped connection's picture: the resumed
   * one brings its own.
   */
  replacedBy(session) {
    if (!this.held) return;
    const now = new Map(session.everyone().map((p) => [p.id, p]));
    for (const [tile, track] of this.tracks) {
      const { participantId: id, source } = tile;
      const p = now.get(id);
      if (this.grid.get(id, source) !== tile) continue; // gone already
      if (tile.self) {
        this.grid.remove(id, source);
        continue;
      }
      if (!p) {
        this.grid.removeParticipant(id);
        continue;
      }
      // "Waiting for keys…" was the dropped connection's: the resumed one's keys say anew.
      this.grid.setWaitingForKeys(id, false);
      if (source === 'screen' && !p.media.screen) this.grid.remove(id, source);
      else if (tile.track === track) tile.setTrack(null);
    }
    this.held = null;
    this.tracks.clear();
  }

  /** forget: the resume is given up (or the page left): nothing of the meeting stays shown. */
  forget() {
    if (!this.held) return;
    this.held = null;
    this.tracks.clear();
    this.grid.clear();
  }
}
