// Coming back after a dropped connection, without a moderator (signaling/PROTOCOL.md,
// "Reconnecting"). Every welcome brings a resumption secret; this module keeps it for
// this tab (storage.js: the tab's storage, which the browser also gives back to a
// closed tab reopened; Leave forgets it, the grace ends it, and a page that was not
// reloaded forgets it as it starts: meeting-link.js), and when the websocket
// drops, the server stops answering the page's pings (heartbeat.js), or the media
// connection fails and an ICE restart does not bring it back, it retries with backoff:
// each attempt is a new Session that sends `resume` instead of `join`. A reload of the
// page resumes the same way. When the server refuses the secret (the grace period is
// over) the person is back at the "Disconnected" screen and knocks again from there.
//
// TEST HOOKS: #reconnect-overlay (shown while reconnecting, text "Reconnecting…"),
// body[data-reconnecting="true"] at the same time; others' tiles and people entries
// get data-reconnecting="true" and a .reconnecting-badge while that person is away, and
// every other tile while this page is (held-roster.js: its #people-list is dimmed,
// data-held="true", and #people-held says it is from before the drop).

import { $, el, announce, announceAlert, clearAlert } from './dom.js';
import { t, setText } from './i18n.js';
import { tabValue, setTabValue } from './storage.js';
import { parseResume, backoffMs, formatMedia, parseMedia, reachable } from './reconnect-core.js';
import { realClock } from './heartbeat.js';
import { openTimeoutMs } from './signaling.js';

/** How long attempts go on while the server cannot be reached (its grace is 60 s). */
const GIVE_UP_MS = 90000;
/**
 * How long a connection must have lasted for its drop to start the backoff afresh. A
 * server that welcomes each resume and drops it at once (a hostile one, or one cutting
 * a client too slow for its queue) otherwise had the page resume every 250 ms for as
 * long as it went on.
 */
const STABLE_MS = 30000;
/** How long an ICE restart over the live websocket may take before a resume. */
const ICE_RESTART_MS = 6000;

/** RETRY_KINDS are the failures of an attempt that are worth another one. */
const RETRY_KINDS = new Set(['unreachable', 'disconnected', 'shutdown', 'too_many_errors']);

export class Reconnect {
  /**
   * @param {{attempt: (resume: {participantId: string, secret: string}, opts: {openTimeoutMs: number}) => void,
   *          giveUp: (reason: string) => void, release?: () => void}} opts
   * attempt starts a new Session that resumes, its websocket given openTimeoutMs to open
   * (longer at each attempt since the drop: signaling.js openTimeoutMs); giveUp is told when resuming is over
   * without success (the page shows the "Disconnected" screen or the pre-join screen).
   * release lets go of what the page keeps only for a resume: the screen share, whose
   * capture goes on across a drop (Session.end keepScreen) so that the resumed session
   * sends it again without a new pick. It is told at Leave and whenever resuming ends
   * without coming back (refused, given up, removed or ended while away), so that no
   * capture is left running.
   * clock ({now, setTimeout, clearTimeout}; tests: harness.mjs FakeClock) times the
   * backoff, the give-up, the ICE restart and a connection's stability; the page's is
   * heartbeat.js realClock, the monotonic clock and the browser's timers.
   */
  constructor({ attempt, giveUp, release = () => {}, clock = realClock }) {
    this.clock = clock;
    this.attempt = attempt;
    this.giveUp = giveUp;
    this.release = release;
    this.active = false;
    this.tries = 0;
    this.opens = 0; // attempts since reconnecting began (each one's websocket waits longer)
    this.since = 0;
    this.backAt = 0; // when the last attempt (or the join) got its welcome
    this.timer = 0;
    this.iceTimer = 0;
    this.unloading = false;
    this.drops = 0; // the times reconnecting began: a "back" is said only of the last
    // A page restored from the back-forward cache is alive again.
    window.addEventListener('pageshow', (event) => {
      if (!event.persisted) return;
      this.unloading = false;
      if (this.stored()) setTabValue('open', '1');
    });
  }

  /** stored is the resumption secret kept for this tab, or null. */
  stored() {
    return parseResume(tabValue('resume'));
  }

  /** remember keeps the newest secret (each welcome brings one; the last is spent). */
  remember(participantId, secret) {
    if (!participantId || !secret) return;
    setTabValue('resume', `${participantId}.${secret}`);
    if (!this.unloading) setTabValue('open', '1'); // see pageHidden
  }

  /**
   * rememberMedia keeps whether this tab's microphone and camera are on, so that a
   * reload brings them back as they were (not both on); kept only while in a meeting.
   * Mid-reconnect the devices are as before, unless the person changed them (changed):
   * a camera turned off under the "Reconnecting…" overlay must stay off after a reload.
   */
  rememberMedia(media, { changed = false } = {}) {
    if ((this.active && !changed) || this.unloading || !this.stored()) return;
    const value = formatMedia({ mic: media.micOn, camera: media.cameraOn });
    if (tabValue('media') !== value) setTabValue('media', value);
  }

  /**
   * rememberName keeps this tab's own display name for a reload: in an end-to-end
   * encrypted meeting the server holds no name (e2ee/FORMAT.md, "Names"), so a reloaded
   * page could not otherwise put it in its key envelopes. Kept only while in a meeting.
   */
  rememberName(name) {
    if (this.unloading || typeof name !== 'string') return;
    const value = Array.from(name).slice(0, 64).join('');
    if (value && tabValue('name') !== value) setTabValue('name', value);
  }

  /** storedName is the display name kept for a reload, or ''. */
  storedName() {
    const value = tabValue('name');
    return typeof value === 'string' ? Array.from(value).slice(0, 64).join('') : '';
  }

  /** storedMedia is the microphone/camera state kept for a reload, or null. */
  storedMedia() {
    return parseMedia(tabValue('media'));
  }

  /** forget drops the secret: a goodbye, a removal, or a refused resume. */
  forget() {
    if (this.unloading) return; // a reload: what the closing page sees is no goodbye
    setTabValue('resume', null);
    setTabValue('media', null);
    setTabValue('name', null);
    setTabValue('open', null);
  }

  /**
   * left: the person pressed Leave. Nothing of the meeting stays in the tab's storage,
   * the moderator secret included: browsers write a tab's storage to disk and give it
   * back to a closed tab that is reopened. Rejoin keeps the secret again (meeting.js).
   */
  left() {
    if (this.unloading) return;
    // Leave pressed while reconnecting (the overlay stops the mouse, not the keyboard)
    // is a goodbye too: no further attempt, or one welcomed later would keep a new
    // secret and bring the person back into the meeting they left.
    this._stop();
    this.forget();
    setTabValue('moderator', null);
    this.release();
  }

  /**
   * pageHidden: the page is going away (a reload, another page, or the tab closes); keep
   * the secret for a reload, and say that the page went away rather than being killed:
   * a page brought back by Back or a tab reopened then forgets it (meeting-link.js),
   * while one the browser killed without a pagehide (a crash, a discarded or killed
   * background tab) and brings back finds 'open' still there and resumes.
   */
  pageHidden() {
    this.unloading = true;
    setTabValue('open', null);
  }

  /** dropped: the websocket of a joined session closed without a goodbye. */
  dropped() {
    const resume = this.stored();
    if (!resume) return false;
    if (!this.active) {
      this.active = true;
      // A drop soon after the last welcome goes on with the backoff of the drops
      // before it. The give-up clock starts at every drop: the server keeps the
      // membership for its grace from each drop, however often it came back between.
      // Both spans are on the monotonic clock (monotonic.js): on the wall clock, a step
      // ahead gave up at the first failed attempt, a step back tried on for the step.
      // Where it stands still in sleep, the time asleep does not count towards the
      // give-up: a page that wakes tries again, and the server, whose grace did run,
      // answers resume_failed, which ends it as before.
      if (!this.backAt || this.clock.now() - this.backAt >= STABLE_MS) this.tries = 0;
      this.opens = 0;
      this.since = this.clock.now();
      this.drops++;
      this._show(true);
      // At once and once: the polite line said it after what it was saying, and the
      // overlay (no live region: shown, it would not be read) only shows it.
      announceAlert(`${t('reconnect.title')} ${t('reconnect.text')}`);
    }
    this._schedule(resume);
    return true;
  }

  /** start resumes at once (after a reload); false when there is nothing to resume. */
  start() {
    const resume = this.stored();
    if (!resume) return false;
    this.active = true;
    this.tries = 0;
    this.opens = 0;
    this.since = this.clock.now();
    this.drops++;
    this._show(true);
    this._attempt(resume);
    return true;
  }

  /**
   * failed is told how an attempt ended; true when this module handles it (another
   * attempt, or giving up), false when the page should show the failure as usual.
   */
  failed(kind) {
    if (!this.active) return false;
    if (RETRY_KINDS.has(kind) && this.clock.now() - this.since < GIVE_UP_MS) {
      const resume = this.stored();
      if (resume) {
        this._schedule(resume);
        return true;
      }
    }
    this._stop();
    this.release(); // nothing comes back: the kept screen share stops
    if (kind === 'resume_failed' || kind === 'too_many_attempts' || RETRY_KINDS.has(kind)) {
      this.forget();
      this.giveUp(kind);
      return true;
    }
    return false; // e.g. removed or ended while away: the page says so
  }

  /** joined: an attempt got its welcome (or a fresh join did). */
  joined() {
    if (this.active) {
      // Once, in turn with the page's other news; not if it dropped again before it was said.
      const drop = this.drops;
      announce(t('reconnect.back'), { holds: () => !this.active && this.drops === drop });
    }
    this.backAt = this.clock.now();
    this._stop();
  }

  /**
   * mediaFailed: a peer connection of the live session failed (or stayed connecting). First an ICE restart over
   * the live websocket: the client restarts the publish connection itself (it is the
   * offerer), and asks the server (`ice_restart`) for a subscribe offer with new ICE
   * credentials. When the media is not back after a few seconds, the websocket is closed
   * and the session resumes on a new one with new peer connections.
   */
  mediaFailed(session, { stuck = false } = {}) {
    if (this.active || this.iceTimer || !session || session.ended || !session.sig || session.sig.closed) return;
    const pub = session.publisher && session.publisher.pc;
    const sub = session.subscriber && session.subscriber.pc;
    // stuck: session.js saw a connection stay "connecting" far too long; it counts as failed.
    const failed = (pc) => !!pc && (pc.connectionState === 'failed' || pc.iceConnectionState === 'failed' ||
      (stuck && pc.connectionState === 'connecting'));
    if (failed(pub)) session.publisher.restartIce();
    if (failed(sub)) session.sig.send('ice_restart', { pc: 'subscribe' });
    this.iceTimer = this.clock.setTimeout(() => {
      this.iceTimer = 0;
      if (session.ended || !session.sig || session.sig.closed) return;
      const down = (pc) => failed(pc) || (!!pc && pc.connectionState === 'disconnected');
      if (down(pub) || down(sub)) {
        // Given up as dropped at once (no goodbye): dropped() follows and the session
        // resumes. Only closing the websocket waited for its close event, which on a
        // path that died comes after the browser's closing-handshake timeout (60 s in
        // Chromium), when the server's grace is nearly or wholly over.
        session.drop();
      }
    }, ICE_RESTART_MS);
  }

  _schedule(resume) {
    this.clock.clearTimeout(this.timer);
    const wait = backoffMs(this.tries++);
    this.timer = this.clock.setTimeout(async () => {
      this.timer = 0;
      if (!this.active) return;
      // A websocket only once the server answers (reconnect-core.js reachable).
      const up = await reachable((...a) => window.fetch(...a), import.meta.url);
      if (!this.active || this.timer) return;
      if (up) this._attempt(resume);
      else this.failed('unreachable');
    }, wait);
  }

  _attempt(resume) {
    this.attempt(resume, { openTimeoutMs: openTimeoutMs(this.opens++) });
  }

  _stop() {
    // "Reconnecting…" is over: not written after Leave, nor left to be read on the page.
    if (this.active) clearAlert();
    this.active = false;
    this.clock.clearTimeout(this.timer);
    this.clock.clearTimeout(this.iceTimer);
    this.timer = 0;
    this.iceTimer = 0;
    this._show(false);
  }

  _show(on) {
    const box = $('#reconnect-overlay');
    if (box) box.hidden = !on;
    if (on) document.body.dataset.reconnecting = 'true';
    else delete document.body.dataset.reconnecting;
  }
}

/**
 * markReconnecting marks the tiles and people entries of those who are reconnecting
 * (ids), the tiles alone of tileIds (those this page keeps in view while it reconnects
 * itself: its people list says so as a whole, held-roster.js), and unmarks everyone
 * else. Run after the roster or the people list rendered.
 */
export function markReconnecting(ids, tileIds = []) {
  const away = new Set(ids);
  const tilesAway = new Set(tileIds);
  for (const node of document.querySelectorAll('.tile[data-participant-id], .person[data-participant-id]')) {
    const id = node.dataset.participantId;
    const on = away.has(id) || (tilesAway.has(id) && node.classList.contains('tile'));
    const badge = node.querySelector(':scope .reconnecting-badge');
    if (on) {
      node.dataset.reconnecting = 'true';
      if (!badge) {
        const where = node.querySelector(':scope .person-label') || node;
        where.append(setText(el('span', { class: 'reconnecting-badge' }), 'reconnect.peer'));
      }
    } else {
      delete node.dataset.reconnecting;
      if (badge) badge.remove();
    }
  }
}
