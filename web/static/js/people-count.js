// How many are in the meeting: the people chip on the top bar (#participant-count, and
// its label) and the people panel's heading (#people-count).
//
// While the page reconnects ("Reconnecting…", reconnect.js) no session is joined, and
// the one that dropped has let go of its roster (Session.end), so the count said 1, as
// if everyone else had gone. The count from before the drop stays instead: the others'
// memberships wait for them as this page's does, and the resumed welcome brings the
// roster of now. A count not known (a reload resuming, before its welcome) is not shown.

import { $ } from './dom.js';
import { formatNumber, setAttr } from './i18n.js';

export class PeopleCount {
  /** @param {{reconnecting: () => boolean}} deps reconnecting: the page is resuming a dropped membership */
  constructor({ reconnecting }) {
    this.reconnecting = reconnecting;
    this.count = null; // null: not known
  }

  /**
   * render shows the count of the page's session s (live, or null): everyone in it, this
   * page included, while it is joined; the count from before the drop while the page
   * reconnects; nothing otherwise (no meeting: a resume given up, an error screen).
   */
  render(s) {
    if (s && s.joined && !s.ended) this.count = Math.max(1, s.everyone().length);
    else if (!this.reconnecting()) this.count = null;
    const n = this.count;
    $('#participant-count').textContent = n === null ? '' : formatNumber(n);
    $('#people-count').textContent = n === null ? '' : `(${formatNumber(n)})`;
    if (n === null) setAttr($('#btn-people'), 'aria-label', 'meeting.people.show');
    else setAttr($('#btn-people'), 'aria-label', 'meeting.people.show-count', { count: n });
  }
}
