// The warnings shown when the key schedule refused key messages or announcements
// (e2ee/roster.js). Those that did not fit the roster the server announced (a replayed
// or injected identity, an id brought back after it left) may be the server tampering:
// the person sees one clear sentence saying so in the encryption panel (and the chip
// turns to a warning). Those refused only because the page's memory of the stay is full
// (WARNING_KINDS.FULL: MAX_DEAD_IDS ids that left, or MAX_IDENTITIES identities) are
// what a very long, busy and honest meeting can come to as well: they get their own
// sentence, which says what it means (nobody new is given or taken keys) and what helps,
// and does not blame the server. Each sentence is toasted once per stay in the meeting
// (the page's own resume carries the warnings and does not toast them again); the
// details (counts per kind) stay in window.conclave.e2ee().warnings.
//
// Test hooks: #e2ee-roster-warning (the tampering sentence, shown while there are such
// warnings), #e2ee-memory-full-note (the full memory's), #e2ee-status[data-warning=
// "roster"] (tampering, whether or not the memory is full too) or "memory-full".

import { $, toast } from './dom.js';
import { t } from './i18n.js';
import { WARNING_KINDS } from './e2ee/roster.js';

const FULL = WARNING_KINDS.FULL;

export class RosterWarning {
  constructor() {
    this.note = $('#e2ee-roster-warning');
    this.fullNote = $('#e2ee-memory-full-note');
    this.chip = $('#e2ee-status');
    this.toasted = { tampering: false, full: false };
  }

  /** render takes Session.e2eeInfo() (or null outside a meeting). */
  render(info) {
    const w = info && info.state === 'on' && info.warnings ? info.warnings : null;
    const full = w ? countOf(w.kinds, FULL) : 0;
    const tampering = w ? Math.max(0, w.count - full) : 0;
    this.note.hidden = tampering === 0;
    this.fullNote.hidden = full === 0;
    if (tampering === 0 && full === 0) {
      delete this.chip.dataset.warning;
      this.toasted = { tampering: false, full: false }; // a new session starts without warnings
      return;
    }
    this.chip.dataset.warning = tampering ? 'roster' : 'memory-full';
    // Warnings carried across the page's own resume were told by the session that had
    // them: the sentences and the chip stay, a toast is not said again at each resume.
    const carriedFull = countOf(w.carriedKinds, FULL);
    const carriedTampering = Math.max(0, (w.carried || 0) - carriedFull);
    if (tampering && !this.toasted.tampering && !carriedTampering) {
      toast(t('e2ee14.roster.warning'), { kind: 'error', timeout: 10000 });
    }
    if (full && !this.toasted.full && !carriedFull) {
      toast(t('e2ee.memory-full'), { kind: 'error', timeout: 10000 });
    }
    if (tampering) this.toasted.tampering = true;
    if (full) this.toasted.full = true;
  }
}

/** countOf is kinds[kind] when it is a count, else 0. */
function countOf(kinds, kind) {
  const n = kinds ? kinds[kind] : 0;
  return Number.isSafeInteger(n) && n > 0 ? n : 0;
}
