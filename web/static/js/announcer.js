// What the page says to a screen reader outside its toasts goes through one polite live
// region (#live, dom.js announce). A screen reader reads a live region's text when it
// learns of the change, a moment after it was made: a text replaced within milliseconds
// (two announcements at once: "You joined the meeting" and a knock of the same welcome,
// a mute and a raised hand) was never read, the second taking its place. An Announcer
// keeps each text in the region for HOLD_MS before the next, and what is announced
// meanwhile waits and is said together in one read-out, each in the order it came.
//
// What waits is bounded, so that a burst is said in a few words rather than read out
// for minutes: announcements of one kind (knocks, raised hands, chat messages) are
// counted together, said as their own one text while one waits and by the kind's
// summary ("5 people are waiting to join") when several do, which is what a screen
// reader user would look up in the panel anyway. Of the others (the page's own state:
// microphone off, reconnecting, back) at most MAX_WAITING wait, the oldest making way:
// what came after it says the state it changed to.

/** GAP_MS: a text is written a task after the region was emptied, so the same text again is read again. */
export const GAP_MS = 50;
/** HOLD_MS: how long a text stays in the region before the next takes its place. */
export const HOLD_MS = 1500;
/** MAX_WAITING: the announcements without a kind said together at most. */
export const MAX_WAITING = 3;

const wallClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
};

export class Announcer {
  /**
   * @param {{textContent: string}} region the live region
   * @param {{now(): number, setTimeout(fn, ms): any}} clock
   */
  constructor(region, clock = wallClock) {
    this.region = region;
    this.clock = clock;
    this.waiting = []; // {text, kind, count, many}, in the order they came
    this.writtenAt = -Infinity; // when the region was last given a text
    this.due = false; // a write is scheduled
  }

  /**
   * say announces text. With kind, announcements of that kind still waiting are said as
   * one: count of them (1 unless given), by many(count) when more than one.
   */
  say(text, { kind = '', count = 1, many = null } = {}) {
    text = String(text || '');
    if (!text) return;
    const same = kind ? this.waiting.find((w) => w.kind === kind) : null;
    if (same) {
      same.count += count;
      same.text = same.many ? same.many(same.count) : text;
    } else {
      const last = this.waiting[this.waiting.length - 1];
      if (!kind && last && !last.kind && last.text === text) return; // said once, not twice in a row
      this.waiting.push({ text, kind, count, many });
      this._bound();
    }
    this._schedule();
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
  }

  /** _bound lets the oldest announcement without a kind make way beyond MAX_WAITING. */
  _bound() {
    const plain = this.waiting.filter((w) => !w.kind);
    if (plain.length > MAX_WAITING) this.waiting.splice(this.waiting.indexOf(plain[0]), 1);
  }

  _schedule() {
    if (this.due) return;
    this.due = true;
    // At most HOLD_MS: a wall clock set back (by hand, by a time sync after a suspend)
    // must not hold every announcement until it has caught up with the last write.
    const wait = Math.min(HOLD_MS, Math.max(0, this.writtenAt + HOLD_MS - this.clock.now()));
    if (wait === 0) this._clear();
    else this.clock.setTimeout(() => this._clear(), wait);
  }

  _clear() {
    this.region.textContent = '';
    this.clock.setTimeout(() => this._write(), GAP_MS);
  }

  _write() {
    const parts = this.waiting.map((w) => w.text);
    this.waiting = [];
    this.due = false;
    if (!parts.length) return; // forgotten meanwhile: the region stays empty
    this.writtenAt = this.clock.now();
    // Said together, each is a sentence of its own ("You joined the meeting. Kai is waiting to join").
    this.region.textContent = parts.length === 1 ? parts[0] : parts.map(sentence).join(' ');
  }
}

/** sentence ends text with a full stop unless it ends with punctuation already. */
function sentence(text) {
  return /[.!?…:]$/u.test(text) ? text : `${text}.`;
}
