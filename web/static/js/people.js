// The participants panel: everyone in the meeting with role, mic and camera state.
// A moderator gets a menu per participant (moderator.js builds its actions).
//
// Test hooks: .person[data-participant-id] (with .e2ee-unverified[data-participant-id]
// when the person's end-to-end encryption key did not verify); for moderators a button
// .participant-menu[data-participant-id] per other participant, which opens the
// menu .person-actions with the action buttons [data-action][data-participant-id].
//
// The menu button is a disclosure (aria-expanded, and aria-controls naming the open
// group's id): it shows a group of buttons reached with Tab, not an ARIA menu with
// arrow keys, so it does not say aria-haspopup (a screen reader then announced a menu
// and its arrow keys did nothing).
//
// Order (sortPeople): oneself first, then the moderators, then everyone else, each by
// display name in the page's language; never by who speaks.

import { el, initials, hueFor } from './dom.js';
import { icon } from './icons.js';
import { ROLE_LABELS, UNVERIFIED_TEXT } from './tile.js';
import { locale, t } from './i18n.js';
import { fillName, sentence, shownName } from './e2ee-names.js';

let openMenuFor = null; // the participant id whose menu is open, across re-renders
let collation = { tag: '', compare: null }; // the page's collator, made once per language

/**
 * sortPeople orders the people list: the own entry first (as Jitsi and BigBlueButton
 * do: one's own microphone and camera at a glance, never searched for among 100), then
 * the moderators, then everyone else, each group by display name in the collation of
 * the page's language (case and accents aside, "Zoë" with the Z's, "Anna 2" before
 * "Anna 10"). A name not known yet (an encrypted meeting's placeholder, or none) comes
 * after the names; equal names keep the order given (the order they joined). Nothing
 * here changes while people speak or turn their media on and off: the list holds
 * still under the pointer. One Intl.Collator for all comparisons keeps it cheap for a
 * meeting of hundreds (localeCompare would set one up for each).
 */
export function sortPeople(people, tag = locale()) {
  if (collation.tag !== tag || !collation.compare) {
    collation = { tag, compare: new Intl.Collator(tag, { sensitivity: 'base', numeric: true }).compare };
  }
  const { compare } = collation;
  const rank = (p) => (p.self ? 0 : p.role === 'moderator' ? 1 : 2);
  return people
    .map((p, i) => ({ p, i, rank: rank(p), unnamed: p.nameLabel || !p.name ? 1 : 0, name: p.name || '' }))
    .sort((a, b) => a.rank - b.rank || a.unnamed - b.unnamed || compare(a.name, b.name) || a.i - b.i)
    .map((x) => x.p);
}

/**
 * renderPeople fills the list from [{id, name, role, media, self}], in sortPeople's order.
 * opts.moderator shows the per-participant menus; opts.actions(person) returns
 * the menu's items [{action, label, danger?, disabled?, run()}].
 */
export function renderPeople(list, people, { moderator = false, actions = () => [] } = {}) {
  if (!moderator || !people.some((p) => p.id === openMenuFor && !p.self)) openMenuFor = null;
  const rerender = () => renderPeople(list, people, { moderator, actions });
  const focusMenuButton = (id) => {
    const btn = list.querySelector(`.participant-menu[data-participant-id="${CSS.escape(id)}"]`);
    if (btn) btn.focus();
  };
  const items = [];
  for (const p of sortPeople(people)) {
    const avatar = el('span', { class: 'avatar avatar-small', 'aria-hidden': 'true' },
      el('span', { class: 'avatar-initials', text: initials(p.name) }));
    avatar.style.setProperty('--avatar-hue', String(hueFor(p.id)));
    const media = p.media || {};
    const state = el('span', { class: 'person-media' },
      media.screen ? stateIcon('screen', 'people.sharing-screen', true) : null,
      stateIcon(media.mic ? 'mic' : 'mic-off', media.mic ? 'controls.mic.on' : 'controls.mic.off', media.mic),
      stateIcon(media.camera ? 'camera' : 'camera-off', media.camera ? 'controls.camera.on' : 'controls.camera.off', media.camera));
    const name = shownName(p, t);
    const roleText = ROLE_LABELS[p.role];
    const label = el('span', { class: 'person-label' },
      p.self ? el('span', { class: 'person-name', i18n: 'people.self', i18nParams: { name } })
        // A placeholder ("…" before an encrypted meeting's name came) is read out by its label.
        : fillName(el('span', { class: 'person-name' }), p, name),
      roleText ? el('span', { class: 'role-badge', dataset: { role: p.role }, i18n: roleText }) : null,
      p.e2ee === 'unverified'
        ? el('span', { class: 'e2ee-unverified person-warning', dataset: { participantId: p.id } }, icon('alert'), el('span', { i18n: UNVERIFIED_TEXT }))
        : null);
    const open = moderator && !p.self && openMenuFor === p.id;
    let menuBtn = null;
    if (moderator && !p.self) {
      const actionsFor = sentence('people.actions-for', p, t); // "Actions for this person" for a placeholder
      menuBtn = el('button', {
        type: 'button',
        class: 'icon-btn participant-menu',
        i18nAttr: { 'aria-label': actionsFor.key, title: 'people.more-actions' },
        i18nParams: actionsFor.params,
        'aria-expanded': open ? 'true' : 'false',
        ...(open ? { 'aria-controls': menuId(p.id) } : {}),
        dataset: { participantId: p.id },
        onclick: () => {
          openMenuFor = openMenuFor === p.id ? null : p.id;
          rerender();
          const first = list.querySelector('.person-actions button');
          if (openMenuFor && first) first.focus();
          else focusMenuButton(p.id);
        },
      }, icon('more'));
    }
    // The open group of actions is inside the person's row: as an item of the list
    // itself (an <li> that is a group) it made the list one of more items than people,
    // one of them no list item at all (a list holds list items only, WCAG 1.3.1).
    items.push(el('li', { class: `person${open ? ' person-open' : ''}`, dataset: { participantId: p.id } },
      avatar, label, state, menuBtn, open ? menu(p, actions(p), () => {
        openMenuFor = null;
        rerender();
        focusMenuButton(p.id);
      }) : null));
  }
  const focused = focusedControl(list);
  list.replaceChildren(...items);
  if (focused) refocus(list, focused);
}

/**
 * focusedControl names the control of list that has the keyboard focus, if any: the list
 * is drawn anew at every change of anyone's microphone, camera or role, and the element
 * that had the focus goes with it (the focus fell back to the page's start, and a
 * keyboard or screen-reader user lost their place in the middle of a menu). A row has
 * the focus only as refocus's stand-in for its person's buttons.
 */
function focusedControl(list) {
  const active = document.activeElement;
  if (!active || active === list || !list.contains(active)) return null;
  const row = active.tagName === 'LI' && active.classList.contains('person');
  if (active.tagName !== 'BUTTON' && !row) return null;
  return { participantId: active.dataset.participantId, action: active.dataset.action || '' };
}

/**
 * refocus gives the focus to the new control that stands for the one that had it. When
 * the person's buttons are gone, their row takes it, or the list when the row went too:
 * the list held while the page reconnects has no menus (held-roster.js), and the focus
 * on a moderator's menu button fell to the top of the page at the drop, where it stayed
 * after the resume. Held on the row, it goes back to the menu button once the list is
 * live again; on the list, it stays there (that person is no longer in the meeting).
 */
function refocus(list, { participantId, action }) {
  const buttons = Array.from(list.querySelectorAll('button')).filter((b) => b.dataset.participantId === participantId);
  const same = buttons.find((b) => (b.dataset.action || '') === action && !b.disabled);
  // A menu entry that turned disabled (or went with its menu): the person's menu button.
  const fallback = buttons.find((b) => b.classList.contains('participant-menu'));
  const row = list.querySelector(`.person[data-participant-id="${CSS.escape(participantId)}"]`);
  const target = same || fallback;
  if (target) target.focus();
  else focusInPassing(row || list);
}

/**
 * focusInPassing focuses node, which is no control, for as long as it has the focus: a
 * tabindex of -1 lets a script focus it, and goes with the focus, since on the list it
 * would take the list out of the tab order (a list longer than the panel scrolls, and a
 * scroller holding nothing focusable is a tab stop in Chromium and Firefox). Not at a
 * blur that leaves node the document's active element: the window lost the focus (the
 * person switched windows while the page reconnects) and gives it back to node, which
 * without its tabindex could not take it (Chromium moves the focus of an element that
 * can no longer be focused to the body, and the place was lost after all).
 */
function focusInPassing(node) {
  if (!node.hasAttribute('tabindex')) {
    node.setAttribute('tabindex', '-1');
    const gone = () => {
      if (document.activeElement === node) return;
      node.removeAttribute('tabindex');
      node.removeEventListener('blur', gone);
    };
    node.addEventListener('blur', gone);
  }
  node.focus();
}

/** closePeopleMenu forgets the open menu (the panel closed). */
export function closePeopleMenu() {
  openMenuFor = null;
}

/** menuId is the id of a person's open group of actions (the button's aria-controls). */
function menuId(participantId) {
  return `person-actions-${participantId}`;
}

function menu(person, entries, close) {
  const actionsFor = sentence('people.actions-for', person, t);
  const box = el('div', { class: 'person-actions', id: menuId(person.id), role: 'group', i18nAttr: { 'aria-label': actionsFor.key }, i18nParams: actionsFor.params });
  for (const entry of entries) {
    box.append(el('button', {
      type: 'button',
      class: `menu-item${entry.danger ? ' menu-item-danger' : ''}`,
      disabled: !!entry.disabled,
      dataset: { action: entry.action, participantId: person.id },
      onclick: () => {
        close();
        entry.run();
      },
      i18n: entry.label,
    }));
  }
  box.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.stopPropagation();
    close();
  });
  return box;
}

function stateIcon(name, label, on) {
  const span = el('span', { class: `person-icon${on ? '' : ' person-icon-off'}`, role: 'img', i18nAttr: { 'aria-label': label, title: label } });
  span.append(icon(name));
  return span;
}
