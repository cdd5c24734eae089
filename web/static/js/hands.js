// Raised hands. The server keeps the queue in the order hands went up (PROTOCOL.md
// "Hands and reactions"); this shows it: the own hand button on the control bar, a hand on
// the tile and in the people list of everyone whose hand is up, a chip with the count in
// the top bar, and in the people panel the queue in order, where moderators lower one
// hand or all of them.
//
// Test hooks: #btn-hand (aria-pressed="true" while the own hand is up); a camera tile
// of a raised hand holds .tile-hand; #hands-chip (hidden when no hand is up) with the
// count; #hands-list > .hand-entry[data-participant-id] in the order of raising, each
// with .btn-lower-hand for moderators; #btn-lower-all-hands (moderators).

import { $, el, toast, announce } from './dom.js';
import { t, setAttr, setText, onLanguageChange } from './i18n.js';
import { icon } from './icons.js';
import { fillName, sentence, sentenceText, shownName } from './e2ee-names.js';
import { validId } from './e2ee/keys.js';


export class Hands {
  /**
   * @param {{session: () => Session|null, send: (type, payload) => void,
   *          moderate: (type, payload) => void, openPeople: () => void}} deps
   */
  constructor(deps) {
    this.deps = deps;
    this.queue = []; // participant ids, first raised first
    this._build();
  }

  _build() {
    this.button = el('button', {
      id: 'btn-hand', type: 'button', class: 'ctrl ctrl-neutral ctrl-emoji', 'aria-pressed': 'false',
      i18nAttr: { 'aria-label': 'modctl.hands.raise', title: 'modctl.hands.raise' },
    }, icon('hand'));
    this.button.addEventListener('click', () => this.toggleOwn());
    $('#btn-leave').before(this.button);

    this.chip = el('button', {
      id: 'hands-chip', type: 'button', class: 'chip', hidden: true,
      i18nAttr: { title: 'modctl.hands.chip' },
    }, icon('hand'), el('span', { class: 'hands-chip-count', text: '0' }));
    this.chip.addEventListener('click', () => this.deps.openPeople());
    $('#btn-people').before(this.chip);

    this.list = el('ol', { id: 'hands-list', class: 'hands-list' });
    this.lowerAll = el('button', { id: 'btn-lower-all-hands', type: 'button', class: 'btn btn-small btn-secondary', i18n: 'modctl.hands.lowerAll', hidden: true });
    this.lowerAll.addEventListener('click', () => this.deps.moderate('lower_all_hands'));
    this.heading = el('h3', { class: 'hands-title', i18n: 'modctl.hands.title', i18nParams: { count: 0 } });
    this.section = el('section', { id: 'hands-section', class: 'hands-section', hidden: true },
      el('div', { class: 'hands-head' }, this.heading, this.lowerAll), this.list);
    $('#people-list').before(this.section);

    // Tiles and people-list rows come and go with the roster: decorate whatever is there.
    new MutationObserver(() => this._decorate()).observe($('#grid'), { childList: true, subtree: true });
    new MutationObserver(() => this.render()).observe($('#people-list'), { childList: true });
    onLanguageChange(() => this.render());
  }

  _live() {
    const s = this.deps.session();
    return s && s.joined && !s.ended ? s : null;
  }

  /** toggleOwn raises or lowers the own hand (the server's answer updates the button). */
  toggleOwn() {
    const s = this._live();
    if (!s) return;
    this.deps.send('raise_hand', { raised: !this.queue.includes(s.participantId) });
  }

  /** update takes a `hands` message. */
  update(p) {
    const s = this._live();
    if (!s) return;
    const before = this.queue;
    // A hand's id is checked as a member's is (keys.js, validId: at most the server's 64
    // bytes): only a lying server sends another, which is neither kept, drawn, announced
    // nor offered to a moderator to lower. A member has one hand: an id listed again
    // (only a lying server repeats one) keeps its first place and is shown once.
    this.queue = [...new Set((Array.isArray(p && p.hands) ? p.hands : [])
      .map((h) => h && h.participantId).filter(validId))];
    const self = s.participantId;
    const by = p && typeof p.by === 'string' ? p.by : '';
    if (before.includes(self) && !this.queue.includes(self) && by && by !== self) {
      toast(t('modctl.hands.loweredByModerator'));
    }
    for (const id of this.queue) {
      if (!before.includes(id) && id !== self && s.isModerator) {
        // Hands raised together (everyone asked to) are said as how many, not name by name.
        // Named as a sentence names a person: "Someone" for a placeholder name ("…"), a
        // member without one as the catalogue's A_GUEST wording has it (e2ee-names.js).
        // A hand lowered before it is said is not said (holds, asked when it is written).
        announce(sentenceText('modctl.hands.raisedBy', this._person(s, id), t), {
          kind: 'hand', many: (count) => t('modctl.hands.raisedMany', { count }), holds: () => this.queue.includes(id),
        });
      }
    }
    this.render();
  }

  /** reset forgets the queue (a new session). */
  reset() {
    this.queue = [];
    this.render();
  }

  /** _person is member id of session s ({name: ''} when it is not in the roster). */
  _person(s, id) {
    return s.everyone().find((x) => x.id === id) || { name: '' };
  }

  render() {
    const s = this._live();
    const queue = s ? this.queue : [];
    const self = s ? s.participantId : null;
    const up = !!self && queue.includes(self);
    this.button.setAttribute('aria-pressed', String(up));
    this.button.classList.toggle('active', up);
    // The name stays "Raise hand" and aria-pressed says the hand is up (WAI-ARIA APG,
    // toggle button: "Lower hand, pressed" said it twice); the tooltip says what a click does.
    const title = up ? 'modctl.hands.lower' : 'modctl.hands.raise';
    if (this.button.dataset.title !== title) {
      this.button.dataset.title = title;
      setAttr(this.button, 'title', title);
    }
    this.chip.hidden = queue.length === 0;
    this.chip.querySelector('.hands-chip-count').textContent = String(queue.length);
    setAttr(this.chip, 'aria-label', 'modctl.hands.chip.count', { count: queue.length });

    const mod = !!s && s.isModerator;
    this.section.hidden = queue.length === 0;
    this.lowerAll.hidden = !mod;
    setText(this.heading, 'modctl.hands.title', { count: queue.length });
    this.list.replaceChildren(...queue.map((id, i) => {
      const person = this._person(s, id);
      const name = id === self ? t('modctl.hands.you', { name: shownName(person, t) }) : shownName(person, t);
      let lower = null;
      if (mod) {
        // The entry shows a placeholder name ("…") as it is; its button says "Lower this
        // person's hand", and a moderator's own "Lower your hand" (not "Lower Mona (you)'s hand").
        const label = id === self ? { key: 'modctl.hands.lowerOne.label-self', params: {} }
          : sentence('modctl.hands.lowerOne.label', person, t);
        lower = el('button', {
          type: 'button', class: 'link-btn btn-lower-hand', dataset: { participantId: id },
          i18n: 'modctl.hands.lowerOne', i18nAttr: { 'aria-label': label.key }, i18nParams: label.params,
        });
        lower.addEventListener('click', () => this.deps.moderate('lower_hand', { participantId: id }));
      }
      return el('li', { class: 'hand-entry', dataset: { participantId: id } },
        el('span', { class: 'hand-pos', text: String(i + 1) }),
        fillName(el('span', { class: 'hand-name' }), person, name), lower);
    }));
    this._decorate();
    this._decoratePeople();
  }

  /** _decorate puts ✋ on the camera tile of every raised hand, and takes it off the others. */
  _decorate() {
    const raised = new Set(this._live() ? this.queue : []);
    for (const tile of document.querySelectorAll('#grid .tile[data-source="camera"]')) {
      const mark = tile.querySelector(':scope > .tile-hand');
      const want = raised.has(tile.dataset.participantId);
      if (want && !mark) {
        tile.append(el('span', { class: 'tile-hand', role: 'img', i18nAttr: { 'aria-label': 'modctl.hands.raised' } }, icon('hand', 'icon icon-inline')));
      } else if (!want && mark) {
        mark.remove();
      }
    }
  }

  _decoratePeople() {
    const raised = new Set(this._live() ? this.queue : []);
    for (const row of document.querySelectorAll('#people-list > .person')) {
      const mark = row.querySelector(':scope > .person-hand');
      const want = raised.has(row.dataset.participantId);
      if (want && !mark) {
        row.querySelector('.person-label')?.after(el('span', { class: 'person-hand', role: 'img', i18nAttr: { 'aria-label': 'modctl.hands.raised' } }, icon('hand', 'icon icon-inline')));
      } else if (!want && mark) {
        mark.remove();
      }
    }
  }
}
