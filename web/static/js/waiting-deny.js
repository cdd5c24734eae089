// "Deny all": a moderator facing a flood of knocks (a link that leaked, knocking under
// many names) denies everyone the waiting list shows in one step (deny_all,
// signaling/PROTOCOL.md), after a question, since it cannot be undone. It names whom it
// denies: the list shown when the button was pressed, so that a knock that comes while
// the question is open keeps waiting, as with "Admit all". Unlike "Admit all" it denies a
// knock whatever its link says (a wrong link is what a flood looks like). What was done
// is said once, when the server says it is done (the message's `said`, which
// moderator.js Confirmations toasts on its `done`): one announcement, not one per person.
// Each denied person sees what a single Deny shows.

import { confirmAction } from './confirm.js';
import { t } from './i18n.js';

/**
 * denyAllText is the i18n key of the question's text: whether those denied can come back
 * by the link (not while the meeting is locked; straight in while the waiting room is
 * off; else by asking again).
 * @param {{lobby?: boolean, locked?: boolean}} settings the meeting's settings as shown
 */
export function denyAllText({ lobby = true, locked = false } = {}) {
  if (locked) return 'waiting.deny-all.text-locked';
  return lobby ? 'waiting.deny-all.text' : 'waiting.deny-all.text-no-lobby';
}

/**
 * askDenyAll asks whether to deny the knocks ids (the list shown) and, confirmed, sends
 * deny_all naming them through moderate (modctl.js: type, payload, and what to say once
 * the server has done it). It resolves with whether it was sent.
 * @param {string[]} ids participant ids of the knocks shown, oldest first
 * @param {{lobby?: boolean, locked?: boolean}|null} settings
 * @param {(type: string, payload: object, said: {key: string, params: object}) => unknown} moderate
 */
export async function askDenyAll(ids, settings, moderate) {
  if (ids.length === 0) return false;
  const chosen = [...ids]; // as shown now: the list may change while the question is open
  const count = chosen.length;
  const ok = await confirmAction({
    title: t('waiting.deny-all.title', { count }),
    text: t(denyAllText(settings || {}), { count }),
    ok: t('waiting.deny-all.ok'),
  });
  if (ok) moderate('deny_all', { participantIds: chosen }, { key: 'waiting.denied-all', params: { count } });
  return ok;
}
