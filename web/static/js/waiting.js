// The waiting room as moderators see it: the people who knock, how long they
// have waited, Admit / Deny per person and Admit all; a count on the control
// bar, a small card when someone new knocks, and a screen-reader announcement.
//
// Test hooks: #btn-waiting (control bar, count in #waiting-badge), #waiting-list
// with .waiting-entry[data-participant-id] each holding .btn-admit and .btn-deny,
// #btn-admit-all.

import { $, el, announce, initials, hueFor } from './dom.js';

const TICK_MS = 5000;

/** waitedFor says how long someone has waited ("just now", "3 min", "1 h 5 min"). */
export function waitedFor(since, now = Date.now()) {
  const t = Date.parse(since);
  if (Number.isNaN(t)) return '';
  const mins = Math.floor(Math.max(0, now - t) / 60000);
  if (mins < 1) return 'just now';
  if (mins < 60) return `${mins} min`;
  const h = Math.floor(mins / 60);
  return mins % 60 ? `${h} h ${mins % 60} min` : `${h} h`;
}

export class WaitingRoom {
  /**
   * @param {{admit(id: string), deny(id: string), admitAll(), openPanel(), isPanelOpen(): boolean}} actions
   */
  constructor({ admit, deny, admitAll, openPanel, isPanelOpen }) {
    this.actions = { admit, deny, admitAll, openPanel, isPanelOpen };
    this.list = [];
    this.known = new Set(); // ids seen, to tell new knocks from old ones
    this.enabled = false;
    this.timer = 0;
    this.knockDismissed = false;

    this.listEl = $('#waiting-list');
    this.button = $('#btn-waiting');
    this.badge = $('#waiting-badge');
    this.admitAllBtn = $('#btn-admit-all');
    this.card = $('#knock-card');

    this.admitAllBtn.addEventListener('click', () => this.actions.admitAll());
    $('#knock-admit').addEventListener('click', () => {
      if (this.list.length === 1) this.actions.admit(this.list[0].participantId);
      else this.actions.admitAll();
    });
    $('#knock-view').addEventListener('click', () => this.actions.openPanel());
    $('#knock-close').addEventListener('click', () => {
      this.knockDismissed = true;
      this._card();
      this.button.focus();
    });
  }

  /** setEnabled shows the moderator's waiting-room controls, or hides and forgets them. */
  setEnabled(on) {
    this.enabled = on;
    this.button.hidden = !on;
    if (!on) {
      this.list = [];
      this.known.clear();
    }
    this.render();
  }

  /** update takes a `waiting_list`. */
  update(list) {
    if (!this.enabled) return; // a late list after losing the moderator role
    const fresh = list.filter((w) => !this.known.has(w.participantId));
    this.list = list;
    this.known = new Set(list.map((w) => w.participantId));
    if (fresh.length > 0) {
      this.knockDismissed = false;
      const text = fresh.length === 1
        ? `${fresh[0].name || 'Someone'} is waiting to join`
        : `${fresh.length} people are waiting to join`;
      announce(text);
      this.button.classList.remove('knock');
      void this.button.offsetWidth; // restart the animation
      this.button.classList.add('knock');
    }
    this.render();
  }

  /** render draws the list, the badge and the knock card. */
  render() {
    const n = this.enabled ? this.list.length : 0;
    this.badge.textContent = n > 99 ? '99+' : String(n);
    this.badge.hidden = n === 0;
    this.button.setAttribute('aria-label', n ? `Waiting room (${n} waiting)` : 'Waiting room');
    this.button.title = this.button.getAttribute('aria-label');
    $('#waiting-count').textContent = n ? `(${n})` : '';
    this.admitAllBtn.disabled = n === 0;
    this.admitAllBtn.hidden = n === 0;
    $('#waiting-empty').hidden = n > 0;

    const now = Date.now();
    this.listEl.replaceChildren(...(this.enabled ? this.list : []).map((w) => this._entry(w, now)));
    this._card();

    clearInterval(this.timer);
    this.timer = 0;
    if (n > 0) this.timer = setInterval(() => this._tick(), TICK_MS);
  }

  _entry(w, now) {
    const name = w.name || 'Guest';
    const avatar = el('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' },
      el('span', { class: 'avatar-initials', text: initials(name) }));
    avatar.style.setProperty('--avatar-hue', String(hueFor(w.participantId)));
    const since = el('span', { class: 'waiting-since', dataset: { since: w.since } }, this._sinceText(w.since, now));
    return el('li', { class: 'waiting-entry', dataset: { participantId: w.participantId } },
      avatar,
      el('span', { class: 'waiting-who' }, el('span', { class: 'waiting-name', text: name }), since),
      el('span', { class: 'waiting-actions' },
        el('button', {
          type: 'button', class: 'btn btn-small btn-secondary btn-deny', 'aria-label': `Deny ${name}`,
          onclick: () => this.actions.deny(w.participantId),
        }, 'Deny'),
        el('button', {
          type: 'button', class: 'btn btn-small btn-primary btn-admit', 'aria-label': `Admit ${name}`,
          onclick: () => this.actions.admit(w.participantId),
        }, 'Admit')));
  }

  _sinceText(since, now) {
    const t = waitedFor(since, now);
    return t === 'just now' ? 'Waiting just now' : t ? `Waiting ${t}` : 'Waiting';
  }

  _tick() {
    const now = Date.now();
    for (const node of this.listEl.querySelectorAll('.waiting-since')) {
      node.textContent = this._sinceText(node.dataset.since, now);
    }
  }

  _card() {
    const n = this.enabled ? this.list.length : 0;
    const show = n > 0 && !this.knockDismissed && !this.actions.isPanelOpen();
    this.card.hidden = !show;
    if (!show) return;
    $('#knock-text').textContent = n === 1
      ? `${this.list[0].name || 'Someone'} is waiting to join`
      : `${n} people are waiting to join`;
    $('#knock-admit').textContent = n === 1 ? 'Admit' : 'Admit all';
  }
}
