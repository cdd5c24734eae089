// Who joined and who left, as a member's page tells it. A toast each stacked one per
// person when 50 joined a webinar within seconds (or left at its end), and each was read
// out by #toasts-polite: fifty read-outs, and toasts replacing each other faster than
// they could be read. Joins (and leaves) close in time are gathered now: one toast for
// the joins and one for the leaves, changed in place while more come ("Anna joined" →
// "Anna and Ben joined" → "Anna, Ben and 3 others joined"), each staying SHOWN_MS after
// the last person it tells of; a join after that starts a new one.
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

import { quietToast, announce, TOAST_OUT_MS } from './dom.js';
import { spokenName } from './e2ee-names.js';
import { t } from './i18n.js';
import { realClock } from './heartbeat.js';

/** SHOWN_MS: how long a toast stays after the last person it tells of (dom.js toast's time). */
export const SHOWN_MS = 4000;

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
    // way → {people: [{name, nameLabel}], item, timer}: the toast on the screen, if any
    this.shown = new Map();
  }

  /**
   * joined tells that person ({name, nameLabel}: a placeholder is "Someone") joined;
   * holds() says whether it is still in the meeting when the announcement is written.
   */
  joined(person, holds = null) {
    this._add('joined', person, holds);
  }

  /** left tells that person left. */
  left(person) {
    this._add('left', person, null);
  }

  /** languageChanged writes the toasts on the screen again in the language switched to. */
  languageChanged() {
    for (const [way, g] of this.shown) g.item.textContent = gathered(way, g.people);
  }

  _add(way, { name, nameLabel }, holds) {
    // A copy: whether the name is a placeholder is all a sentence needs of its label.
    const person = { name: String(name || ''), nameLabel: nameLabel ? String(nameLabel) : null };
    const keys = TEXTS[way];
    this.say(t(keys.one, { name: spokenName(person, t) }), {
      kind: way, many: (count) => t(keys.many, { count }), holds,
    });
    let g = this.shown.get(way);
    if (g && !g.item.parentNode) g = null; // taken away meanwhile (a page cleared its toasts)
    if (g) {
      g.people.push(person);
      g.item.textContent = gathered(way, g.people);
      this.clock.clearTimeout(g.timer);
    } else {
      const people = [person];
      const item = quietToast(gathered(way, people));
      if (!item) return;
      g = { people, item, timer: null };
      this.shown.set(way, g);
    }
    const shown = g;
    g.timer = this.clock.setTimeout(() => this._close(way, shown), SHOWN_MS);
  }

  _close(way, g) {
    if (this.shown.get(way) === g) this.shown.delete(way);
    g.item.classList.add('toast-out');
    this.clock.setTimeout(() => g.item.remove(), TOAST_OUT_MS);
  }
}

/**
 * gathered is a toast's text for people, in the order they came: by name up to three,
 * then the first two named and a count ("Anna, Ben and 3 others joined"). A placeholder
 * ("Someone") is not put among names mid-sentence: those named go first and it is
 * counted, and with fewer than two named the toast says only how many.
 */
export function gathered(way, people) {
  const keys = TEXTS[way];
  if (people.length === 1) return t(keys.one, { name: spokenName(people[0], t) });
  const named = people.filter((p) => !p.nameLabel).map((p) => spokenName(p, t));
  if (named.length === people.length && people.length === 2) return t(keys.two, { first: named[0], second: named[1] });
  if (named.length === people.length && people.length === 3) return t(keys.three, { first: named[0], second: named[1], third: named[2] });
  if (named.length >= 2) return t(keys.more, { first: named[0], second: named[1], count: people.length - 2 });
  return t(keys.many, { count: people.length });
}
