// How many are in the meeting: the people chip on the top bar (#participant-count, and
// its label) and the people panel's heading (#people-count).
//
// While the page reconnects ("Reconnecting…", reconnect.js) no session is joined, and
// the one that dropped has let go of its roster (Session.end), so the count said 1, as
// if everyone else had gone. The page shows the roster from before the drop meanwhile
// (held-roster.js), and counts it: the others' memberships wait for them as this page's
// does, and the resumed welcome brings the roster of now. No roster (a reload resuming,
// before its welcome; a resume given up) shows no count.

import { $ } from './dom.js';
import { formatNumber, setAttr } from './i18n.js';

/**
 * renderPeopleCount shows how many people the page shows (meeting-roster.js shownPeople:
 * the joined session's everyone, this page included, or the roster held while it
 * reconnects); nothing for none (no meeting: a resume given up, an error screen).
 */
export function renderPeopleCount(people) {
  const n = people.length ? people.length : null;
  $('#participant-count').textContent = n === null ? '' : formatNumber(n);
  $('#people-count').textContent = n === null ? '' : `(${formatNumber(n)})`;
  // A toggle's name says what it toggles, not what a click does (aria-pressed says whether
  // the list is open), and starts with the count the chip shows (WCAG 2.5.3, label in name).
  if (n === null) setAttr($('#btn-people'), 'aria-label', 'meeting.people.label');
  else setAttr($('#btn-people'), 'aria-label', 'meeting.people.label-count', { count: n });
}
