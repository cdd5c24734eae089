// Values a Session (session.js) takes from the server, checked: settings and roles.

import { UNREADABLE } from './e2ee/session-chat.js';
import { t } from './i18n.js';

/** readable shows UNREADABLE (a chat text that did not decrypt) in the page's language. */
export const readable = (v) => (v === UNREADABLE ? t('e2ee.unreadable') : v);

export const DEFAULT_SETTINGS = Object.freeze({
  lobby: true, locked: false, screenShare: false, unmute: true, chat: true, passwordRequired: false,
});
const ROLES = new Set(['participant', 'presenter', 'moderator']);

export function settingsFrom(s) {
  const out = { ...DEFAULT_SETTINGS };
  if (s && typeof s === 'object') {
    for (const key of Object.keys(DEFAULT_SETTINGS)) {
      if (typeof s[key] === 'boolean') out[key] = s[key];
    }
  }
  return out;
}

/**
 * revisionFrom is a settings revision from the server (welcome settingsRevision,
 * settings revision); 0 when there is none (a server older than revisions): the page
 * then names no revision in update_settings.
 */
export function revisionFrom(r) {
  return Number.isSafeInteger(r) && r > 0 ? r : 0;
}

export function roleFrom(r) {
  return ROLES.has(r) ? r : 'participant';
}

/**
 * membersOf is the list of members a welcome gives: none when its participants is not a
 * list. Only a lying server sends another, which iterated (an object, a number) threw
 * halfway through the welcome and left the page joined with nothing drawn, no media
 * and no key schedule, for good.
 */
export function membersOf(welcome) {
  return welcome && Array.isArray(welcome.participants) ? welcome.participants : [];
}
