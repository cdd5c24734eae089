// The warning shown when the key schedule refused key messages or announcements that
// did not fit the roster the server announced (e2ee/roster.js): a replayed or
// injected identity, an id brought back after it left. The person sees one clear
// sentence in the encryption panel (and the chip turns to a warning), plus one toast
// per stay in the meeting (the page's own resume carries the warnings and does not
// toast them again); the details (counts per kind) stay in
// window.conclave.e2ee().warnings.
//
// Test hooks: #e2ee-roster-warning (the sentence, shown while there are warnings),
// #e2ee-status[data-warning="roster"].

import { $, toast } from './dom.js';
import { t } from './i18n.js';

export class RosterWarning {
  constructor() {
    this.note = $('#e2ee-roster-warning');
    this.chip = $('#e2ee-status');
    this.toasted = false;
  }

  /** render takes Session.e2eeInfo() (or null outside a meeting). */
  render(info) {
    const n = info && info.state === 'on' && info.warnings ? info.warnings.count : 0;
    this.note.hidden = n === 0;
    if (n === 0) {
      delete this.chip.dataset.warning;
      this.toasted = false; // a new session starts without warnings
      return;
    }
    this.chip.dataset.warning = 'roster';
    // Warnings carried across the page's own resume were told by the session that had
    // them: the sentence and the chip stay, the toast is not said again at each resume.
    if (!this.toasted && !info.warnings.carried) {
      toast(t('e2ee14.roster.warning'), { kind: 'error', timeout: 10000 });
    }
    this.toasted = true;
  }
}
