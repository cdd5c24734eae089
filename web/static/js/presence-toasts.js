// Who joined and who left, as a member's page tells it. A toast each stacked one per
// person when 50 joined a webinar within seconds (or left at its end), and each was read
// out by #toasts-polite: fifty read-outs, and toasts replacing each other faster than
// they could be read. Joins (and leaves) close in time are gathered now: one toast for
// the joins and one for the leaves, changed in place while more come ("Anna joined" →
// "Anna and Ben joined" → "Anna, Ben and 3 others joined"), each staying SHOWN_MS after
// the last person it tells of; a join after that starts a new one, and so does one
// GATHER_MS after the toast opened: a trickle of joins (one every few seconds in a
// webinar's first minutes) kept one toast over the stage for as long as it lasted.
//
// Each toast names each person once, and truly: one who leaves while their join is shown
// is taken out of the joins toast, by member id (a toast closes at once when it names
// nobody left); "Ben, Anna and Anna joined" stood beside "Anna left". A leave stays: a
// person is told apart by the member id, never by name (two pupils called Anna; a name
// is anyone's to type), and one who joins again after leaving has a new member id that
// nothing ties to the one that left, so "Anna left" beside "Anna joined" is true either
// way. A drop the member comes back from is neither: a resume keeps the id and is told
// as no leave and no join (session-roster.js, PROTOCOL.md "Reconnecting"), and an id
// that left is never given again (session.js departed). A name is shown clipped
// (clipped.js), the whole of it read by a screen reader. The toasts end with the page's
// session (end: meeting-end.js stopped, before the screen that follows); a resume keeps
// them, gathering on.
//
// Which one speaks: the announcer (#live, dom.js announce), not the toast. A toast in a
// live region changed in place is read out again at each change, the whole list again
// and again, or at best only its first version; and read by both, the same news would
// be said twice, by two regions in turn. The announcer already says a burst in a few
// words: the first join at once, those that come while it is read counted together
// ("4 people joined", kind and many), in turn with the page's other news, leaving out
// a join whose person left before it was said (holds), and nothing after the session
// ended (forget). So the toast goes in #toasts-quiet, which is no live region, and is
// seen; the announcer says it.

import { quietToast, announce, writeClipped, TOAST_OUT_MS } from './dom.js';
import { sentenceText, spokenName } from './e2ee-names.js';
import { clipName } from './clipped.js';
import { t } from './i18n.js';
import { realClock } from './heartbeat.js';

/** SHOWN_MS: how long a toast stays after the last person it tells of (dom.js toast's time). */
export const SHOWN_MS = 4000;
/** GATHER_MS: how long after it opened a toast takes more people; it closes at most SHOWN_MS later. */
export const GATHER_MS = 6000;

/** The texts of each way, by how many it names (web/static/i18n/*.json). */
const TEXTS = {
  joined: {
    one: 'meeting.joined-toast', two: 'meeting.joined-toast-two', three: 'meeting.joined-toast-three',
    more: 'meeting.joined-toast-more', many: 'meeting.joined-many',
  },
  left: {
    one: 'meeting.left-toast', two: 'meeting.left-toast-two', three: 'meeting.left-toast-three',
    more: 'meeting.left-toast-more', many: 'meeting.left-many',
  },
};

export class PresenceToasts {
  /**
   * @param {{clock?: {setTimeout, clearTimeout}, say?: (text: string, options: object) => void}} deps
   * say is dom.js announce (tests: an Announcer on the same clock).
   */
  constructor({ clock = realClock, say = announce } = {}) {
    this.clock = clock;
    this.say = say;
    // The toasts on the screen, oldest first: {way, people: [{id, name, nameLabel}],
    // item, timer (its close), gathering (it takes more people), gatherTimer}.
    this.toasts = [];
  }

  /**
   * joined tells that person ({id, name, nameLabel}: a placeholder is "Someone") joined;
   * holds() says whether it is still in the meeting when the announcement is written.
   */
  joined(person, holds = null) {
    // Nothing is taken out of the leaves toast: a join is a new member id (see above).
    this._add('joined', copy(person), holds);
  }

  /** left tells that person ({id, name, nameLabel}) left. */
  left(person) {
    const gone = copy(person);
    if (gone.id) this._takeOutJoin(gone.id);
    this._add('left', gone, null);
  }

  /** languageChanged writes the toasts on the screen again in the language switched to. */
  languageChanged() {
    for (const g of this._shown()) write(g);
  }

  /**
   * end closes the toasts on the screen: the page's session ended (Leave, the meeting
   * ended, sent back to the waiting room) and who joined it is no news over the screen
   * that follows, nor the start of a toast a rejoin's joins are gathered into. A resume
   * does not end them (meeting.js keeps one PresenceToasts for the page's sessions).
   */
  end() {
    for (const g of this._shown()) this._close(g);
  }

  _add(way, person, holds) {
    const keys = TEXTS[way];
    this.say(sentenceText(keys.one, person, t), {
      kind: way, many: (count) => t(keys.many, { count }), holds,
    });
    let g = this._shown().find((x) => x.way === way && x.gathering);
    if (g) {
      g.people.push(person);
      write(g);
      this.clock.clearTimeout(g.timer);
    } else {
      const people = [person];
      const item = quietToast(gathered(way, people), gathered(way, people, clipName));
      if (!item) return;
      const opened = { way, people, item, timer: null, gathering: true, gatherTimer: null };
      // Those who come GATHER_MS after it opened start a toast of their own, so that
      // this one closes at most SHOWN_MS later, however long a trickle of joins lasts.
      opened.gatherTimer = this.clock.setTimeout(() => { opened.gathering = false; }, GATHER_MS);
      this.toasts.push(opened);
      g = opened;
    }
    const shown = g;
    g.timer = this.clock.setTimeout(() => this._close(shown), SHOWN_MS);
  }

  /** _takeOutJoin takes member id out of the newest joins toast shown that names it. */
  _takeOutJoin(id) {
    const g = this._shown().findLast((x) => x.way === 'joined' && x.people.some((p) => p.id === id));
    if (!g) return;
    g.people.splice(g.people.findLastIndex((p) => p.id === id), 1);
    if (g.people.length) write(g);
    else this._close(g); // it tells of nobody now
  }

  /**
   * _shown is the toasts still on the screen, those taken away meanwhile forgotten (a
   * page cleared its toasts, or the stack made room: dom.js placeToast).
   */
  _shown() {
    for (const g of this.toasts) if (!g.item.parentNode) this._forget(g);
    return this.toasts.slice();
  }

  _close(g) {
    this._forget(g);
    g.item.classList.add('toast-out');
    this.clock.setTimeout(() => g.item.remove(), TOAST_OUT_MS);
  }

  _forget(g) {
    this.clock.clearTimeout(g.timer);
    this.clock.clearTimeout(g.gatherTimer);
    this.toasts = this.toasts.filter((x) => x !== g);
  }
}

/** copy keeps of a person what a toast needs: its member id, and whether its name is a placeholder, not the label's text. */
function copy({ id, name, nameLabel }) {
  return { id: id ? String(id) : '', name: String(name || ''), nameLabel: nameLabel ? String(nameLabel) : null };
}

/** write gives toast g its text: the names clipped where long, the whole read by a screen reader. */
function write(g) {
  writeClipped(g.item, gathered(g.way, g.people), gathered(g.way, g.people, clipName));
}

/**
 * gathered is a toast's text for people, in the order they came: by name up to three,
 * then the first two named and a count ("Anna, Ben and 3 others joined"). A placeholder
 * ("Someone") and a member without a name ("Guest") are not put among names
 * mid-sentence: those named go first and they are counted, and with fewer than two
 * named the toast says only how many ("Guest and Guest joined", "Gast und Gast sind
 * beigetreten" named two guests as if two names; e2ee-names.js A_GUEST says one alone).
 * shown makes a name as the text shows it (clipped.js clipName: the text seen).
 */
export function gathered(way, people, shown = (name) => name) {
  const keys = TEXTS[way];
  const nameOf = (p) => shown(spokenName(p, t));
  if (people.length === 1) return sentenceText(keys.one, people[0], t, {}, shown);
  const named = people.filter((p) => !p.nameLabel && p.name).map(nameOf);
  if (named.length === people.length && people.length === 2) return t(keys.two, { first: named[0], second: named[1] });
  if (named.length === people.length && people.length === 3) return t(keys.three, { first: named[0], second: named[1], third: named[2] });
  if (named.length >= 2) return t(keys.more, { first: named[0], second: named[1], count: people.length - 2 });
  return t(keys.many, { count: people.length });
}
