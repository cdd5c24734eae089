// What the page says to a screen reader outside its toasts goes through one polite live
// region (#live, dom.js announce). A screen reader reads a live region's text when it
// learns of the change, a moment after it was made: a text replaced within milliseconds
// (two announcements at once: "You joined the meeting" and a knock of the same welcome,
// a mute and a raised hand) was never read, the second taking its place. An Announcer
// keeps each text in the region for HOLD_MS before the next (OWN_HOLD_MS before a
// person's own action: below), and what is announced meanwhile waits and is said
// together in one read-out, each in the order it came, the person's own action first.
//
// What waits is bounded, so that a burst is said in a few words rather than read out
// for minutes: announcements of one kind (knocks, raised hands, chat messages) are
// counted together, said as their own one text while one waits and by the kind's
// summary ("5 people are waiting to join") when several do, which is what a screen
// reader user would look up in the panel anyway; they are said where the latest of
// them came ("Anna left. Anna joined." when she came back). Of the others (the page's
// own state: microphone off, back in the meeting) at most MAX_WAITING wait, the oldest
// making way, and news of one topic (the microphone, the camera) is said as its latest:
// the state now, not the history of quick toggles. A dropped connection is not among
// them: it is said at once, over what is being read, on #live-alert (dom.js
// announceAlert), not in turn here.
//
// What is said is worked out when it is written: an announcement whose caller gave
// holds() is left out once that says false (a knock let in by another moderator, a hand
// lowered meanwhile), and a kind's count is of those still holding. The callers give
// the closures: the announcer knows nothing of the session.
//
// A person's own action (pressing M) is confirmed promptly: it goes first in the next
// write, which comes OWN_HOLD_MS after the last rather than HOLD_MS. A text still stays
// long enough to be taken by the screen reader, which queues a polite region's news
// after what it is saying: the confirmation is the next thing said, not 1.5 s later.

import { heardText } from './i18n-core.js';
import { monotonicNow } from './monotonic.js';

/** GAP_MS: a text is written a task after the region was emptied, so the same text again is read again. */
export const GAP_MS = 50;
/** HOLD_MS: how long a text stays in the region before the next takes its place. */
export const HOLD_MS = 1500;
/** OWN_HOLD_MS: how long a text stays before a person's own action is confirmed in its place. */
export const OWN_HOLD_MS = 300;
/** MAX_WAITING: the announcements without a kind said together at most. */
export const MAX_WAITING = 3;

const pageClock = {
  now: monotonicNow,
  setTimeout: (fn, ms) => setTimeout(fn, ms),
};

export class Announcer {
  /**
   * @param {{textContent: string}} region the live region
   * @param {{now(): number, setTimeout(fn, ms): any}} clock
   */
  constructor(region, clock = pageClock) {
    this.region = region;
    this.clock = clock;
    // {kind, topic, own, many, parts: [{text, count, holds}]}, in the order they came
    this.waiting = [];
    this.said = new Map(); // topic → the text last written of it
    this.writtenAt = -Infinity; // when the region was last given a text
    this.due = false; // a write is scheduled
    this.dueAt = Infinity; // when the scheduled write empties the region
    this.round = 0; // the scheduled write's; an earlier one for an own action supersedes it
  }

  /**
   * say announces text. With kind, announcements of that kind still waiting are said as
   * one: count of them (1 unless given), by many(count) when more than one. With topic,
   * it takes the place of one of that topic still waiting, and none is said if that
   * leaves the topic where it was last said. own: the person's own action, said first
   * and soon. holds(): whether it is still true, asked when it is written.
   */
  say(text, { kind = '', count = 1, many = null, topic = '', own = false, holds = null } = {}) {
    text = String(text || '');
    if (!text) return;
    const part = { text, count, holds };
    const same = kind ? this.waiting.find((w) => w.kind === kind) : null;
    if (same) {
      same.parts.push(part);
      same.own = same.own || own;
      // Said where its latest came: what it says is the latest ("Anna joined" after
      // "Anna left" when she came back), not where its first came.
      this.waiting.splice(this.waiting.indexOf(same), 1);
      this.waiting.push(same);
    } else {
      const before = topic ? this.waiting.find((w) => !w.kind && w.topic === topic) : null;
      if (before) {
        // Only the state now is news; back where it was last said, there is none.
        this.waiting.splice(this.waiting.indexOf(before), 1);
        if (this.said.get(topic) === text) return;
      }
      const last = this.waiting[this.waiting.length - 1];
      if (!kind && last && !last.kind && last.parts[0].text === text) {
        last.own = last.own || own;
      } else {
        this.waiting.push({ kind, topic, own, many, parts: [part] });
        this._bound();
      }
    }
    this._schedule(own);
  }

  /**
   * forget drops what waits to be said: the page's session ended (Leave, the meeting
   * ended, sent back to the waiting room), and news of it (a knock, a raised hand, a
   * chat message, one's own microphone) said over the screen that follows, up to
   * HOLD_MS after it was shown, would be of a meeting the person is no longer in. What
   * is announced after it (the waiting room's "You are waiting to be let in") is said.
   */
  forget() {
    this.waiting = [];
    this.said.clear(); // the next session's microphone is news of its own
  }

  /** _bound lets the oldest announcement without a kind make way beyond MAX_WAITING. */
  _bound() {
    const plain = this.waiting.filter((w) => !w.kind);
    if (plain.length > MAX_WAITING) this.waiting.splice(this.waiting.indexOf(plain[0]), 1);
  }

  _schedule(own) {
    const hold = own ? OWN_HOLD_MS : HOLD_MS;
    // At most hold: a wall clock set back (by hand, by a time sync after a suspend)
    // must not hold every announcement until it has caught up with the last write.
    const now = this.clock.now();
    const wait = Math.min(hold, Math.max(0, this.writtenAt + hold - now));
    if (this.due && this.dueAt <= now + wait) return;
    this.due = true;
    this.dueAt = now + wait;
    const round = ++this.round;
    if (wait === 0) this._clear(round);
    else this.clock.setTimeout(() => this._clear(round), wait);
  }

  _clear(round) {
    if (round !== this.round) return; // an own action's earlier write took its place
    this.region.textContent = '';
    this.clock.setTimeout(() => this._write(round), GAP_MS);
  }

  _write(round) {
    if (round !== this.round) return;
    const waiting = [...this.waiting.filter((w) => w.own), ...this.waiting.filter((w) => !w.own)];
    this.waiting = [];
    this.due = false;
    this.dueAt = Infinity;
    const parts = [];
    for (const w of waiting) {
      const text = spoken(w);
      if (!text) continue;
      parts.push(text);
      if (w.topic) this.said.set(w.topic, text);
    }
    if (!parts.length) return; // forgotten or withdrawn meanwhile: the region stays empty
    this.writtenAt = this.clock.now();
    // Only heard: without the isolates around names (i18n-core.js heardText). Said together,
    // each is a sentence of its own ("You joined the meeting. Kai is waiting to join").
    const heard = parts.map(heardText);
    this.region.textContent = heard.length === 1 ? heard[0] : heard.map(sentence).join(' ');
  }
}

/** spoken is what a waiting announcement says of what still holds: '' when nothing does. */
function spoken({ many, parts }) {
  const live = parts.filter((p) => !p.holds || p.holds());
  const count = live.reduce((sum, p) => sum + p.count, 0);
  if (!live.length) return '';
  if (count === 1 || !many) return live[live.length - 1].text;
  return many(count);
}

/** sentence ends text with a full stop unless it ends with punctuation already. */
function sentence(text) {
  return /[.!?…:]$/u.test(text) ? text : `${text}.`;
}
