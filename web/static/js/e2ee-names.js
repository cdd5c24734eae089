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

import { plainName } from './name-text.js';
import { validId } from './e2ee/keys.js';

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
 * fillName makes node (a span of a list: the participant list, the waiting room, the
 * raised hands, the chat's sender) show person's name as shown (by default its name):
 * a name as its text; a placeholder as it is to the eye, with its label what a screen
 * reader reads ("…" is read out as "Name not yet received"), and as tooltip, marked
 * data-name-pending. The label is visually hidden text beside the "…", which is hidden
 * from assistive technology: an aria-label on an element without a role, as a span, is
 * prohibited (ARIA 1.2) and not read out by every screen reader, while text is. A
 * placeholder that says what its label says ("Name unknown") is its own text. Read when
 * called: a list drawn again at a switch of language reads it in the new one. The node
 * takes the name's direction (dir="auto"). Returns node.
 */
export function fillName(node, person, shown = person.name) {
  const label = person.nameLabel;
  if (label && label !== shown) {
    const part = (name, value, text) => {
      const span = document.createElement('span');
      span.setAttribute(name, value);
      span.textContent = text;
      return span;
    };
    node.replaceChildren(part('aria-hidden', 'true', shown), part('class', 'sr-only', label));
  } else {
    node.textContent = shown;
  }
  // Laid out in its own direction (its first strong letter's, as a sentence's isolate
  // does, i18n-core.js): a right-to-left name ending in "!" or digits shows them at its
  // end, and is clipped at its end, in a left-to-right page.
  node.setAttribute('dir', 'auto');
  if (label) {
    node.setAttribute('title', label);
    node.dataset.namePending = 'true';
  } else if (node.dataset.namePending) { // a placeholder the name replaced
    node.removeAttribute('title');
    delete node.dataset.namePending;
  }
  return node;
}

/**
 * THIS_PERSON holds, for each sentence (a catalogue key) that names a person somewhere
 * else than at its start, the same sentence with "this person" in the name's place, said
 * while the name is a placeholder. "…" or "Name unknown" put in the name's place is no
 * sentence ("Remove …?", "Muted Name unknown"), and "Someone" is one only at the start:
 * "Admit Someone", and in German "Jemand einlassen", where the object is "jemanden". The
 * button or menu a label belongs to, and the action a moderator just took, say which
 * person "this person" is. The chat's announcement has no such context: "someone".
 */
const THIS_PERSON = {
  'waiting.admit.label': 'waiting.admit.label-someone',
  'waiting.deny.label': 'waiting.deny.label-someone',
  'e2ee14.knock.admit-anyway.label': 'e2ee14.knock.admit-anyway.label-someone',
  'e2ee14.knock.admit-unchecked.label': 'e2ee14.knock.admit-unchecked.label-someone',
  'people.actions-for': 'people.actions-for-someone',
  'devices.layout.pin.named': 'devices.layout.pin.named-someone',
  'devices.layout.pin.screen': 'devices.layout.pin.screen-someone',
  'moderator.asked-unmute': 'moderator.asked-unmute-someone',
  'moderator.muted': 'moderator.muted-someone',
  'moderator.camera-off': 'moderator.camera-off-someone',
  'moderator.share-stopped': 'moderator.share-stopped-someone',
  'moderator.made-presenter': 'moderator.made-presenter-someone',
  'moderator.removed-presenter': 'moderator.removed-presenter-someone',
  'moderator.made-moderator': 'moderator.made-moderator-someone',
  'moderator.removed-moderator': 'moderator.removed-moderator-someone',
  'moderator.sent-to-lobby': 'moderator.sent-to-lobby-someone',
  'moderator.remove.title': 'moderator.remove.title-someone',
  'moderator.remove.text': 'moderator.remove.text-someone',
  'moderator.remove.text-no-lobby': 'moderator.remove.text-no-lobby-someone',
  'moderator.remove.text-locked': 'moderator.remove.text-locked-someone',
  'modctl.hands.lowerOne.label': 'modctl.hands.lowerOne.label-someone',
  'chat.announce': 'chat.announce-someone',
};

/**
 * A_GUEST holds, for each sentence that tells news of a member (a join, a leave, a raised
 * hand, a knock, a chat message), the same sentence for a member without a name, said
 * when it has none. "Guest" stands for a name in a list, on a tile and as a chat line's
 * sender, and English news says it as a name ("Guest joined", as "Anna joined"); German
 * news is a whole sentence, where a noun put in a name's place lacks its article: "Gast
 * ist beigetreten", "Neue Nachricht von Gast" for "Ein Gast ist beigetreten", "Neue
 * Nachricht von einem Gast".
 */
const A_GUEST = {
  'meeting.joined-toast': 'meeting.joined-toast-guest',
  'meeting.left-toast': 'meeting.left-toast-guest',
  'modctl.hands.raisedBy': 'modctl.hands.raisedBy-guest',
  'waiting.knock.one': 'waiting.knock.one-guest',
  'e2ee14.knock.card-wrong': 'e2ee14.knock.card-wrong-guest',
  'e2ee14.knock.card-checking': 'e2ee14.knock.card-checking-guest',
  'chat.announce': 'chat.announce-guest',
};

/**
 * THIS_GUEST holds, for each sentence about the member of a list's row (a button's label,
 * a moderator's confirmation or question: THIS_PERSON's, but the chat's announcement,
 * which is news), the same sentence for a member without a name. German put "Gast" in
 * the name's place without its article: "Aktionen für Gast", "Hand von Gast senken",
 * "Kamera von Gast ausgeschaltet", "Gast verlässt das Meeting sofort". It says "dieser
 * Gast" now ("Aktionen für diesen Gast", "Hand dieses Gastes senken"), as a placeholder's
 * says "diese Person": the row the button stands in, or the action just taken, says
 * which guest, where "ein Gast" would be any of the guests listed. English says "Guest"
 * as a name, as the row shows it ("Actions for Guest"), as its news does.
 */
const THIS_GUEST = {
  'waiting.admit.label': 'waiting.admit.label-guest',
  'waiting.deny.label': 'waiting.deny.label-guest',
  'e2ee14.knock.admit-anyway.label': 'e2ee14.knock.admit-anyway.label-guest',
  'e2ee14.knock.admit-unchecked.label': 'e2ee14.knock.admit-unchecked.label-guest',
  'people.actions-for': 'people.actions-for-guest',
  'devices.layout.pin.named': 'devices.layout.pin.named-guest',
  'devices.layout.pin.screen': 'devices.layout.pin.screen-guest',
  'moderator.asked-unmute': 'moderator.asked-unmute-guest',
  'moderator.muted': 'moderator.muted-guest',
  'moderator.camera-off': 'moderator.camera-off-guest',
  'moderator.share-stopped': 'moderator.share-stopped-guest',
  'moderator.made-presenter': 'moderator.made-presenter-guest',
  'moderator.removed-presenter': 'moderator.removed-presenter-guest',
  'moderator.made-moderator': 'moderator.made-moderator-guest',
  'moderator.removed-moderator': 'moderator.removed-moderator-guest',
  'moderator.sent-to-lobby': 'moderator.sent-to-lobby-guest',
  'moderator.remove.title': 'moderator.remove.title-guest',
  'moderator.remove.text': 'moderator.remove.text-guest',
  'moderator.remove.text-no-lobby': 'moderator.remove.text-no-lobby-guest',
  'moderator.remove.text-locked': 'moderator.remove.text-locked-guest',
  'modctl.hands.lowerOne.label': 'modctl.hands.lowerOne.label-guest',
};

/**
 * sentence is {key, params} of sentence key naming person in its {name} (params are its
 * other values): the name shown (shownName: "Guest" without one, or key's wording of
 * A_GUEST or THIS_GUEST), or, while the name is a placeholder, key's wording of
 * THIS_PERSON, or "Someone" (spokenName) for a sentence that starts with the name and
 * has none. Kept as a key and its values, not as text, so that a label (setAttr,
 * i18nAttr) or a confirmation said later is read in the language of then.
 */
export function sentence(key, person, t, params = {}) {
  if (person.nameLabel && THIS_PERSON[key]) return { key: THIS_PERSON[key], params: { ...params } };
  const guest = !person.nameLabel && !person.name && (A_GUEST[key] || THIS_GUEST[key]);
  if (guest) return { key: guest, params: { ...params } };
  return { key, params: { ...params, name: spokenName(person, t) } };
}

/**
 * sentenceText is the text of sentence(key, person, t, params) now, its name as shown
 * makes it (clipped.js clipName: the text seen; by default the whole name).
 */
export function sentenceText(key, person, t, params = {}, shown = (name) => name) {
  const said = sentence(key, person, t, params);
  if (said.params.name !== undefined) said.params.name = shown(said.params.name);
  return t(said.key, said.params);
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
  received(id, sent) {
    if (!validId(id) || typeof sent !== 'string') return;
    if (!this.names.has(id) && this.names.size >= MAX_NAMES) return;
    this.got.add(id);
    const name = plainName(sent); // no bidi override of the text after it (name-text.js)
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
