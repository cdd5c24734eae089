// The waiting room as moderators see it: the people who knock, how long they
// have waited, Admit / Deny per person, Admit all and Deny all (after a question:
// waiting-deny.js); a count on the control bar, a small card when someone new knocks,
// and a screen-reader announcement.
//
// In an end-to-end encrypted meeting each entry says whether the knocker's link
// proved the meeting's key (e2ee/FORMAT.md, "Knock proof"): "Link verified", "Wrong
// link" or "Checking the link…"; a knocker whose link is not proven (wrong, or its proof
// not come) can still be admitted, on its entry and on the knock card alike, by an
// "Admit anyway" that says so (admitButton).
//
// Test hooks: #btn-waiting (control bar, count in #waiting-badge), #waiting-list
// with .waiting-entry[data-participant-id] (data-link="verified|wrong|checking" in an
// encrypted meeting) each holding .waiting-link, .btn-admit and .btn-deny,
// #btn-admit-all ("Admit all with a verified link" while a wrong link waits: waiting-admit.js),
// #btn-deny-all; the knock card #knock-card with #knock-text, #knock-admit ("Admit
// anyway" for one knock whose link is not proven, as on its entry) and, for more than
// one knock, #knock-deny-all.

import { $, el, announce, initials, hueFor, writeClipped } from './dom.js';
import { clipName } from './clipped.js';
import { clearAttr, formatNumber, onLanguageChange, setAttr, setText, t } from './i18n.js';
import { admitAllLabel, admitButton, admitPlan } from './waiting-admit.js';
import { askDenyAll } from './waiting-deny.js';
import { monotonicNow } from './monotonic.js';
import { fillName, sentence, sentenceText, shownName } from './e2ee-names.js';

const TICK_MS = 5000;

/** LINK_TEXT: the waiting-list badge and its explanation per knock-proof verdict. */
const LINK_TEXT = {
  verified: ['e2ee14.knock.verified', 'e2ee14.knock.verified.title'],
  wrong: ['e2ee14.knock.wrong', 'e2ee14.knock.wrong.title'],
  checking: ['e2ee14.knock.checking', 'e2ee14.knock.checking.title'],
};

/**
 * waitedFor says how long someone has waited ("Waiting just now", "… 3 min", "… 1 h 5 min")
 * as [key, params]. waitedSince is the monotonic reading (monotonic.js) at which they
 * began to wait, as the page worked it out from the server's waitingMs; on the wall
 * clock, one set back an hour said "just now" for the hour and one set ahead added it.
 * Without it, since is the server's RFC 3339 time, which only the wall clock can
 * measure. now is {mono, wall}, read once for a list.
 */
export function waitedFor({ waitedSince, since }, now = { mono: monotonicNow(), wall: Date.now() }) {
  const waited = Number.isFinite(waitedSince) ? now.mono - waitedSince : now.wall - Date.parse(since);
  if (Number.isNaN(waited)) return ['waiting.since', {}];
  const mins = Math.floor(Math.max(0, waited) / 60000);
  if (mins < 1) return ['waiting.since.now', {}];
  if (mins < 60) return ['waiting.since.min', { min: mins }];
  const h = Math.floor(mins / 60);
  return mins % 60 ? ['waiting.since.h-min', { h, min: mins % 60 }] : ['waiting.since.h', { h }];
}

/**
 * buttonLabel is [key, params] of the label of knocker w's button whose label names it by
 * key: "Admit this person" while its name is a placeholder (e2ee-names.js sentence).
 */
function buttonLabel(key, w) {
  const { key: said, params } = sentence(key, w, t);
  return [said, params];
}

export class WaitingRoom {
  /**
   * @param {{admit(id: string), deny(id: string), admitAll(ids: string[]),
   *          moderate?(type: string, payload: object, said: object), settings?(): object|null,
   *          openPanel(), isPanelOpen(): boolean}} actions
   *   moderate sends Deny all's message, and says what was done once the server has
   *   done it (modctl.js); settings gives the meeting's settings (its question says
   *   whether those denied can come back).
   */
  constructor({ admit, deny, admitAll, moderate = () => null, settings = () => null, openPanel, isPanelOpen }) {
    this.actions = { admit, deny, admitAll, moderate, settings, openPanel, isPanelOpen };
    this.list = [];
    this.known = new Set(); // ids seen, to tell new knocks from old ones
    this.enabled = false;
    this.timer = 0;
    this.knockDismissed = false;
    this.denying = null; // Deny all's question while it is open (waiting-deny.js askDenyAll)

    this.listEl = $('#waiting-list');
    this.button = $('#btn-waiting');
    this.badge = $('#waiting-badge');
    this.admitAllBtn = $('#btn-admit-all');
    this.denyAllBtn = $('#btn-deny-all');
    this.card = $('#knock-card');
    this.cardDenyAll = $('#knock-deny-all');

    this.admitAllBtn.addEventListener('click', () => this._admitAll());
    this.denyAllBtn.addEventListener('click', () => this._denyAll());
    this.cardDenyAll.addEventListener('click', () => this._denyAll());
    $('#knock-admit').addEventListener('click', () => {
      if (this.list.length !== 1) this._admitAll();
      // One knock: as its entry's Admit ("Admit anyway" when its link is not proven).
      else this.actions.admit(this.list[0].participantId);
    });
    $('#knock-view').addEventListener('click', () => this.actions.openPanel());
    $('#knock-close').addEventListener('click', () => {
      this.knockDismissed = true;
      this._card();
      this.button.focus();
    });
    onLanguageChange(() => { if (this.enabled) this.render(); }); // the knock card's text is built
  }

  /**
   * setEnabled shows the moderator's waiting-room controls, or hides them and forgets the
   * list. The knocks already announced stay known (as in knock-alert.js): a knock keeps
   * its id while it waits, and a resumed session gets the same list again, which must
   * not announce everyone anew nor bring back a knock card the moderator dismissed.
   */
  setEnabled(on) {
    const had = document.activeElement;
    this.enabled = on;
    this.button.hidden = !on;
    if (!on) this.list = [];
    this.render();
    // The role lost with the focus on the waiting-room button (or given back to it as
    // its panel closed): the button is gone with the role.
    if (!on && had === this.button) this._away()?.focus();
  }

  /**
   * _away is where the focus goes from a control of the room that went: the waiting-room
   * button, or, where it went too (the moderator role lost), the meeting's main region,
   * named, as when the focus had nowhere else to go (meeting.js onJoined), where a
   * browser dropped it to the top of the page.
   */
  _away() {
    return this.enabled && !this.button.hidden ? this.button : $('#grid');
  }

  /**
   * follow shows the waiting room of the page's session s (meeting.js applyRole: at every
   * welcome, a change of the own role, and a drop, where s is null): on for a joined
   * moderator, with the session's list once it has one. A session has none until its
   * first `waiting_list` (Session.waiting null), which comes after the welcome, its
   * links checked and names opened first: a resumed moderator's room shows nobody
   * waiting until then, and keeps the knocks it knew, so that the list that comes
   * announces none of them again nor brings back a knock card she closed.
   */
  follow(s) {
    const mod = !!s && s.isModerator;
    this.setEnabled(mod);
    if (mod && s.waiting) this.update(s.waiting);
  }

  /** update takes a `waiting_list` (the session's, its entries' links and names worked out). */
  update(list) {
    if (!this.enabled) return; // a late list after losing the moderator role
    // A knock that continues another (its page knocked again: PROTOCOL.md "Knocking
    // again") is that request, in its place: not someone new.
    const fresh = list.filter((w) => !this.known.has(w.participantId) && !(w.continues && this.known.has(w.continues)));
    this.list = list;
    // The list is the whole waiting room: an empty one is nobody waiting, and the knocks
    // admitted, denied or gone are forgotten. (A session that has no list yet has none
    // to give: follow.)
    this.known = new Set(list.flatMap((w) => (w.continues ? [w.participantId, w.continues] : [w.participantId])));
    if (fresh.length > 0) {
      this.knockDismissed = false;
      // Knocks announced together are said as how many knocked (a burst is not read out
      // name by name), counted when said: one let in, denied or gone meanwhile is not.
      const many = (count) => t('waiting.knock.many', { count });
      for (const w of fresh) {
        announce(sentenceText('waiting.knock.one', w, t), { kind: 'knock', many, holds: () => this.known.has(w.participantId) });
      }
      this.button.classList.remove('knock');
      void this.button.offsetWidth; // restart the animation
      this.button.classList.add('knock');
    }
    this.render();
  }

  /** render draws the list, the badge and the knock card. */
  render() {
    const focused = document.activeElement;
    const place = entryPlace(this.listEl, focused); // drawn anew below: its buttons go
    const n = this.enabled ? this.list.length : 0;
    this.badge.textContent = n > 99 ? '99+' : String(n);
    this.badge.hidden = n === 0;
    setAttr(this.button, 'aria-label', n ? 'waiting.button' : 'settings.lobby', { count: n });
    setAttr(this.button, 'title', n ? 'waiting.button' : 'settings.lobby', { count: n });
    $('#waiting-count').textContent = n ? `(${formatNumber(n)})` : '';
    const plan = admitPlan(this.enabled ? this.list : []);
    this.admitAllBtn.disabled = plan.ids.length === 0;
    this.admitAllBtn.hidden = n === 0;
    setText(this.admitAllBtn, admitAllLabel(plan));
    this.denyAllBtn.hidden = n === 0;
    $('#waiting-empty').hidden = n > 0;

    const now = { mono: monotonicNow(), wall: Date.now() };
    this.listEl.replaceChildren(...(this.enabled ? this.list : []).map((w) => this._entry(w, now)));
    this._card();
    if (place) this._keepEntryFocus(place);
    else this._keepFocus(focused);
    // Deny all's open question counts those of the knocks it asked about still waiting;
    // the room no longer this moderator's, it closes without a word.
    if (this.denying && this.enabled) this.denying.listChanged(this.list);
    else if (this.denying) this.denying.withdraw();

    clearInterval(this.timer);
    this.timer = 0;
    if (n > 0) this.timer = setInterval(() => this._tick(), TICK_MS);
  }

  _entry(w, now) {
    const name = shownName(w, t);
    const avatar = el('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' },
      el('span', { class: 'avatar-initials', text: initials(name) }));
    avatar.style.setProperty('--avatar-hue', String(hueFor(w.participantId)));
    const waitedSince = Number.isFinite(w.waitedSince) ? String(w.waitedSince) : '';
    const since = el('span', { class: 'waiting-since', dataset: { waitedSince, since: w.since || '' } });
    this._since(since, now);
    const link = LINK_TEXT[w.link];
    const wrong = w.link === 'wrong';
    const admit = admitButton(w);
    const [denyLabel, denyParams] = buttonLabel('waiting.deny.label', w);
    const [admitLabel, admitParams] = buttonLabel(admit.label, w);
    const dataset = { participantId: w.participantId };
    if (link) dataset.link = w.link;
    return el('li', { class: wrong ? 'waiting-entry waiting-wrong-link' : 'waiting-entry', dataset },
      avatar,
      el('span', { class: 'waiting-who' }, fillName(el('span', { class: 'waiting-name' }), w, name), since,
        link ? el('span', { class: `waiting-link waiting-link-${w.link}`, dataset: { link: w.link }, i18n: link[0], i18nAttr: { title: link[1] } }) : null,
        wrong ? el('span', { class: 'waiting-link-note', i18n: 'e2ee14.knock.wrong.note' }) : null),
      el('span', { class: 'waiting-actions' },
        el('button', {
          type: 'button', class: 'btn btn-small btn-secondary btn-deny', i18nAttr: { 'aria-label': denyLabel }, i18nParams: denyParams,
          onclick: () => this.actions.deny(w.participantId),
        }, el('span', { i18n: 'waiting.deny' })),
        el('button', {
          type: 'button',
          class: admit.anyway ? 'btn btn-small btn-secondary btn-admit btn-admit-anyway' : 'btn btn-small btn-primary btn-admit',
          i18nAttr: { 'aria-label': admitLabel }, i18nParams: admitParams,
          onclick: () => this.actions.admit(w.participantId),
        }, el('span', { i18n: admit.text }))));
  }

  _since(node, now) {
    const { waitedSince, since } = node.dataset;
    const [key, params] = waitedFor({ waitedSince: waitedSince ? Number(waitedSince) : NaN, since }, now);
    setText(node, key, params);
  }

  /** _admitAll lets in everyone who may go in at once (waiting-admit.js). */
  // Only those on the list the moderator sees (and, encrypted, whose link is proven):
  // a knock that came meanwhile, its link not checked yet, keeps waiting.
  _admitAll() {
    const plan = admitPlan(this.list);
    if (plan.ids.length) this.actions.admitAll(plan.ids);
  }

  /**
   * _denyAll denies everyone on the list shown, once the moderator confirms
   * (waiting-deny.js). The question gives the focus back to the button that asked; a
   * list that came while it was open may have hidden that button (the knocks left, or
   * the card is down to one), which a browser cannot focus: the focus then goes where
   * render would have moved it, not to the top of the page.
   */
  async _denyAll() {
    const asker = document.activeElement;
    const asking = askDenyAll(this.enabled ? this.list : [], this.actions.settings(), this.actions.moderate);
    this.denying = asking; // render tells it each list while its question is open
    const sent = await asking.answered;
    if (this.denying === asking) this.denying = null;
    this._keepFocus(asker);
    return sent;
  }

  /**
   * _keepFocus moves the keyboard focus off a button of the room that render hid: the
   * list that answers Deny all (or Admit all) hides the button the confirmation gave the
   * focus back to, and a browser would drop it to the top of the page. In the panel it
   * goes to what is left to do there (the other button, else closing the panel); on
   * the knock card to its Admit, or once the card is gone to the waiting-room button
   * (the meeting's main region where the role went with the card, _away):
   * from any of the card's buttons (View and the close button too, whose focus fell to
   * the page when the knock they showed was let in, denied or gone elsewhere).
   */
  _keepFocus(was) {
    if (!was) return;
    const usable = (b) => !b.hidden && !b.disabled;
    const admit = $('#knock-admit');
    if (was === this.admitAllBtn || was === this.denyAllBtn) {
      if (usable(was)) return;
      const other = was === this.admitAllBtn ? this.denyAllBtn : this.admitAllBtn;
      (usable(other) ? other : $('#waiting-close')).focus();
    } else if (this.card.contains(was)) {
      if (!this.card.hidden && usable(was)) return;
      (!this.card.hidden && usable(admit) ? admit : this._away())?.focus();
    }
  }

  /**
   * _keepEntryFocus gives the focus that a knock's Admit or Deny had to the same button
   * of the list drawn anew: render draws every entry again, at each knock and each
   * answer, and a browser dropped the focus of the button it took away to the top of the
   * page (a moderator who denied Dora with the keyboard began again at the page's first
   * control). The knock answered is gone: the next one's same button, else the one
   * before it, else what is left to do in the panel.
   */
  _keepEntryFocus({ participantId, action, index }) {
    const entries = this.listEl.children;
    const entry = [...entries].find((e) => e.dataset.participantId === participantId) ||
      entries[Math.min(index, entries.length - 1)];
    const usable = (b) => b && !b.hidden && !b.disabled;
    const target = [entry?.querySelector(action), this.admitAllBtn, this.denyAllBtn, $('#waiting-close')].find(usable);
    if (target && target !== document.activeElement) target.focus();
  }

  _tick() {
    const now = { mono: monotonicNow(), wall: Date.now() };
    for (const node of this.listEl.querySelectorAll('.waiting-since')) {
      this._since(node, now);
    }
  }

  _card() {
    const n = this.enabled ? this.list.length : 0;
    const show = n > 0 && !this.knockDismissed && !this.actions.isPanelOpen();
    this.card.hidden = !show;
    if (!show) return;
    // One knocker: the card's Admit is its entry's (admitButton), and says what the
    // waiting list says. A link wrong or still being checked (its knock proof not come
    // or not read yet; it may never come) is let in only by "Admit anyway", on the
    // card as in the list: the card held it back before while the list let it in, and
    // a knock whose proof never came could be admitted from the list alone.
    const wrong = n === 1 && this.list[0].link === 'wrong';
    const checking = n === 1 && this.list[0].link === 'checking';
    const knock = wrong ? 'e2ee14.knock.card-wrong' : checking ? 'e2ee14.knock.card-checking' : 'waiting.knock.one';
    // A long name is shown clipped (the card was a column of a 400-character name), read whole.
    if (n === 1) writeClipped($('#knock-text'), sentenceText(knock, this.list[0], t), sentenceText(knock, this.list[0], t, {}, clipName));
    else $('#knock-text').textContent = t('waiting.knock.many', { count: n });
    const plan = admitPlan(this.list);
    const one = n === 1 ? admitButton(this.list[0]) : null;
    const admit = $('#knock-admit');
    setText(admit, one ? one.text : admitAllLabel(plan));
    // One knocker: the name its entry's Admit has ("Admit anyway, although Kai's link is
    // not verified yet"), which a screen reader says of the card's button too. "Admit
    // all" names nobody: its text is its name.
    if (one) setAttr(admit, 'aria-label', ...buttonLabel(one.label, this.list[0]));
    else clearAttr(admit, 'aria-label');
    admit.disabled = n > 1 && plan.ids.length === 0;
    // Deny all where the card offers Admit all: for one knock, the card's Admit and the
    // entry's Deny are the choice.
    this.cardDenyAll.hidden = n < 2;
    // "Admit anyway" lets in someone whose link is not proven: a secondary button, as on
    // the entry, not the card's inviting default.
    const anyway = !!one && one.anyway;
    admit.classList.toggle('btn-primary', !anyway);
    admit.classList.toggle('btn-secondary', anyway);
    admit.classList.toggle('btn-admit-anyway', anyway);
  }
}

/**
 * entryPlace is where in the list of knocks (listEl) the focused element is, when it is
 * an entry's Admit or Deny: {participantId, action (its selector), index}; else null.
 */
function entryPlace(listEl, focused) {
  if (!focused || focused === listEl || !listEl.contains(focused)) return null;
  const entry = [...listEl.children].find((e) => e.contains(focused));
  if (!entry) return null;
  const action = focused.classList.contains('btn-admit') ? '.btn-admit' : '.btn-deny';
  return { participantId: entry.dataset.participantId, action, index: [...listEl.children].indexOf(entry) };
}
