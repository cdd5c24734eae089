// A Session's marks on names that look alike (name-marks.js): a member or a knocker
// whose name looks like another's, like the page's own person's or like a word the page
// shows beside names is shown with a number after its name, wherever it is named.

import { NameMarks, markedName, nameKey } from './name-marks.js';
import { PENDING_LABEL, PENDING_TEXT, UNKNOWN_TEXT } from './e2ee-names.js';
import { ROLE_LABELS } from './tile.js';
import { everyText } from './i18n.js';

// Words the page itself shows where a name stands, or beside one, in either language:
// the role badges, "Guest" for a member without a name, "You" on one's own chat lines,
// "Someone", an encrypted meeting's placeholders ("…", read out as "Name not yet
// received", and "Name unknown"), and the own screen's tile, "Your screen". A member
// called so is marked even when nobody else is. So is one called like a screen's tile
// ("{name} (screen)", SCREEN_TILE) of anyone with a name.
const SHOWN_WORDS = [...Object.values(ROLE_LABELS), 'common.guest', 'common.you', 'waiting.someone', PENDING_TEXT, PENDING_LABEL, UNKNOWN_TEXT, 'grid.screen.self'];
const SCREEN_TILE = 'grid.screen';

/** marksMethods are Session's (mixed into its prototype in session.js). */
export const marksMethods = {
  /**
   * _markNames gives every member (this.participants) and every knocker of the waiting
   * list its name as shown, marked where it collides (name-marks.js); each entry keeps
   * the name it gave as `given`. The tiles of a member whose mark changed are updated,
   * and the waiting list is shown again when a knocker's did (unless tellWaiting is
   * false: the caller shows it). Reports whether a member's name as shown changed (the
   * caller then draws the list of people again). Nothing while a welcome's members are
   * listed (listingWelcome): they are marked once, all listed.
   */
  _markNames(tellWaiting = true) {
    if (this.listingWelcome) return false;
    if (!this.nameMarks) this.nameMarks = new NameMarks();
    const self = { id: this.participantId, name: this.name || '' };
    const people = [];
    let selfIn = false;
    for (const entry of this.participants.values()) {
      // The page learnt of the members of its welcome, then of itself, then of the rest.
      if (entry.after && !selfIn) {
        people.push(self);
        selfIn = true;
      }
      people.push({ id: entry.id, name: entry.nameLabel ? '' : entry.given || '' });
    }
    if (!selfIn) people.push(self);
    const knockers = (this.waiting || []).filter((w) => !w.nameLabel);
    for (const w of knockers) people.push({ id: w.participantId, name: w.given ?? w.name });
    const marks = this.nameMarks.marks(people, this._reservedKeys(people));

    let changed = false;
    for (const entry of this.participants.values()) {
      if (entry.nameLabel) continue; // a placeholder is no name
      const shown = markedName(entry.given || '', marks.get(entry.id));
      if (entry.name === shown) continue;
      entry.name = shown;
      this.grid.update(entry.id, entry);
      changed = true;
    }
    let knockChanged = false;
    for (const w of knockers) {
      if (w.given === undefined) w.given = w.name;
      const shown = markedName(w.given, marks.get(w.participantId));
      if (w.name === shown) continue;
      w.name = shown;
      knockChanged = true;
    }
    if (knockChanged && tellWaiting) this.ui.waitingChanged(this.waiting);
    return changed;
  },

  /**
   * _reservedKeys is _shownWordKeys and the keys of the screen tiles of people ([{name}])
   * as the page would name them ("Anna (screen)", "Anna (Bildschirm)"): a member called
   * so passed for Anna's screen.
   */
  _reservedKeys(people) {
    const keys = new Set(this._shownWordKeys());
    for (const { name } of people) {
      if (!name) continue;
      const own = this.nameMarks.keyOf(name);
      for (const text of everyText(SCREEN_TILE, { name })) {
        // A name of the most characters leaves no room for " (screen)" in a key (plainName
        // cuts it): that is the name's own key, which must not mark the name itself.
        const key = this.nameMarks.keyOf(text);
        if (key && key !== own) keys.add(key);
      }
    }
    return keys;
  },

  /** _shownWordKeys is the keys of SHOWN_WORDS and of "{own name} (you)", in both languages. */
  _shownWordKeys() {
    const name = this.name || '';
    if (this.shownWordKeys && this.shownWordKeys.name === name) return this.shownWordKeys.keys;
    const texts = SHOWN_WORDS.flatMap((key) => everyText(key));
    if (name) texts.push(...everyText('people.self', { name }), ...everyText('grid.self', { name }));
    const keys = new Set(texts.map(nameKey).filter(Boolean));
    this.shownWordKeys = { name, keys };
    return keys;
  },
};
