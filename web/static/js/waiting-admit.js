// What "Admit all" does with the people waiting. In an encrypted meeting each knock says
// whether the knocker's link holds the meeting's key (knock proof: 'verified', 'wrong',
// or 'checking' while the proof is read). Someone with a wrong link sees and hears
// nothing once admitted and may not be who the moderator expects, so letting them in
// takes its own "Admit anyway" click: "Admit all" then admits only the verified ones,
// and says so on its button. Either way it names whom it admits (admit_all's
// participantIds): a knock that came after the list was drawn keeps waiting.

/**
 * admitPlan says whom "Admit all" admits: {all: true, ids} (everyone waiting, nobody
 * unproven among them) or {all: false, ids} (these; the others keep waiting).
 * @param {{participantId: string, link?: string|null}[]} list the waiting list, oldest first
 */
export function admitPlan(list) {
  const unproven = (w) => w.link === 'wrong' || w.link === 'checking';
  if (!list.some(unproven)) return { all: true, ids: list.map((w) => w.participantId) };
  return { all: false, ids: list.filter((w) => !unproven(w)).map((w) => w.participantId) };
}

/** admitAllLabel is the i18n key of the "Admit all" button for that plan. */
export function admitAllLabel(plan) {
  return plan.all ? 'waiting.admit-all' : 'waiting.admit-verified';
}

/**
 * admitButton says how one knock's Admit reads, on its waiting-list entry and on the
 * knock card alike: a knock whose link is not proven, wrong or not (yet) checked, is let
 * in only by a click on "Admit anyway", whose label says why; one that never proves its
 * link can still be let in so, knowingly, and "Admit all" never lets it in.
 * @param {{link?: string|null}} w a waiting-list entry
 * @returns {{anyway: boolean, text: string, label: string}} i18n keys of the button's text and aria-label
 */
export function admitButton(w) {
  if (w.link === 'wrong') return { anyway: true, text: 'e2ee14.knock.admit-anyway', label: 'e2ee14.knock.admit-anyway.label' };
  if (w.link === 'checking') return { anyway: true, text: 'e2ee14.knock.admit-anyway', label: 'e2ee14.knock.admit-unchecked.label' };
  return { anyway: false, text: 'waiting.admit', label: 'waiting.admit.label' };
}
