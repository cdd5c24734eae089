// Who is in the meeting, as the page shows it: the count, the people list (with a
// moderator's actions), who is reconnecting, the encryption state on the tiles and in the
// list, and the invite card while the person is alone in the meeting (closed, it stays
// away: the dismissal is known here only).

import { $, toast, copyText } from './dom.js';
import { renderPeople } from './people.js';
import { renderPeopleCount } from './people-count.js';
import { participantActions } from './moderator.js';
import { t } from './i18n.js';

/**
 * meetingRoster draws the roster. live is the page's joined-or-joining Session (or null),
 * held the roster kept while the page resumes (held-roster.js).
 */
export function meetingRoster({ live, isModerator, held, grid, modctl, e2eeStatus, rosterWarning, selfLinkWarning }) {
  let inviteDismissed = false;

  /** renderE2EE shows the encryption state: top-bar chip, safety code, unverified warnings. */
  function renderE2EE() {
    const s = live();
    const info = s && s.joined ? s.e2eeInfo() : null;
    e2eeStatus.render(info);
    rosterWarning.render(info);
    selfLinkWarning.render(info);
    if (!s || !s.joined) return;
    for (const p of s.everyone()) {
      if (!p.self) grid.update(p.id, { e2ee: p.e2ee });
    }
    if (!$('#people-panel').hidden) renderPeopleList();
  }

  /**
   * shownPeople is the roster the page shows: the joined session's, or while the page
   * reconnects the one from before the drop (held-roster.js).
   */
  function shownPeople() {
    return held.shown(live());
  }

  /** markAway marks who is reconnecting, and the roster held while the page is (held-roster.js). */
  function markAway(people) {
    held.mark({ list: $('#people-list'), note: $('#people-held') }, people);
  }

  function renderPeopleList() {
    const mod = isModerator();
    const people = shownPeople();
    renderPeople($('#people-list'), people, {
      moderator: mod,
      // Told once the server says it is done (moderator.js Confirmations, through modctl).
      actions: (person) => participantActions(person, modctl.moderate, () => live()?.settings),
    });
    markAway(people);
  }

  function renderRoster() {
    const people = shownPeople();
    renderPeopleCount(people); // while reconnecting: those from before the drop
    if (!$('#people-panel').hidden) renderPeopleList();
    const alone = document.body.dataset.state === 'joined' && people.length === 1;
    $('#invite-card').hidden = !alone || inviteDismissed;
    markAway(people);
  }

  /** bindInvite binds the invite button and card to shareURL, the link to pass on. */
  function bindInvite(shareURL) {
    $('#btn-invite').addEventListener('click', async () => {
      const ok = await copyText(shareURL);
      toast(ok ? t('meeting.invite.copied') : shareURL, { kind: ok ? 'success' : 'info' });
    });
    $('#invite-link').value = shareURL;
    $('#invite-copy').addEventListener('click', async () => {
      const ok = await copyText(shareURL, $('#invite-link'));
      toast(ok ? t('meeting.invite.copied') : t('common.copy-failed'), { kind: ok ? 'success' : 'info' });
    });
    $('#invite-close').addEventListener('click', () => {
      inviteDismissed = true;
      $('#invite-card').hidden = true;
      $('#btn-mic').focus();
    });
  }

  return { renderE2EE, renderPeopleList, renderRoster, bindInvite };
}
