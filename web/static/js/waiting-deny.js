// "Deny all": a moderator facing a flood of knocks (a link that leaked, knocking under
// many names) denies everyone the waiting list shows in one step (deny_all,
// signaling/PROTOCOL.md), after a question, since it cannot be undone. It names whom it
// denies: the list shown when the button was pressed, so that a knock that comes while
// the question is open keeps waiting, as with "Admit all"; of it, those still waiting
// (the question counts them as they go, askDenyAll). Unlike "Admit all" it denies a
// knock whatever its link says (a wrong link is what a flood looks like). What was done
// is said once, when the server says it is done (the message's `said`, which
// moderator.js Confirmations toasts on its `done`): one announcement, not one per person.
// Each denied person sees what a single Deny shows.

import { confirmAction, retell, withdraw } from './confirm.js';
import { toast } from './dom.js';
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
 * askDenyAll asks whether to deny the knocks shown (list: the waiting list's entries,
 * oldest first) and, confirmed, sends deny_all naming those of them still waiting
 * through moderate (modctl.js: type, payload, and what to say once the server has done
 * it). The list may change while the question is open (WaitingRoom.render hands each one
 * to listChanged): a knock shown that leaves, is let in or is denied by another
 * moderator meanwhile is no longer counted ("Deny all 3 people waiting?" stood while
 * two had gone, and "Denied 3 people waiting" followed), and a knock that came meanwhile
 * is not named; once none of those shown is left, the question closes by itself and
 * says that nobody was denied (its OK denied nobody, and asked of nobody). A knock that
 * knocked again (PROTOCOL.md "Knocking again") is its request still, by the knock it
 * continues, and is named by the id it has now.
 *
 * It returns {answered, listChanged(list), withdraw()}: answered resolves with whether
 * deny_all was sent; withdraw closes the question quietly (the waiting room is no longer
 * this moderator's).
 * @param {{participantId: string, continues?: string}[]} list the knocks shown
 * @param {{lobby?: boolean, locked?: boolean}|null} settings
 * @param {(type: string, payload: object, said: {key: string, params: object}) => unknown} moderate
 */
export function askDenyAll(list, settings, moderate) {
  const chosen = new Set(list.map(request)); // as shown now
  let left = list.slice();
  let emptied = false;
  let withdrawn = false;
  const question = () => {
    const count = left.length;
    return { title: t('waiting.deny-all.title', { count }), text: t(denyAllText(settings || {}), { count }) };
  };
  if (left.length === 0) return { answered: Promise.resolve(false), listChanged() {}, withdraw() {} };
  const asked = confirmAction({ ...question(), ok: t('waiting.deny-all.ok') });
  const answered = asked.then((ok) => {
    if (!ok || left.length === 0) {
      if (emptied && !withdrawn) toast(t('waiting.deny-all.none'));
      return false;
    }
    const count = left.length;
    moderate('deny_all', { participantIds: left.map((w) => w.participantId) }, { key: 'waiting.denied-all', params: { count } });
    return true;
  });
  return {
    answered,
    listChanged(now) {
      left = now.filter((w) => chosen.has(request(w)));
      if (left.length > 0) {
        const { title, text } = question();
        retell(asked, text, title);
      } else if (!emptied) {
        // Answered already (its answer not handled yet), it stays answered.
        emptied = withdraw(asked);
      }
    },
    withdraw() {
      withdrawn = true;
      withdraw(asked);
    },
  };
}

/** request is the knock's request: the knock it continues (it knocked again), or itself. */
function request(w) {
  return (typeof w.continues === 'string' && w.continues) || w.participantId;
}
