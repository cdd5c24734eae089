// Members' display names in an end-to-end encrypted meeting (e2ee/FORMAT.md, "Names").
// A name arrives only inside its sender's key envelope (session-keys.js), so it is bound
// to that sender by the pairwise key; the server's `name` fields carry none and are never
// shown. Until a member's envelope has come, its tiles and the participant list show a
// placeholder ("…", read out as "Name not yet received"); a member that is not verified
// (a wrong link, a replayed identity, an id that left) shows "Name unknown" and never a
// name from anywhere.
//
// A resumed member (FORMAT.md, "Resumed members") is verified anew; its page may have
// lost its own name in a reload (nothing about people is kept in the browser) and then
// sends none: the name it gave before in this session stays, once it verified again.

/** Keys of the placeholders (web/static/i18n/*.json). */
export const PENDING_TEXT = 'e2ee14.names.pending';
export const PENDING_LABEL = 'e2ee14.names.pending-label';
export const UNKNOWN_TEXT = 'e2ee14.names.unknown';

/**
 * shownName is a person's name as a list or a tile shows it: "Guest" without one (a
 * placeholder, "…" or "Name unknown", shows as it is and is read out by its label).
 * t is the page's translation function.
 */
export function shownName({ name }, t) {
  return name || t('common.guest');
}

/**
 * spokenName is how a sentence names a person (a join or leave toast, an announcement, the
 * knock card): "Someone" while its name is a placeholder (nameLabel set: "…" read out as
 * its label, or "Name unknown"), else the name shown (shownName: "Guest" without one, as
 * the roster, the waiting room and the chat show it). t is the page's translation function.
 */
export function spokenName(person, t) {
  return person.nameLabel ? t('waiting.someone') : shownName(person, t);
}

/**
 * placeholder gives entry the placeholder name of key text, read out as key label, read
 * from the catalogue (t) each time they are read: a list drawn again at a switch of
 * language (the waiting room, the participant list, the tiles) shows and reads it in the
 * language switched to, where a text fixed when it came stayed in the one switched from
 * until the name changed. Configurable, so that showName can put a name in its place.
 */
export function placeholder(entry, text, label, t) {
  return Object.defineProperties(entry, {
    name: { get: () => t(text), enumerable: true, configurable: true },
    nameLabel: { get: () => t(label), enumerable: true, configurable: true },
  });
}

/** showName puts shown's name on entry: a name as it is, a placeholder as read when read. */
export function showName(entry, shown) {
  return Object.defineProperties(entry, Object.getOwnPropertyDescriptors(shown));
}

/** At most this many names are kept (ids of a meeting; a server inventing ids gets no more). */
const MAX_NAMES = 2000;

export class MemberNames {
  constructor() {
    this.names = new Map(); // id -> the newest non-empty name from its key envelopes
    this.got = new Set(); // ids whose current identity sent an envelope
  }

  /** received takes the name in a verified member's key envelope ('' when it sent none). */
  received(id, name) {
    if (typeof id !== 'string' || typeof name !== 'string') return;
    if (!this.names.has(id) && this.names.size >= MAX_NAMES) return;
    this.got.add(id);
    if (name) this.names.set(id, name);
  }

  /** resumed: id came back on a new connection; its name shows again once it verified and sent a key. */
  resumed(id) {
    this.got.delete(id);
  }

  /** forget: id left (it never comes back). */
  forget(id) {
    this.names.delete(id);
    this.got.delete(id);
  }

  /**
   * shown is what to show for id whose identity state is state ('verified', 'pending',
   * 'unverified' or null): {name, nameLabel}, nameLabel set for a placeholder (whose
   * texts are read from the catalogue when read: placeholder). t is the page's
   * translation function. An empty name is shown as the page's "Guest".
   */
  shown(id, state, t) {
    if (state === 'unverified') return placeholder({}, UNKNOWN_TEXT, UNKNOWN_TEXT, t);
    if (state !== 'verified' || !this.got.has(id)) return placeholder({}, PENDING_TEXT, PENDING_LABEL, t);
    return { name: this.names.get(id) || '', nameLabel: null };
  }
}
